package cli

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/moby/moby/api/types/image"
	"github.com/spf13/cobra"
)

// imageRow is what "images --format" templates see, as in docker.
type imageRow struct {
	ID, Repository, Tag, Digest, CreatedSince, CreatedAt, Size string
	Containers                                                 string
}

var imageTitles = map[string]string{"ID": "IMAGE ID", "Repository": "REPOSITORY", "Tag": "TAG", "Digest": "DIGEST",
	"CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "Size": "SIZE", "Containers": "CONTAINERS"}

func imageCmds(g *globals) (top []*cobra.Command, noun *cobra.Command) {
	noun = &cobra.Command{Use: "image", Short: "Manage images"}
	ls := imagesCmd(g)
	ls.Use, ls.Aliases = "ls [flags] [REPOSITORY[:TAG]]", []string{"list"}
	noun.AddCommand(ls, inspectImageCmd(g), historyCmd(g), tagCmd(g), rmiCmd(g, "rm"), imagePruneCmd(g), importCmd(g), loadCmd(g), saveCmd(g))
	return []*cobra.Command{imagesCmd(g), historyCmd(g), tagCmd(g), rmiCmd(g, "rmi"), importCmd(g), loadCmd(g), saveCmd(g)}, noun
}

func imagesCmd(g *globals) *cobra.Command {
	var all, quiet, digests, noTrunc bool
	var format string
	var filterArgs []string
	cmd := &cobra.Command{
		Use:   "images [flags] [REPOSITORY[:TAG]]",
		Short: "List images",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client(ctx(cmd))
			if err != nil {
				return err
			}
			q := url.Values{}
			f, err := parseFilters(filterArgs)
			if err != nil {
				return err
			}
			if len(args) == 1 {
				f["reference"] = append(f["reference"], args[0])
			}
			if len(f) > 0 {
				b, _ := json.Marshal(f)
				q.Set("filters", string(b))
			}
			if all {
				q.Set("all", "1")
			}
			var list []image.Summary
			if err := c.do(ctx(cmd), "GET", "/images/json", q, nil, &list); err != nil {
				return err
			}
			if quiet {
				seen := map[string]bool{}
				for _, im := range list {
					id := shortID(im.ID, noTrunc)
					if !seen[id] {
						seen[id] = true
						fmt.Println(id)
					}
				}
				return nil
			}
			def := "{{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
			if digests {
				def = "{{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
			}
			p, err := newRowPrinter(format, def)
			if err != nil {
				return err
			}
			if err := p.headerRow(imageTitles); err != nil {
				return err
			}
			for _, im := range list {
				for _, row := range imageRows(im, noTrunc) {
					if err := p.row(row); err != nil {
						return err
					}
				}
			}
			return p.flush()
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&all, "all", "a", false, "show all images (default hides intermediate images)")
	fl.BoolVarP(&quiet, "quiet", "q", false, "only show image IDs")
	fl.BoolVar(&digests, "digests", false, "show digests")
	fl.BoolVar(&noTrunc, "no-trunc", false, "do not truncate output")
	fl.StringVar(&format, "format", "", "format output: 'table', 'table TEMPLATE', 'json' or a Go template")
	fl.StringArrayVarP(&filterArgs, "filter", "f", nil, "filter output (dangling=true, label=k=v, reference=pattern, before=, since=, until=)")
	return cmd
}

// imageRows is one row per tag (or one <none> row), as docker images.
func imageRows(im image.Summary, noTrunc bool) []imageRow {
	base := imageRow{ID: shortID(im.ID, noTrunc), CreatedSince: ago(time.Unix(im.Created, 0)),
		CreatedAt: time.Unix(im.Created, 0).Format("2006-01-02 15:04:05 -0700 MST"), Size: humanSize(im.Size),
		Repository: "<none>", Tag: "<none>", Digest: "<none>", Containers: "N/A"}
	digestOf := map[string]string{}
	for _, d := range im.RepoDigests {
		if repo, dg, ok := strings.Cut(d, "@"); ok {
			digestOf[repo] = dg
		}
	}
	if len(im.RepoTags) == 0 {
		for repo, dg := range digestOf {
			r := base
			r.Repository, r.Digest = repo, dg
			return []imageRow{r}
		}
		return []imageRow{base}
	}
	var rows []imageRow
	for _, t := range im.RepoTags {
		r := base
		i := strings.LastIndexByte(t, ':')
		r.Repository, r.Tag = t[:i], t[i+1:]
		if dg, ok := digestOf[r.Repository]; ok {
			r.Digest = dg
		}
		rows = append(rows, r)
	}
	return rows
}

func shortID(id string, noTrunc bool) string {
	if noTrunc {
		return id
	}
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// parseFilters turns --filter k=v flags into the API's filters map.
func parseFilters(args []string) (map[string][]string, error) {
	out := map[string][]string{}
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("bad format of filter (expected name=value): %s", a)
		}
		out[strings.ToLower(k)] = append(out[strings.ToLower(k)], v)
	}
	return out, nil
}

func inspectImageCmd(g *globals) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "inspect [flags] IMAGE [IMAGE...]",
		Short: "Show detailed information on images",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client(ctx(cmd))
			if err != nil {
				return err
			}
			var out []any
			var failed error
			for _, name := range args {
				var raw json.RawMessage
				if err := c.do(ctx(cmd), "GET", "/images/"+name+"/json", nil, nil, &raw); err != nil {
					fmt.Fprintln(os.Stderr, err)
					failed = errSilent
					continue
				}
				var v any
				_ = json.Unmarshal(raw, &v)
				out = append(out, v)
			}
			if format != "" {
				for _, v := range out {
					if err := execTemplate(format, v); err != nil {
						return err
					}
				}
				return failed
			}
			if out == nil {
				out = []any{}
			}
			b, _ := json.MarshalIndent(out, "", "    ")
			fmt.Println(string(b))
			return failed
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "format output with a Go template")
	return cmd
}

func historyCmd(g *globals) *cobra.Command {
	var quiet, noTrunc, human bool
	var format string
	cmd := &cobra.Command{
		Use:   "history [flags] IMAGE",
		Short: "Show the history of an image",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client(ctx(cmd))
			if err != nil {
				return err
			}
			var hist []image.HistoryResponseItem
			if err := c.do(ctx(cmd), "GET", "/images/"+args[0]+"/history", nil, nil, &hist); err != nil {
				return err
			}
			if quiet {
				for _, h := range hist {
					fmt.Println(shortID(h.ID, noTrunc))
				}
				return nil
			}
			p, err := newRowPrinter(format, "{{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}")
			if err != nil {
				return err
			}
			if err := p.headerRow(map[string]string{"ID": "IMAGE", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "CreatedBy": "CREATED BY", "Size": "SIZE", "Comment": "COMMENT"}); err != nil {
				return err
			}
			for _, h := range hist {
				id := h.ID
				if id != "<missing>" {
					id = shortID(id, noTrunc)
				}
				by := h.CreatedBy
				if !noTrunc && len(by) > 45 {
					by = by[:44] + "…"
				}
				size := humanSize(h.Size)
				created := ago(time.Unix(h.Created, 0))
				if !human {
					size = fmt.Sprint(h.Size)
					created = time.Unix(h.Created, 0).Format(time.RFC3339)
				}
				row := map[string]string{"ID": id, "CreatedSince": created, "CreatedAt": time.Unix(h.Created, 0).Format(time.RFC3339), "CreatedBy": by, "Size": size, "Comment": h.Comment}
				if err := p.row(row); err != nil {
					return err
				}
			}
			return p.flush()
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&quiet, "quiet", "q", false, "only show image IDs")
	fl.BoolVar(&noTrunc, "no-trunc", false, "do not truncate output")
	fl.BoolVarP(&human, "human", "H", true, "print sizes and dates in human readable format")
	fl.StringVar(&format, "format", "", "format output: 'table TEMPLATE', 'json' or a Go template")
	return cmd
}

func tagCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]",
		Short: "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client(ctx(cmd))
			if err != nil {
				return err
			}
			repo, tag := args[1], ""
			if i := strings.LastIndexByte(repo, ':'); i > strings.LastIndexByte(repo, '/') {
				repo, tag = repo[:i], repo[i+1:]
			}
			q := url.Values{"repo": {repo}}
			if tag != "" {
				q.Set("tag", tag)
			}
			return c.do(ctx(cmd), "POST", "/images/"+args[0]+"/tag", q, nil, nil)
		},
	}
}

func rmiCmd(g *globals, use string) *cobra.Command {
	var force, noPrune bool
	cmd := &cobra.Command{
		Use:   use + " [flags] IMAGE [IMAGE...]",
		Short: "Remove one or more images",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client(ctx(cmd))
			if err != nil {
				return err
			}
			var failed error
			for _, name := range args {
				q := url.Values{}
				if force {
					q.Set("force", "1")
				}
				if noPrune {
					q.Set("noprune", "1")
				}
				var items []image.DeleteResponse
				if err := c.do(ctx(cmd), "DELETE", "/images/"+name, q, nil, &items); err != nil {
					fmt.Fprintln(os.Stderr, err)
					failed = errSilent
					continue
				}
				for _, it := range items {
					if it.Untagged != "" {
						fmt.Println("Untagged:", it.Untagged)
					}
					if it.Deleted != "" {
						fmt.Println("Deleted:", it.Deleted)
					}
				}
			}
			return failed
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "force removal of the image")
	cmd.Flags().BoolVar(&noPrune, "no-prune", false, "do not delete untagged parents")
	return cmd
}

func imagePruneCmd(g *globals) *cobra.Command {
	var all, force bool
	cmd := &cobra.Command{
		Use:   "prune [flags]",
		Short: "Remove unused images",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			warning := "WARNING! This will remove all dangling images."
			if all {
				warning = "WARNING! This will remove all images without at least one container associated to them."
			}
			if !force && !confirm(cmd.InOrStdin(), warning) {
				return nil
			}
			c, err := g.client(ctx(cmd))
			if err != nil {
				return err
			}
			q := url.Values{}
			if all {
				q.Set("filters", `{"dangling":["false"]}`)
			}
			var rep image.PruneReport
			if err := c.do(ctx(cmd), "POST", "/images/prune", q, nil, &rep); err != nil {
				return err
			}
			if len(rep.ImagesDeleted) > 0 {
				fmt.Println("Deleted Images:")
				for _, it := range rep.ImagesDeleted {
					if it.Untagged != "" {
						fmt.Println("untagged:", it.Untagged)
					}
					if it.Deleted != "" {
						fmt.Println("deleted:", it.Deleted)
					}
				}
				fmt.Println()
			}
			fmt.Printf("Total reclaimed space: %s\n", humanSize(int64(rep.SpaceReclaimed)))
			return nil
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "remove all unused images, not just dangling ones")
	cmd.Flags().BoolVarP(&force, "force", "f", false, "do not prompt for confirmation")
	return cmd
}

// confirm asks "[y/N]" on the terminal, as docker's prune commands.
func confirm(in io.Reader, warning string) bool {
	fmt.Printf("%s\nAre you sure you want to continue? [y/N] ", warning)
	line, _ := bufio.NewReader(in).ReadString('\n')
	line = strings.TrimSpace(strings.ToLower(line))
	return line == "y" || line == "yes"
}

// printDeleted is a prune's list of what it removed, under title and
// followed by a blank line; nothing if it removed nothing.
func printDeleted(w io.Writer, title string, names []string) {
	if len(names) == 0 {
		return
	}
	fmt.Fprintln(w, title)
	for _, n := range names {
		fmt.Fprintln(w, n)
	}
	fmt.Fprintln(w)
}

func importCmd(g *globals) *cobra.Command {
	var changes []string
	var message string
	cmd := &cobra.Command{
		Use:   "import [flags] file|- [REPOSITORY[:TAG]]",
		Short: "Import the contents from a tarball to create a filesystem image",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client(ctx(cmd))
			if err != nil {
				return err
			}
			var body io.Reader = os.Stdin
			if args[0] != "-" {
				f, err := os.Open(args[0])
				if err != nil {
					return err
				}
				defer f.Close()
				body = f
			}
			q := url.Values{"fromSrc": {"-"}, "message": {message}}
			if len(args) == 2 {
				q.Set("repo", args[1])
			}
			for _, ch := range changes {
				q.Add("changes", ch)
			}
			resp, err := c.sendRaw(ctx(cmd), "POST", "/images/create", q, body, "application/x-tar")
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			var st struct{ Status, Error string }
			if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
				return fmt.Errorf("import: %w", err)
			}
			if st.Error != "" {
				return fmt.Errorf("%s", st.Error)
			}
			fmt.Println(st.Status)
			return nil
		},
	}
	cmd.Flags().StringArrayVarP(&changes, "change", "c", nil, "apply a Dockerfile instruction to the created image (CMD, ENTRYPOINT, ENV, ...)")
	cmd.Flags().StringVarP(&message, "message", "m", "", "set a commit message for the imported image")
	return cmd
}

func loadCmd(g *globals) *cobra.Command {
	var input string
	var quiet bool
	cmd := &cobra.Command{
		Use:   "load [flags]",
		Short: "Load an image from a tar archive or STDIN",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var body io.Reader = os.Stdin
			if input != "" {
				f, err := os.Open(input)
				if err != nil {
					return err
				}
				defer f.Close()
				body = f
			} else if isTerminal(os.Stdin) {
				return fmt.Errorf("requested load from stdin, but stdin is empty: use -i FILE or redirect a file")
			}
			c, err := g.client(ctx(cmd))
			if err != nil {
				return err
			}
			q := url.Values{}
			if quiet {
				q.Set("quiet", "1")
			}
			resp, err := c.sendRaw(ctx(cmd), "POST", "/images/load", q, body, "application/x-tar")
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			dec := json.NewDecoder(resp.Body)
			for {
				var m struct{ Stream, Error string }
				if err := dec.Decode(&m); err == io.EOF {
					return nil
				} else if err != nil {
					return fmt.Errorf("load: %w", err)
				}
				if m.Error != "" {
					return fmt.Errorf("%s", m.Error)
				}
				if !quiet || strings.HasPrefix(m.Stream, "Loaded") {
					fmt.Print(m.Stream)
				}
			}
		},
	}
	cmd.Flags().StringVarP(&input, "input", "i", "", "read from a tar archive file, instead of STDIN")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "suppress the load output")
	return cmd
}

func saveCmd(g *globals) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "save [flags] IMAGE [IMAGE...]",
		Short: "Save one or more images to a tar archive (streamed to STDOUT by default)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if output == "" && isTerminal(os.Stdout) {
				return fmt.Errorf("cowardly refusing to save to a terminal. Use the -o flag or redirect")
			}
			c, err := g.client(ctx(cmd))
			if err != nil {
				return err
			}
			resp, err := c.sendRaw(ctx(cmd), "GET", "/images/get", url.Values{"names": args}, nil, "")
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			if output == "" {
				_, err = io.Copy(os.Stdout, resp.Body)
				return err
			}
			// Written beside the target and renamed: a failed save leaves no
			// truncated archive under the requested name.
			tmp, err := os.CreateTemp(filepath.Dir(output), "."+filepath.Base(output)+".tmp*")
			if err != nil {
				return err
			}
			defer os.Remove(tmp.Name())
			if _, err := io.Copy(tmp, resp.Body); err != nil {
				tmp.Close()
				return fmt.Errorf("save: %w", err)
			}
			if err := tmp.Close(); err != nil {
				return err
			}
			if err := os.Chmod(tmp.Name(), 0o644); err != nil {
				return err
			}
			return os.Rename(tmp.Name(), output)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "write to a file, instead of STDOUT")
	return cmd
}

func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
