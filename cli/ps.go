package cli

import (
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/moby/moby/api/types/container"
	"github.com/spf13/cobra"
)

func psCmd(g *globals) *cobra.Command {
	var all, quiet, noTrunc, latest, size bool
	var last int
	var format string
	var filterArgs []string
	cmd := &cobra.Command{
		Use:   "ps [OPTIONS]",
		Short: "List containers",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			q := url.Values{}
			if all {
				q.Set("all", "1")
			}
			limit := last
			if latest && last == -1 {
				limit = 1
			}
			if limit > 0 {
				q.Set("limit", strconv.Itoa(limit))
			}
			f, err := parseFilters(filterArgs)
			if err != nil {
				return err
			}
			if format != "" && !quiet && !size && !cmd.Flags().Changed("size") && strings.Contains(format, ".Size") {
				size = true
			}
			if size {
				q.Set("size", "1")
			}
			if len(f) > 0 {
				q.Set("filters", encodeFilters(f))
			}
			c, err := g.client(ctx(cmd))
			if err != nil {
				return err
			}
			var list []container.Summary
			if err := c.do(ctx(cmd), "GET", "/containers/json", q, nil, &list); err != nil {
				return err
			}
			switch {
			case quiet && format == "":
				format = "{{.ID}}"
			case format == "" || format == "table":
				format = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"
				if size {
					format += "\t{{.Size}}"
				}
			}
			p, err := newRowPrinter(format, "")
			if err != nil {
				return err
			}
			p.setOutput(cmd.OutOrStdout())
			if err := p.headerRow(containerTitles); err != nil {
				return err
			}
			for i := range list {
				if err := p.row(&psRow{c: &list[i], trunc: !noTrunc}); err != nil {
					return err
				}
			}
			return p.flush()
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&all, "all", "a", false, "Show all containers (default shows just running)")
	fl.BoolVarP(&quiet, "quiet", "q", false, "Only display container IDs")
	fl.BoolVar(&noTrunc, "no-trunc", false, "Don't truncate output")
	fl.BoolVarP(&latest, "latest", "l", false, "Show the latest created container (includes all states)")
	fl.IntVarP(&last, "last", "n", -1, "Show n last created containers (includes all states)")
	fl.BoolVarP(&size, "size", "s", false, "Display total file sizes")
	fl.StringVar(&format, "format", "", "Format output using a custom template: 'table', 'table TEMPLATE', 'json' or a Go template")
	fl.StringArrayVarP(&filterArgs, "filter", "f", nil, "Filter output based on conditions provided")
	return cmd
}

var containerTitles = map[string]string{"ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND",
	"CreatedAt": "CREATED AT", "RunningFor": "CREATED", "Ports": "PORTS", "State": "STATE", "Status": "STATUS",
	"Size": "SIZE", "Names": "NAMES", "Labels": "LABELS", "Mounts": "MOUNTS", "LocalVolumes": "LOCAL VOLUMES",
	"Networks": "NETWORKS", "Platform": "PLATFORM"}

// psRow is what ps --format templates see, as docker's container context.
type psRow struct {
	c     *container.Summary
	trunc bool
}

func (r *psRow) ID() string {
	if r.trunc {
		return shortID(r.c.ID, false)
	}
	return r.c.ID
}

func (r *psRow) Names() string {
	var names []string
	for _, n := range r.c.Names {
		names = append(names, strings.TrimPrefix(n, "/"))
	}
	if r.trunc {
		for _, n := range names {
			if !strings.Contains(n, "/") {
				return n
			}
		}
	}
	return strings.Join(names, ",")
}

func (r *psRow) Image() string {
	img := r.c.Image
	if img == "" {
		return "<no image>"
	}
	if r.trunc {
		if t := shortID(img, false); t == shortID(r.c.ImageID, false) {
			return t
		}
		if name, dg, ok := strings.Cut(img, "@"); ok && strings.HasPrefix(dg, "sha256:") {
			_ = dg
			return name
		}
	}
	return img
}

func (r *psRow) Command() string {
	cmd := r.c.Command
	if r.trunc {
		cmd = ellipsis(cmd, 20)
	}
	return strconv.Quote(cmd)
}

func (r *psRow) CreatedAt() string { return time.Unix(r.c.Created, 0).String() }
func (r *psRow) RunningFor() string {
	return humanDuration(time.Now().UTC().Sub(time.Unix(r.c.Created, 0))) + " ago"
}
func (r *psRow) Ports() string  { return displayablePorts(r.c.Ports) }
func (r *psRow) State() string  { return string(r.c.State) }
func (r *psRow) Status() string { return r.c.Status }
func (r *psRow) Size() string {
	srw := humanSize(r.c.SizeRw)
	if r.c.SizeRootFs > 0 {
		return fmt.Sprintf("%s (virtual %s)", srw, humanSize(r.c.SizeRootFs))
	}
	return srw
}
func (r *psRow) Labels() string           { return joinLabels(r.c.Labels) }
func (r *psRow) Label(name string) string { return r.c.Labels[name] }
func (r *psRow) Mounts() string {
	var m []string
	for _, mp := range r.c.Mounts {
		name := mp.Name
		if name == "" {
			name = mp.Source
		}
		if r.trunc {
			name = ellipsis(name, 15)
		}
		m = append(m, name)
	}
	return strings.Join(m, ",")
}
func (r *psRow) LocalVolumes() string {
	n := 0
	for _, mp := range r.c.Mounts {
		if mp.Driver == "local" {
			n++
		}
	}
	return strconv.Itoa(n)
}
func (r *psRow) Networks() string {
	if r.c.NetworkSettings == nil {
		return ""
	}
	var n []string
	for k := range r.c.NetworkSettings.Networks {
		n = append(n, k)
	}
	sort.Strings(n)
	return strings.Join(n, ",")
}
func (r *psRow) Platform() string { return "" }

// MarshalJSON is ps --format json: the template fields by name.
func (r *psRow) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]string{"Command": r.Command(), "CreatedAt": r.CreatedAt(), "ID": r.ID(),
		"Image": r.Image(), "Labels": r.Labels(), "LocalVolumes": r.LocalVolumes(), "Mounts": r.Mounts(),
		"Names": r.Names(), "Networks": r.Networks(), "Ports": r.Ports(), "RunningFor": r.RunningFor(),
		"Size": r.Size(), "State": r.State(), "Status": r.Status()})
}

// ellipsis truncates s to n runes, the last one "…", as docker's formatter.
func ellipsis(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// displayablePorts is docker's ports column: consecutive ports grouped
// ("80-81/tcp"), published ones as "0.0.0.0:8080->80/tcp".
func displayablePorts(ports []container.PortSummary) string {
	type group struct{ first, last uint16 }
	ports = append([]container.PortSummary(nil), ports...)
	sort.Slice(ports, func(i, j int) bool {
		a, b := ports[i], ports[j]
		if a.PrivatePort != b.PrivatePort {
			return a.PrivatePort < b.PrivatePort
		}
		if a.IP != b.IP {
			return a.IP.String() < b.IP.String()
		}
		if a.PublicPort != b.PublicPort {
			return a.PublicPort < b.PublicPort
		}
		return a.Type < b.Type
	})
	groups := map[string]*group{}
	var result, hostMappings, keys []string
	form := func(key string, start, last uint16) string {
		parts := strings.Split(key, "/")
		typ, ip := parts[0], ""
		if len(parts) > 1 {
			ip, typ = parts[0], parts[1]
		}
		s := strconv.Itoa(int(start))
		if start != last {
			s = fmt.Sprintf("%s-%d", s, last)
		}
		if ip != "" {
			s = fmt.Sprintf("%s:%s->%s", ip, s, s)
		}
		return s + "/" + typ
	}
	for _, p := range ports {
		cur := p.PrivatePort
		key := p.Type
		if p.IP.IsValid() {
			if p.PublicPort != cur {
				hostMappings = append(hostMappings, fmt.Sprintf("%s->%d/%s",
					net.JoinHostPort(p.IP.String(), strconv.Itoa(int(p.PublicPort))), p.PrivatePort, p.Type))
				continue
			}
			key = p.IP.String() + "/" + p.Type
		}
		gr := groups[key]
		if gr == nil {
			groups[key] = &group{cur, cur}
			keys = append(keys, key)
			continue
		}
		if cur == gr.last+1 {
			gr.last = cur
			continue
		}
		result = append(result, form(key, gr.first, gr.last))
		groups[key] = &group{cur, cur}
	}
	for _, k := range keys {
		result = append(result, form(k, groups[k].first, groups[k].last))
	}
	return strings.Join(append(result, hostMappings...), ", ")
}

// encodeFilters is the filters query parameter as the docker CLI sends it:
// {"name":{"value":true}}.
func encodeFilters(f map[string][]string) string {
	m := map[string]map[string]bool{}
	for k, vs := range f {
		m[k] = map[string]bool{}
		for _, v := range vs {
			m[k][v] = true
		}
	}
	b, _ := json.Marshal(m)
	return string(b)
}
