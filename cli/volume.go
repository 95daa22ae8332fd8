package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/volume"
	"github.com/spf13/cobra"
)

// volumeCmd is "volume" and its verbs, with docker 28's flags, requests,
// output and exit statuses, plus berth's export and import.
func volumeCmd(g *globals) *cobra.Command {
	noun := &cobra.Command{Use: "volume COMMAND", Short: "Manage volumes", RunE: nounHelp}
	noun.AddCommand(volumeCreateCmd(g), volumeLsCmd(g), volumeInspectCmd(g), volumeRmCmd(g),
		volumePruneCmd(g), volumeExportCmd(g), volumeImportCmd(g))
	return noun
}

// maxArgs is the docker CLI's cli.RequiresMaxArgs.
func maxArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) > n {
			return argsError(cmd, "requires at most "+plural(n, "argument"), "Run")
		}
		return nil
	}
}

// volumePath is /volumes/{name} and what follows.
func volumePath(name string, rest ...string) string {
	return "/volumes/" + url.PathEscape(name) + strings.Join(rest, "")
}

func volumeCreateCmd(g *globals) *cobra.Command {
	var (
		name, driver string
		driverOpts   mapOpts
		labels       = newListOpts(validateLabel)
	)
	cmd := &cobra.Command{
		Use:   "create [OPTIONS] [VOLUME]",
		Short: "Create a volume",
		Args:  maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				if name != "" {
					return errors.New("conflicting options: cannot specify a volume-name through both --name and as a positional arg")
				}
				name = args[0]
			}
			c, err := g.client(ctx(cmd))
			if err != nil {
				return err
			}
			req := volume.CreateRequest{Name: name, Driver: driver, DriverOpts: driverOpts.all(), Labels: kvMap(labels.values)}
			var v volume.Volume
			if err := c.do(ctx(cmd), "POST", "/volumes/create", nil, &req, &v); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), v.Name)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&driver, "driver", "d", "local", "Specify volume driver name")
	fl.StringVar(&name, "name", "", "Specify volume name")
	fl.Lookup("name").Hidden = true
	fl.VarP(&driverOpts, "opt", "o", "Set driver specific options")
	fl.Var(labels, "label", "Set metadata for a volume")
	return cmd
}

func volumeLsCmd(g *globals) *cobra.Command {
	var quiet bool
	var format string
	var filters filterOpts
	cmd := &cobra.Command{
		Use:     "ls [OPTIONS]",
		Aliases: []string{"list"},
		Short:   "List volumes",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client(ctx(cmd))
			if err != nil {
				return err
			}
			var resp volume.ListResponse
			if err := c.do(ctx(cmd), "GET", "/volumes", filters.query(), nil, &resp); err != nil {
				return err
			}
			sort.SliceStable(resp.Volumes, func(i, j int) bool { return naturalLess(resp.Volumes[i].Name, resp.Volumes[j].Name) })
			return printList(cmd.OutOrStdout(), format, quiet, volumeLs, resp.Volumes, func(v *volume.Volume) any { return &volumeRow{v} })
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&quiet, "quiet", "q", false, "Only display volume names")
	fl.StringVar(&format, "format", "", "Format output using a custom template: 'table', 'table TEMPLATE', 'json' or a Go template")
	fl.VarP(&filters, "filter", "f", `Provide filter values (e.g. "dangling=true")`)
	return cmd
}

// volumeLs is volume ls's output: docker's table (DRIVER, VOLUME NAME),
// the names alone with -q, or a template over volumeRow's fields.
var volumeLs = listFormat{table: "{{.Driver}}\t{{.Name}}", quiet: "{{.Name}}",
	titles: listTitles{"Name": "VOLUME NAME", "Driver": "DRIVER", "Scope": "SCOPE", "Mountpoint": "MOUNTPOINT",
		"Labels": "LABELS", "Links": "LINKS", "Size": "SIZE", "Group": "GROUP", "Availability": "AVAILABILITY", "Status": "STATUS"}}

// volumeRow is what volume ls --format templates see, as docker's volume
// context.
type volumeRow struct{ v *volume.Volume }

func (r *volumeRow) Name() string             { return r.v.Name }
func (r *volumeRow) Driver() string           { return r.v.Driver }
func (r *volumeRow) Scope() string            { return r.v.Scope }
func (r *volumeRow) Mountpoint() string       { return r.v.Mountpoint }
func (r *volumeRow) Labels() string           { return joinLabels(r.v.Labels) }
func (r *volumeRow) Label(name string) string { return r.v.Labels[name] }
func (r *volumeRow) Links() string {
	if r.v.UsageData == nil {
		return "N/A"
	}
	return strconv.FormatInt(r.v.UsageData.RefCount, 10)
}
func (r *volumeRow) Size() string {
	if r.v.UsageData == nil {
		return "N/A"
	}
	return units.HumanSize(float64(r.v.UsageData.Size))
}

// Group, Availability and Status are cluster volumes' (swarm), which
// berth has none of.
func (r *volumeRow) Group() string        { return "N/A" }
func (r *volumeRow) Availability() string { return "N/A" }
func (r *volumeRow) Status() string       { return "N/A" }

// MarshalJSON is volume ls --format json: the template fields by name.
func (r *volumeRow) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]string{"Name": r.Name(), "Driver": r.Driver(), "Scope": r.Scope(),
		"Mountpoint": r.Mountpoint(), "Labels": r.Labels(), "Links": r.Links(), "Size": r.Size(),
		"Group": r.Group(), "Availability": r.Availability(), "Status": r.Status()})
}

func volumeInspectCmd(g *globals) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] VOLUME [VOLUME...]",
		Short: "Display detailed information on one or more volumes",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client(ctx(cmd))
			if err != nil {
				return err
			}
			return inspectAll(cmd, format, args, func(name string) ([]byte, error) { return getBody(cmd, c, volumePath(name), nil) })
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "Format output using a custom template: 'json' or a Go template")
	return cmd
}

func volumeRmCmd(g *globals) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:     "rm [OPTIONS] VOLUME [VOLUME...]",
		Aliases: []string{"remove"},
		Short:   "Remove one or more volumes",
		Long:    "Remove one or more volumes. You cannot remove a volume that is in use by a container.",
		Args:    minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client(ctx(cmd))
			if err != nil {
				return err
			}
			q := url.Values{}
			if force {
				q.Set("force", "1")
			}
			return forEach(cmd, args, func(name string) error {
				return c.do(ctx(cmd), "DELETE", volumePath(name), q, nil, nil)
			})
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Force the removal of one or more volumes")
	return cmd
}

func volumePruneCmd(g *globals) *cobra.Command {
	var all, force bool
	var filters filterOpts
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove unused local volumes",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client(ctx(cmd))
			if err == nil {
				err = c.settle(ctx(cmd)) // what prune means depends on the daemon's API version
			}
			if err != nil {
				return err
			}
			warning := "WARNING! This will remove anonymous local volumes not used by at least one container."
			if versionLess(c.apiVersion(), "1.42") {
				// Older daemons prune named volumes too, and know no "all".
				warning = "WARNING! This will remove all local volumes not used by at least one container."
			} else if all {
				if _, ok := filters.values["all"]; ok {
					return errors.New("conflicting options: cannot specify both --all and --filter all=1")
				}
				if filters.values == nil {
					filters.values = map[string][]string{}
				}
				filters.values["all"] = []string{"true"}
				warning = "WARNING! This will remove all local volumes not used by at least one container."
			}
			if !force && !confirm(cmd.InOrStdin(), warning) {
				return nil // docker: "cancelled", silently, exit status 0
			}
			var rep volume.PruneReport
			if err := c.do(ctx(cmd), "POST", "/volumes/prune", filters.query(), nil, &rep); err != nil {
				return err
			}
			var reclaimed uint64 // as docker: 0B unless something was deleted
			if len(rep.VolumesDeleted) > 0 {
				reclaimed = rep.SpaceReclaimed
			}
			out := cmd.OutOrStdout()
			printDeleted(out, "Deleted Volumes:", rep.VolumesDeleted)
			fmt.Fprintln(out, "Total reclaimed space:", units.HumanSize(float64(reclaimed)))
			return nil
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&all, "all", "a", false, "Remove all unused volumes, not just anonymous ones")
	fl.BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation")
	fl.Var(&filters, "filter", `Provide filter values (e.g. "label=<label>")`)
	return cmd
}

// volumeExportCmd is berth's "volume export": the volume's content as a
// tar, byte for byte what "volume import" takes.
func volumeExportCmd(g *globals) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "export [OPTIONS] VOLUME",
		Short: "Export a volume's content as a tar archive (berth)",
		Long: "Export a volume's content as a tar archive, with owners, modes, times, xattrs, " +
			"links and device nodes, for \"volume import\" on this or another host.",
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return exportTo(cmd, g, volumePath(args[0], "/export"), output, "volume")
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "Write to a file, instead of STDOUT")
	return cmd
}

// volumeImportCmd is berth's "volume import": a tar (plain, gzip or zstd)
// into a volume, which the daemon creates if there is none of that name
// and which must be empty.
func volumeImportCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "import VOLUME FILE|-",
		Short: "Import a tar archive into an empty volume (berth)",
		Long: "Import a tar archive (plain, gzip or zstd; \"-\" reads STDIN) into a volume, " +
			"creating the volume if there is none of that name. The volume must be empty.",
		Args: exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			body := cmd.InOrStdin()
			if args[1] == "-" {
				if isTerminalReader(body) {
					return errors.New("requested import from STDIN, but STDIN is a terminal: redirect a file or name one")
				}
			} else {
				f, err := os.Open(args[1])
				if err != nil {
					return err
				}
				defer f.Close()
				body = f
			}
			c, err := g.client(ctx(cmd))
			if err != nil {
				return err
			}
			resp, err := c.sendRaw(ctx(cmd), "PUT", volumePath(args[0], "/import"), nil, body, "application/x-tar")
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			_, err = io.Copy(io.Discard, resp.Body)
			return err
		},
	}
	return cmd
}
