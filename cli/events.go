package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strings"
	"text/template"
	"time"

	"github.com/moby/moby/api/types/events"
	"github.com/spf13/cobra"
)

func eventsCmd(g *globals) *cobra.Command {
	var since, until, format string
	var filterArgs []string
	cmd := &cobra.Command{
		Use:   "events [OPTIONS]",
		Short: "Get real time events from the server",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var tmpl *template.Template
			if format != "" && format != "json" {
				t, err := template.New("").Funcs(templateFuncs).Parse(format)
				if err != nil {
					return fmt.Errorf("template parsing error: %w", err)
				}
				tmpl = t
			}
			now := time.Now()
			q := url.Values{}
			for flag, v := range map[string]string{"since": since, "until": until} {
				if v == "" {
					continue
				}
				ts, err := getTimestamp(v, now)
				if err != nil {
					return err
				}
				q.Set(flag, ts)
			}
			f, err := parseFilters(filterArgs)
			if err != nil {
				return err
			}
			if len(f) > 0 {
				q.Set("filters", encodeFilters(f))
			}
			c, err := g.client(ctx(cmd))
			if err != nil {
				return err
			}
			resp, err := c.send(ctx(cmd), "GET", "/events", q, nil)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			out := cmd.OutOrStdout()
			dec := json.NewDecoder(resp.Body)
			for {
				var m events.Message
				if err := dec.Decode(&m); err == io.EOF {
					return nil
				} else if err != nil {
					return err
				}
				switch {
				case format == "json":
					b, _ := json.Marshal(m)
					fmt.Fprintf(out, "%s\n", b)
				case tmpl != nil:
					if err := tmpl.Execute(out, m); err != nil {
						return err
					}
					fmt.Fprintln(out)
				default:
					fmt.Fprint(out, formatEvent(m))
				}
			}
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&since, "since", "", "Show all events created since timestamp")
	fl.StringVar(&until, "until", "", "Stream events until this timestamp")
	fl.StringArrayVarP(&filterArgs, "filter", "f", nil, "Filter output based on conditions provided")
	fl.StringVar(&format, "format", "", "Format output using a custom template: 'json' or a Go template")
	return cmd
}

// formatEvent is docker's event line: time, type, action, actor ID and
// its attributes sorted by key.
func formatEvent(m events.Message) string {
	var b strings.Builder
	if m.TimeNano != 0 {
		b.WriteString(time.Unix(0, m.TimeNano).Format("2006-01-02T15:04:05.000000000Z07:00") + " ")
	} else if m.Time != 0 {
		b.WriteString(time.Unix(m.Time, 0).Format("2006-01-02T15:04:05.000000000Z07:00") + " ")
	}
	fmt.Fprintf(&b, "%s %s %s", m.Type, m.Action, m.Actor.ID)
	if len(m.Actor.Attributes) > 0 {
		var keys []string
		for k := range m.Actor.Attributes {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var attrs []string
		for _, k := range keys {
			attrs = append(attrs, k+"="+m.Actor.Attributes[k])
		}
		fmt.Fprintf(&b, " (%s)", strings.Join(attrs, ", "))
	}
	b.WriteString("\n")
	return b.String()
}
