// Command berth is the berth container engine: one binary that is the CLI,
// the OCI runtime ("berth runtime") and, hidden, the container init.
//
// This file only dispatches argv.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/cli"
	"github.com/berth-dev/berth/daemon"
	"github.com/berth-dev/berth/runtime"
	"github.com/berth-dev/berth/runtimecli"
	"github.com/berth-dev/berth/shim"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "init":
			runtime.Init() // never returns
		case "shim":
			os.Exit(shim.Main(os.Args[2:], initExe))
		}
	}
	root := &cobra.Command{
		Use:           "berth",
		Short:         "berth: containers, images and builds in one binary",
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetVersionTemplate("berth version {{.Version}}\n")
	root.CompletionOptions.DisableDefaultCmd = true
	// Build only the command tree that argv names: the whole client tree is
	// hundreds of flags, and `berth runtime run` is on every container start
	// of the engines that drive it (a third of `--version`'s CPU was this).
	switch first(os.Args[1:]) {
	case "runtime":
		if set, ok := pinnedFrom(); ok {
			runtime.SetChildAffinity(set)
		}
		root.AddCommand(runtimecli.Command(initExe))
	case "daemon":
		root.AddCommand(daemon.Command(version, installInit))
	case "--version", "-v":
	default:
		if !cli.RegisterFor(root, os.Args[1:]) {
			root.AddCommand(runtimecli.Command(initExe), daemon.Command(version, installInit))
		}
	}
	if err := root.Execute(); err != nil {
		code, reported := runtimecli.ExitCode(err)
		if !reported && err.Error() != "" {
			fmt.Fprintln(os.Stderr, err)
		}
		os.Exit(code)
	}
}

// first is argv's first word, or "" without one.
func first(args []string) string {
	if len(args) == 0 {
		return ""
	}
	return args[0]
}
