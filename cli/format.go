package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
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

// listFormat is an ls command's output: the default table's columns, the
// column -q prints, and every field's title.
type listFormat struct {
	table, quiet string
	titles       listTitles
}

// listTitles is an ls table's header; Label "x" titles a label's column.
type listTitles map[string]string

func (listTitles) Label(name string) string { return strings.ToUpper(name) }

// printList prints an ls as docker does: lf's table, lf's quiet column
// with -q (unless --format says otherwise), json, or a template over the
// fields of the rows row makes.
func printList[T any](w io.Writer, format string, quiet bool, lf listFormat, list []T, row func(*T) any) error {
	switch {
	case (format == "" || format == "table") && quiet:
		format = lf.quiet
	case format == "" || format == "table":
		format = "table " + lf.table
	}
	p, err := newRowPrinter(format, "")
	if err != nil {
		return err
	}
	p.setOutput(w)
	if p.header {
		if err := p.row(lf.titles); err != nil {
			return err
		}
	}
	for i := range list {
		if err := p.row(row(&list[i])); err != nil {
			return err
		}
	}
	return p.flush()
}

// joinLabels is a Labels column: key=value, sorted (docker's order is a
// map's: any), comma-separated.
func joinLabels(labels map[string]string) string {
	l := make([]string, 0, len(labels))
	for k, v := range labels {
		l = append(l, k+"="+v)
	}
	sort.Strings(l)
	return strings.Join(l, ",")
}
