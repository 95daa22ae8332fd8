package cli

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/reference"
)

func topCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "top CONTAINER [ps OPTIONS]",
		Short: "Display the running processes of a container",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client(ctx(cmd))
			if err != nil {
				return err
			}
			q := url.Values{}
			if len(args) > 1 {
				q.Set("ps_args", strings.Join(args[1:], " "))
			}
			var top container.TopResponse
			if err := c.do(ctx(cmd), "GET", "/containers/"+args[0]+"/top", q, nil, &top); err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 20, 1, 3, ' ', 0)
			fmt.Fprintln(w, strings.Join(top.Titles, "\t"))
			for _, p := range top.Processes {
				fmt.Fprintln(w, strings.Join(p, "\t"))
			}
			return w.Flush()
		},
	}
	cmd.Flags().SetInterspersed(false)
	return cmd
}

func portCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "port CONTAINER [PRIVATE_PORT[/PROTO]]",
		Short: "List port mappings or a specific mapping for the container",
		Args:  rangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client(ctx(cmd))
			if err != nil {
				return err
			}
			ir, err := inspectContainer(ctx(cmd), c, args[0])
			if err != nil {
				return err
			}
			var ports network.PortMap
			if ir.NetworkSettings != nil {
				ports = ir.NetworkSettings.Ports
			}
			fmtBinding := func(b network.PortBinding) string {
				ip := ""
				if b.HostIP.IsValid() {
					ip = b.HostIP.String()
				}
				return net.JoinHostPort(ip, b.HostPort)
			}
			out := cmd.OutOrStdout()
			if len(args) == 2 {
				port, proto, _ := strings.Cut(args[1], "/")
				if proto == "" {
					proto = "tcp"
				}
				n, err := strconv.ParseUint(port, 10, 16)
				if err != nil {
					return fmt.Errorf("Error: invalid port (%s): %w", port, err)
				}
				p, ok := network.PortFrom(uint16(n), network.IPProtocol(proto))
				if !ok {
					return fmt.Errorf("Error: invalid port (%s)", args[1])
				}
				if bs, ok := ports[p]; ok && len(bs) > 0 {
					for _, b := range bs {
						fmt.Fprintln(out, fmtBinding(b))
					}
					return nil
				}
				return fmt.Errorf("Error: No public port '%s' published for %s", args[1], args[0])
			}
			var lines []string
			for p, bs := range ports {
				for _, b := range bs {
					lines = append(lines, fmt.Sprintf("%s -> %s", p, fmtBinding(b)))
				}
			}
			sort.Strings(lines)
			for _, l := range lines {
				fmt.Fprintln(out, l)
			}
			return nil
		},
	}
}

func updateCmd(g *globals) *cobra.Command {
	var blkioWeight uint16
	var cpuPeriod, cpuQuota, cpuRtPeriod, cpuRtRuntime, cpuShares, pidsLimit int64
	var cpus nanoCPUs
	var cpusetCpus, cpusetMems, restart string
	var memory, memoryReservation memBytes
	var memorySwap memSwapBytes
	cmd := &cobra.Command{
		Use:   "update [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Update configuration of one or more containers",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.Flags().NFlag() == 0 {
				return errors.New("you must provide one or more flags when using this command")
			}
			var rp container.RestartPolicy
			if cmd.Flags().Changed("restart") {
				var err error
				if rp, err = parseRestartPolicy(restart); err != nil {
					return err
				}
			}
			res := container.Resources{BlkioWeight: blkioWeight, CpusetCpus: cpusetCpus, CpusetMems: cpusetMems,
				CPUShares: cpuShares, Memory: int64(memory), MemoryReservation: int64(memoryReservation),
				MemorySwap: int64(memorySwap), CPUPeriod: cpuPeriod, CPUQuota: cpuQuota,
				CPURealtimePeriod: cpuRtPeriod, CPURealtimeRuntime: cpuRtRuntime, NanoCPUs: int64(cpus)}
			if cmd.Flags().Changed("pids-limit") {
				res.PidsLimit = &pidsLimit
			}
			c, err := g.client(ctx(cmd))
			if err != nil {
				return err
			}
			var errs, warnings []string
			for _, name := range args {
				var resp container.UpdateResponse
				if err := c.do(ctx(cmd), "POST", "/containers/"+name+"/update", nil, container.UpdateConfig{Resources: res, RestartPolicy: rp}, &resp); err != nil {
					errs = append(errs, err.Error())
					continue
				}
				warnings = append(warnings, resp.Warnings...)
				fmt.Fprintln(cmd.OutOrStdout(), name)
			}
			for _, w := range warnings {
				fmt.Fprintln(cmd.OutOrStdout(), w)
			}
			return errorList(errs)
		},
	}
	fl := cmd.Flags()
	fl.Uint16Var(&blkioWeight, "blkio-weight", 0, "Block IO (relative weight), between 10 and 1000, or 0 to disable (default 0)")
	fl.Int64Var(&cpuPeriod, "cpu-period", 0, "Limit CPU CFS (Completely Fair Scheduler) period")
	fl.Int64Var(&cpuQuota, "cpu-quota", 0, "Limit CPU CFS (Completely Fair Scheduler) quota")
	fl.Int64Var(&cpuRtPeriod, "cpu-rt-period", 0, "Limit the CPU real-time period in microseconds")
	fl.Int64Var(&cpuRtRuntime, "cpu-rt-runtime", 0, "Limit the CPU real-time runtime in microseconds")
	fl.Int64VarP(&cpuShares, "cpu-shares", "c", 0, "CPU shares (relative weight)")
	fl.Var(&cpus, "cpus", "Number of CPUs")
	fl.StringVar(&cpusetCpus, "cpuset-cpus", "", "CPUs in which to allow execution (0-3, 0,1)")
	fl.StringVar(&cpusetMems, "cpuset-mems", "", "MEMs in which to allow execution (0-3, 0,1)")
	fl.VarP(&memory, "memory", "m", "Memory limit")
	fl.Var(&memoryReservation, "memory-reservation", "Memory soft limit")
	fl.Var(&memorySwap, "memory-swap", "Swap limit equal to memory plus swap: -1 to enable unlimited swap")
	fl.Int64Var(&pidsLimit, "pids-limit", 0, "Tune container pids limit (set -1 for unlimited)")
	fl.StringVar(&restart, "restart", "", "Restart policy to apply when a container exits")
	return cmd
}

func commitCmd(g *globals) *cobra.Command {
	var author, message string
	var pause bool
	changes := newListOpts(nil)
	cmd := &cobra.Command{
		Use:   "commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]",
		Short: "Create a new image from a container's changes",
		Args:  rangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client(ctx(cmd))
			if err != nil {
				return err
			}
			q := url.Values{"container": {args[0]}, "repo": {""}, "tag": {""}, "comment": {message}, "author": {author}}
			if len(args) == 2 {
				ref, err := reference.Parse(args[1])
				if err != nil {
					return err
				}
				if ref.Digest != "" {
					return errors.New("refusing to create a tag with a digest reference")
				}
				q.Set("repo", ref.Name())
				q.Set("tag", ref.Tag)
			}
			for _, ch := range changes.values {
				q.Add("changes", ch)
			}
			if !pause {
				q.Set("pause", "0")
			}
			var resp struct{ ID string }
			if err := c.do(ctx(cmd), "POST", "/commit", q, nil, &resp); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), resp.ID)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.SetInterspersed(false)
	fl.StringVarP(&author, "author", "a", "", `Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")`)
	fl.VarP(changes, "change", "c", "Apply Dockerfile instruction to the created image")
	fl.StringVarP(&message, "message", "m", "", "Commit message")
	fl.BoolVarP(&pause, "pause", "p", true, "Pause container during commit")
	return cmd
}

func exportCmd(g *globals) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "export [OPTIONS] CONTAINER",
		Short: "Export a container's filesystem as a tar archive",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return exportTo(cmd, g, "/containers/"+args[0]+"/export", output, "container")
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "Write to a file, instead of STDOUT")
	return cmd
}

func containerPruneCmd(g *globals) *cobra.Command {
	var force bool
	var filterArgs []string
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove all stopped containers",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := parseFilters(filterArgs)
			if err != nil {
				return err
			}
			if !force && !confirm(cmd.InOrStdin(), "WARNING! This will remove all stopped containers.") {
				return nil
			}
			c, err := g.client(ctx(cmd))
			if err != nil {
				return err
			}
			q := url.Values{}
			if len(f) > 0 {
				q.Set("filters", encodeFilters(f))
			}
			var rep container.PruneReport
			if err := c.do(ctx(cmd), "POST", "/containers/prune", q, nil, &rep); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			printDeleted(out, "Deleted Containers:", rep.ContainersDeleted)
			fmt.Fprintln(out, "Total reclaimed space:", units.HumanSize(float64(rep.SpaceReclaimed)))
			return nil
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation")
	cmd.Flags().StringArrayVar(&filterArgs, "filter", nil, `Provide filter values (e.g. "until=<timestamp>")`)
	return cmd
}

// exportTo is container and volume export: it writes the tar a GET of
// path answers to output ("" for stdout, unless that is a terminal). A file
// is written beside output and renamed: a failed export leaves no
// truncated archive under the requested name.
func exportTo(cmd *cobra.Command, g *globals, path, output, what string) error {
	if output == "" && isTerminalWriter(cmd.OutOrStdout()) {
		return errors.New("cowardly refusing to save to a terminal. Use the -o flag or redirect")
	}
	c, err := g.client(ctx(cmd))
	if err != nil {
		return err
	}
	resp, err := c.send(ctx(cmd), "GET", path, nil, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if output == "" {
		_, err = io.Copy(cmd.OutOrStdout(), resp.Body)
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(output), "."+filepath.Base(output)+".tmp*")
	if err != nil {
		return fmt.Errorf("failed to export %s: %w", what, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, resp.Body); err != nil {
		tmp.Close()
		return fmt.Errorf("failed to export %s: %w", what, err)
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), output)
}
