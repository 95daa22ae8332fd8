package cli

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/moby/moby/api/types/container"
	"github.com/spf13/cobra"
)

// containerCmds are the container verbs at the top level (docker run, ps,
// ...) and under the "container" noun (docker container run, ls, ...).
func containerCmds(g *globals) []*cobra.Command {
	noun := &cobra.Command{Use: "container", Short: "Manage containers", Args: noArgs}
	ls := psCmd(g)
	ls.Use, ls.Aliases = "ls [OPTIONS]", []string{"list", "ps"}
	rm := rmCmd(g)
	rm.Aliases = []string{"remove"}
	noun.AddCommand(runCmd(g), createCmd(g), startCmd(g), stopCmd(g), killCmd(g), restartCmd(g),
		simpleCmd(g, "pause", "Pause all processes within one or more containers"),
		simpleCmd(g, "unpause", "Unpause all processes within one or more containers"),
		rm, renameCmd(g), waitCmd(g), attachCmd(g), execCmd(g), logsCmd(g), ls,
		inspectContainerCmd(g), topCmd(g), portCmd(g), statsCmd(g), updateCmd(g), commitCmd(g),
		exportCmd(g), cpCmd(g), containerPruneCmd(g))
	top := []*cobra.Command{noun,
		simpleCmd(g, "pause", "Pause all processes within one or more containers"),
		simpleCmd(g, "unpause", "Unpause all processes within one or more containers")}
	for _, name := range slices.Sorted(maps.Keys(quickCmds)) {
		top = append(top, quickCmds[name](g))
	}
	return top
}

// forEach runs fn on every named container, printing each name on success
// and each error on stderr, as docker stop/kill/rm/... do.
func forEach(cmd *cobra.Command, names []string, fn func(name string) error) error {
	var errs []string
	for _, name := range names {
		if err := fn(name); err != nil {
			errs = append(errs, err.Error())
			continue
		}
		fmt.Fprintln(cmd.OutOrStdout(), name)
	}
	return errorList(errs)
}

// simpleCmd is pause and unpause: POST /containers/{id}/VERB.
func simpleCmd(g *globals, verb, short string) *cobra.Command {
	return &cobra.Command{
		Use:   verb + " CONTAINER [CONTAINER...]",
		Short: short,
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client(ctx(cmd))
			if err != nil {
				return err
			}
			return forEach(cmd, args, func(name string) error {
				return c.do(ctx(cmd), "POST", "/containers/"+name+"/"+verb, nil, nil, nil)
			})
		},
	}
}

func stopCmd(g *globals) *cobra.Command {
	return stopOrRestart(g, "stop", "Stop one or more running containers")
}

func restartCmd(g *globals) *cobra.Command {
	return stopOrRestart(g, "restart", "Restart one or more containers")
}

func stopOrRestart(g *globals, verb, short string) *cobra.Command {
	var timeout int
	var signal string
	cmd := &cobra.Command{
		Use:   verb + " [OPTIONS] CONTAINER [CONTAINER...]",
		Short: short,
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client(ctx(cmd))
			if err != nil {
				return err
			}
			q := url.Values{}
			if cmd.Flags().Changed("timeout") {
				q.Set("t", strconv.Itoa(timeout))
			}
			if signal != "" {
				q.Set("signal", signal)
			}
			return forEach(cmd, args, func(name string) error {
				return c.do(ctx(cmd), "POST", "/containers/"+name+"/"+verb, q, nil, nil)
			})
		},
	}
	cmd.Flags().IntVarP(&timeout, "timeout", "t", 0, "Seconds to wait before killing the container")
	cmd.Flags().IntVar(&timeout, "time", 0, "Seconds to wait before killing the container (deprecated: use --timeout)")
	_ = cmd.Flags().MarkHidden("time")
	cmd.Flags().StringVarP(&signal, "signal", "s", "", "Signal to send to the container")
	return cmd
}

func killCmd(g *globals) *cobra.Command {
	var signal string
	cmd := &cobra.Command{
		Use:   "kill [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Kill one or more running containers",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client(ctx(cmd))
			if err != nil {
				return err
			}
			q := url.Values{}
			if signal != "" {
				q.Set("signal", signal)
			}
			return forEach(cmd, args, func(name string) error {
				return c.do(ctx(cmd), "POST", "/containers/"+name+"/kill", q, nil, nil)
			})
		},
	}
	cmd.Flags().StringVarP(&signal, "signal", "s", "", "Signal to send to the container")
	return cmd
}

func rmCmd(g *globals) *cobra.Command {
	var force, volumes, link bool
	cmd := &cobra.Command{
		Use:   "rm [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Remove one or more containers",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client(ctx(cmd))
			if err != nil {
				return err
			}
			q := url.Values{}
			if volumes {
				q.Set("v", "1")
			}
			if link {
				q.Set("link", "1")
			}
			if force {
				q.Set("force", "1")
			}
			var errs []string
			for _, name := range args {
				name = strings.Trim(name, "/")
				if name == "" {
					errs = append(errs, "Container name cannot be empty")
					continue
				}
				if err := c.do(ctx(cmd), "DELETE", "/containers/"+name, q, nil, nil); err != nil {
					var ae *apiError
					if force && errors.As(err, &ae) && ae.Status == 404 {
						// docker says so, but it is not a failure
						fmt.Fprintln(cmd.ErrOrStderr(), err)
						continue
					}
					errs = append(errs, err.Error())
					continue
				}
				fmt.Fprintln(cmd.OutOrStdout(), name)
			}
			return errorList(errs)
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Force the removal of a running container (uses SIGKILL)")
	cmd.Flags().BoolVarP(&volumes, "volumes", "v", false, "Remove anonymous volumes associated with the container")
	cmd.Flags().BoolVarP(&link, "link", "l", false, "Remove the specified link")
	return cmd
}

func renameCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "rename CONTAINER NEW_NAME",
		Short: "Rename a container",
		Args:  exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			oldName, newName := strings.TrimSpace(args[0]), strings.TrimSpace(args[1])
			if oldName == "" || newName == "" {
				return errors.New("Error: Neither old nor new names may be empty")
			}
			c, err := g.client(ctx(cmd))
			if err != nil {
				return err
			}
			if err := c.do(ctx(cmd), "POST", "/containers/"+oldName+"/rename", url.Values{"name": {newName}}, nil, nil); err != nil {
				fmt.Fprintln(cmd.ErrOrStderr(), err)
				return fmt.Errorf("Error: failed to rename container named %s", oldName)
			}
			return nil
		},
	}
}

func waitCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "wait CONTAINER [CONTAINER...]",
		Short: "Block until one or more containers stop, then print their exit codes",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client(ctx(cmd))
			if err != nil {
				return err
			}
			var errs []string
			for _, name := range args {
				var w container.WaitResponse
				if err := c.do(ctx(cmd), "POST", "/containers/"+name+"/wait", nil, nil, &w); err != nil {
					errs = append(errs, err.Error())
					continue
				}
				if w.Error != nil && w.Error.Message != "" {
					errs = append(errs, w.Error.Message)
					continue
				}
				fmt.Fprintln(cmd.OutOrStdout(), w.StatusCode)
			}
			return errorList(errs)
		},
	}
}

func inspectContainer(ctx context.Context, c *apiClient, name string) (*container.InspectResponse, error) {
	var ir container.InspectResponse
	if err := c.do(ctx, "GET", "/containers/"+name+"/json", nil, nil, &ir); err != nil {
		return nil, err
	}
	if ir.Config == nil {
		ir.Config = &container.Config{}
	}
	if ir.HostConfig == nil {
		ir.HostConfig = &container.HostConfig{}
	}
	if ir.State == nil {
		ir.State = &container.State{}
	}
	return &ir, nil
}
