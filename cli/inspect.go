package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"text/template"

	"github.com/spf13/cobra"
)

// inspector prints what "inspect" gets from the daemon: the raw JSON (in
// the daemon's field order) as an indented array, or each object through a
// --format template, as docker's inspect.
type inspector struct {
	format string
	raws   [][]byte
	out    io.Writer
	tmpl   *template.Template
}

func newInspector(out io.Writer, format string) (*inspector, error) {
	in := &inspector{format: format, out: out}
	if format != "" && format != "json" {
		t, err := template.New("").Funcs(templateFuncs).Parse(format)
		if err != nil {
			return nil, fmt.Errorf("template parsing error: %w", err)
		}
		in.tmpl = t
	}
	return in, nil
}

func (in *inspector) add(raw []byte) error {
	if in.tmpl == nil {
		in.raws = append(in.raws, raw)
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := in.tmpl.Execute(&buf, v); err != nil {
		return fmt.Errorf("template parsing error: %w", err)
	}
	buf.WriteByte('\n')
	_, err := in.out.Write(buf.Bytes())
	return err
}

func (in *inspector) flush() error {
	if in.tmpl != nil {
		return nil
	}
	if len(in.raws) == 0 {
		_, err := io.WriteString(in.out, "[]\n")
		return err
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, append(append([]byte("["), bytes.Join(in.raws, []byte(","))...), ']'), "", "    "); err != nil {
		return err
	}
	buf.WriteByte('\n')
	_, err := in.out.Write(buf.Bytes())
	return err
}

// templateFuncs are the functions docker's --format templates have.
var templateFuncs = template.FuncMap{
	"json": func(v any) (string, error) {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			return "", err
		}
		return strings.TrimSpace(buf.String()), nil
	},
	"split": strings.Split, "join": strings.Join, "title": strings.ToTitle,
	"lower": strings.ToLower, "upper": strings.ToUpper,
	"pad": func(s string, pre, post int) string {
		return strings.Repeat(" ", pre) + s + strings.Repeat(" ", post)
	},
	"truncate": func(s string, n int) string {
		if len(s) > n {
			return s[:n]
		}
		return s
	},
	"println": fmt.Sprintln,
}

// getBody GETs path and returns the body (the raw JSON of an inspect).
func getBody(cmd *cobra.Command, c *apiClient, path string, q url.Values) ([]byte, error) {
	resp, err := c.send(ctx(cmd), "GET", path, q, nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}

// getRaw is getBody, or (nil, nil) on 404.
func getRaw(cmd *cobra.Command, c *apiClient, path string, q url.Values) ([]byte, error) {
	raw, err := getBody(cmd, c, path, q)
	var ae *apiError
	if errors.As(err, &ae) && ae.Status == 404 {
		return nil, nil
	}
	return raw, err
}

// inspectAll is network and volume inspect: the raw JSON get returns for
// each name, through an inspector for format (format "json": one compact
// array line, as docker), then the errors of the names it could not get.
func inspectAll(cmd *cobra.Command, format string, names []string, get func(string) ([]byte, error)) error {
	in, err := newInspector(cmd.OutOrStdout(), format)
	if err != nil {
		return &statusError{Code: 64, Status: err.Error()} // as docker
	}
	compact := format == "json"
	var errs []string
	for _, name := range names {
		raw, err := get(name)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		if compact {
			var buf bytes.Buffer
			if err := json.Compact(&buf, raw); err != nil {
				return err
			}
			raw = buf.Bytes()
		}
		if err := in.add(raw); err != nil {
			return err
		}
	}
	if compact {
		fmt.Fprintf(cmd.OutOrStdout(), "[%s]\n", bytes.Join(in.raws, []byte(",")))
	} else if err := in.flush(); err != nil {
		return err
	}
	return errorList(errs)
}

func inspectContainerCmd(g *globals) *cobra.Command {
	return inspectObjectsCmd(g, "inspect [OPTIONS] CONTAINER [CONTAINER...]", "Display detailed information on one or more containers", "container", false)
}

// inspectCmd is the top-level inspect: a container by that name first,
// then an image, as docker inspect (--type picks one).
func inspectCmd(g *globals) *cobra.Command {
	return inspectObjectsCmd(g, "inspect [OPTIONS] NAME|ID [NAME|ID...]", "Return low-level information on Docker objects", "", true)
}

func inspectObjectsCmd(g *globals, use, short, kind string, typeFlag bool) *cobra.Command {
	var format, typ string
	var size bool
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			t := kind
			if typeFlag {
				t = typ
				switch t {
				case "", "container", "image", "network", "volume":
				default:
					return fmt.Errorf("%q is not a valid value for --type", t)
				}
			}
			c, err := g.client(ctx(cmd))
			if err != nil {
				return err
			}
			in, err := newInspector(cmd.OutOrStdout(), format)
			if err != nil {
				return err
			}
			var errs []string
			for _, name := range args {
				raw, err := inspectRaw(cmd, c, name, t, size)
				if err != nil {
					errs = append(errs, err.Error())
					continue
				}
				if err := in.add(raw); err != nil {
					return err
				}
			}
			if err := in.flush(); err != nil {
				return err
			}
			return errorList(errs)
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "Format output using a custom template: 'json' or a Go template")
	cmd.Flags().BoolVarP(&size, "size", "s", false, "Display total file sizes")
	if typeFlag {
		cmd.Flags().StringVar(&typ, "type", "", "Only inspect objects of the given type")
	}
	return cmd
}

// inspectRaw gets one object's JSON: of the given type (the daemon's
// error if it is missing), or the first of container, image, network,
// volume and plugin with that name, as docker inspect looks them up.
func inspectRaw(cmd *cobra.Command, c *apiClient, name, typ string, size bool) ([]byte, error) {
	q := url.Values{}
	if size {
		q.Set("size", "1")
	}
	paths := map[string]string{"container": "/containers/" + name + "/json", "image": "/images/" + name + "/json",
		"network": "/networks/" + name, "volume": "/volumes/" + name}
	if typ != "" {
		return getBody(cmd, c, paths[typ], q)
	}
	for _, p := range []string{paths["container"], paths["image"], "/networks/" + name, "/volumes/" + name, "/info", "/plugins/" + name + "/json"} {
		qp := url.Values{}
		if p == paths["container"] {
			qp = q
		}
		raw, err := getRaw(cmd, c, p, qp)
		if err != nil {
			return nil, err
		}
		if raw != nil && p != "/info" {
			return raw, nil
		}
	}
	return nil, fmt.Errorf("Error: No such object: %s", name)
}
