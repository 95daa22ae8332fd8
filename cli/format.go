package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"text/template"
	"time"

	"github.com/docker/go-units"
)

// humanSize is docker's size: decimal units, three significant digits
// ("4.26MB", "980kB").
func humanSize(n int64) string {
	abbrs := []string{"B", "kB", "MB", "GB", "TB", "PB"}
	f := float64(n)
	i := 0
	for f >= 1000 && i < len(abbrs)-1 {
		f /= 1000
		i++
	}
	s := fmt.Sprintf("%.3g", f)
	if strings.Contains(s, "e") {
		s = fmt.Sprintf("%.0f", f)
	}
	return s + abbrs[i]
}

// humanDuration is docker's "2 days", "About an hour", "3 weeks".
func humanDuration(d time.Duration) string { return units.HumanDuration(d) }

func ago(t time.Time) string { return humanDuration(time.Since(t)) + " ago" }

// rowPrinter prints rows with a docker-style --format: "" (the default
// table), "table TEMPLATE", "json", or a bare Go template (no header).
type rowPrinter struct {
	tmpl   *template.Template
	json   bool
	header bool
	tw     *tabwriter.Writer
	out    io.Writer
}

func newRowPrinter(format, defaultTable string) (*rowPrinter, error) {
	p := &rowPrinter{out: os.Stdout}
	switch {
	case format == "json":
		p.json = true
		return p, nil
	case format == "":
		format = "table " + defaultTable
	}
	if rest, ok := strings.CutPrefix(format, "table"); ok {
		p.header = true
		format = strings.TrimSpace(rest)
		p.tw = tabwriter.NewWriter(os.Stdout, 10, 1, 3, ' ', 0)
		p.out = p.tw
	}
	format = strings.ReplaceAll(format, `\t`, "\t")
	t, err := template.New("format").Funcs(template.FuncMap{
		"json":  func(v any) (string, error) { b, err := json.Marshal(v); return string(b), err },
		"upper": strings.ToUpper, "lower": strings.ToLower, "join": strings.Join,
		"truncate": func(s string, n int) string {
			if len(s) > n {
				return s[:n]
			}
			return s
		},
	}).Parse(format)
	if err != nil {
		return nil, fmt.Errorf("--format: %w", err)
	}
	p.tmpl = t
	return p, nil
}

// headerRow prints the table header from a map of field name to title.
func (p *rowPrinter) headerRow(titles map[string]string) error {
	if !p.header {
		return nil
	}
	return p.row(titles)
}

func (p *rowPrinter) row(v any) error {
	if p.json {
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(p.out, "%s\n", b)
		return err
	}
	if err := p.tmpl.Execute(p.out, v); err != nil {
		return fmt.Errorf("--format: %w", err)
	}
	_, err := fmt.Fprintln(p.out)
	return err
}

// setOutput sends the rows to w instead of stdout.
func (p *rowPrinter) setOutput(w io.Writer) {
	if p.tw != nil {
		p.tw = tabwriter.NewWriter(w, 10, 1, 3, ' ', 0)
		p.out = p.tw
		return
	}
	p.out = w
}

func (p *rowPrinter) flush() error {
	if p.tw != nil {
		return p.tw.Flush()
	}
	return nil
}
