package runtimecli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/runtime"
)

func printJSON(v any) error {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func stateCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "state <container-id>",
		Short: "Print the state of a container as JSON",
		Args:  exactArgs(1, "<container-id>"),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := g.runtime().State(args[0])
			if err != nil {
				return err
			}
			return printJSON(st)
		},
	}
}

func listCmd(g *globals) *cobra.Command {
	var format string
	var quiet bool
	cmd := &cobra.Command{
		Use:     "list [flags]",
		Aliases: []string{"ls"},
		Short:   "List containers",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			list, err := g.runtime().List()
			if err != nil {
				return err
			}
			if quiet {
				for _, s := range list {
					fmt.Println(s.ID)
				}
				return nil
			}
			switch format {
			case "json":
				if list == nil {
					list = []*runtime.State{}
				}
				return printJSON(list)
			case "table":
				w := tabwriter.NewWriter(os.Stdout, 12, 1, 3, ' ', 0)
				fmt.Fprintln(w, "ID\tPID\tSTATUS\tBUNDLE\tCREATED\tOWNER")
				for _, s := range list {
					fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%s\n", s.ID, s.Pid, s.Status, s.Bundle, s.Created.Format(time.RFC3339Nano), s.Owner)
				}
				return w.Flush()
			default:
				return fmt.Errorf("--format %q: must be table or json", format)
			}
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "table", "table or json")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "print only container ids")
	return cmd
}

func psCmd(g *globals) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "ps [flags] <container-id> [ps options]",
		Short: "List the processes of a container (table through ps(1), or JSON PIDs)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pids, err := g.runtime().Pids(args[0])
			if err != nil {
				return err
			}
			switch format {
			case "json":
				if pids == nil {
					pids = []int{}
				}
				return printJSON(pids)
			case "table":
				return psTable(pids, args[1:])
			default:
				return fmt.Errorf("--format %q: must be table or json", format)
			}
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "table", "table or json")
	cmd.Flags().SetInterspersed(false)
	return cmd
}

// psTable runs ps(1) with the given options (default -ef) and keeps the
// header and the rows of the container's PIDs, as runc does.
func psTable(pids []int, psArgs []string) error {
	if len(psArgs) == 0 {
		psArgs = []string{"-ef"}
	}
	out, err := exec.Command("ps", psArgs...).Output()
	if err != nil {
		return fmt.Errorf("ps %s: %w", strings.Join(psArgs, " "), err)
	}
	want := map[int]bool{}
	for _, p := range pids {
		want[p] = true
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	if !sc.Scan() {
		return nil
	}
	header := sc.Text()
	col := -1
	for i, name := range strings.Fields(header) {
		if name == "PID" {
			col = i
		}
	}
	if col < 0 {
		return fmt.Errorf("ps output has no PID column: %q", header)
	}
	fmt.Println(header)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if col < len(fields) {
			if p, err := strconv.Atoi(fields[col]); err == nil && want[p] {
				fmt.Println(sc.Text())
			}
		}
	}
	return nil
}
