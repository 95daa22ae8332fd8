package cli

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	goruntime "runtime"
	"text/template"

	"github.com/moby/moby/api/types/system"
	"github.com/spf13/cobra"
)

func versionCmd(g *globals) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "version [flags]",
		Short: "Show the berth client and daemon versions",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			client := map[string]string{"Version": cmd.Root().Version, "ApiVersion": apiVersion,
				"GoVersion": goruntime.Version(), "Os": goruntime.GOOS, "Arch": goruntime.GOARCH}
			var sv system.VersionResponse
			c, err := g.client(ctx(cmd))
			if err == nil {
				err = c.do(ctx(cmd), "GET", "/version", nil, nil, &sv)
				client["ApiVersion"] = c.apiVersion() // settled by the request
			}
			if format != "" {
				out := map[string]any{"Client": client}
				if err == nil {
					out["Server"] = sv
				}
				if terr := execTemplate(format, out); terr != nil {
					return terr
				}
				return err
			}
			fmt.Printf("Client:\n Version:\t%s\n API version:\t%s\n Go version:\t%s\n OS/Arch:\t%s/%s\n",
				client["Version"], client["ApiVersion"], client["GoVersion"], client["Os"], client["Arch"])
			if err != nil {
				return err
			}
			fmt.Printf("\nServer: %s\n Engine:\n  Version:\t%s\n  API version:\t%s (minimum version %s)\n  Go version:\t%s\n  OS/Arch:\t%s/%s\n  Kernel:\t%s\n",
				sv.Platform.Name, sv.Version, sv.APIVersion, sv.MinAPIVersion, sv.GoVersion, sv.Os, sv.Arch, sv.KernelVersion)
			return nil
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "format the output with a Go template, or 'json'")
	return cmd
}

func infoCmd(g *globals) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "info [flags]",
		Short: "Show system-wide information from the daemon",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client(ctx(cmd))
			if err != nil {
				return err
			}
			var i system.Info
			if err := c.do(ctx(cmd), "GET", "/info", url.Values{}, nil, &i); err != nil {
				return err
			}
			if format != "" {
				return execTemplate(format, i)
			}
			fmt.Printf("Server:\n Containers: %d\n  Running: %d\n  Paused: %d\n  Stopped: %d\n Images: %d\n Server Version: %s\n Storage Driver: %s\n Logging Driver: %s\n Cgroup Driver: %s\n Cgroup Version: %s\n Default Runtime: %s\n Security Options:",
				i.Containers, i.ContainersRunning, i.ContainersPaused, i.ContainersStopped, i.Images, i.ServerVersion, i.Driver, i.LoggingDriver, i.CgroupDriver, i.CgroupVersion, i.DefaultRuntime)
			for _, o := range i.SecurityOptions {
				fmt.Printf("\n  %s", o)
			}
			fmt.Printf("\n Kernel Version: %s\n Operating System: %s\n OSType: %s\n Architecture: %s\n CPUs: %d\n Total Memory: %.3fGiB\n Name: %s\n ID: %s\n Docker Root Dir: %s\n",
				i.KernelVersion, i.OperatingSystem, i.OSType, i.Architecture, i.NCPU, float64(i.MemTotal)/(1<<30), i.Name, i.ID, i.DockerRootDir)
			return nil
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "format the output with a Go template, or 'json'")
	return cmd
}

// execTemplate prints v with a docker-style --format: "json" or a Go template
// with the json function.
func execTemplate(format string, v any) error {
	if format == "json" {
		return json.NewEncoder(os.Stdout).Encode(v)
	}
	t, err := template.New("format").Funcs(template.FuncMap{
		"json": func(v any) (string, error) { b, err := json.Marshal(v); return string(b), err },
	}).Parse(format)
	if err != nil {
		return fmt.Errorf("--format: %w", err)
	}
	if err := t.Execute(os.Stdout, v); err != nil {
		return fmt.Errorf("--format: %w", err)
	}
	fmt.Println()
	return nil
}
