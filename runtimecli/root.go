// Package runtimecli is the runc-compatible command line of berth's OCI
// runtime ("berth runtime <verb>"): the same verbs, flags and outputs as runc,
// so that the OCI conformance suite and other engines can drive it.
//
// It translates argv into calls on package runtime and results into output
// and exit codes; it decides nothing itself.
package runtimecli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/runtime"
)

// DefaultRoot is where container state lives unless --root says otherwise.
const DefaultRoot = "/run/berth/runtime"

type globals struct {
	root      string
	log       string
	logFormat string
	debug     bool
	logFile   io.Writer
	initExe   func() (string, error)
}

// exitError carries a process exit status through cobra without printing.
type exitError struct{ code int }

func (e *exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// ExitCode returns the status the process should exit with for err, and
// whether the command already reported err to the user.
func ExitCode(err error) (code int, reported bool) {
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code, true
	}
	if err != nil {
		return 1, false
	}
	return 0, true
}

// Command returns the "runtime" command and its verbs. initExe, if not nil,
// gives the path of the init program to start containers with (see
// runtime.Runtime.Init).
func Command(initExe func() (string, error)) *cobra.Command {
	g := &globals{initExe: initExe}
	cmd := &cobra.Command{
		Use:   "runtime",
		Short: "The OCI runtime (runc-compatible command line)",
		Long: "berth runtime runs OCI bundles the way runc and crun do: the same verbs and flags,\n" +
			"so the OCI runtime-tools and other engines can drive it.",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			if g.log != "" {
				f, err := os.OpenFile(g.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
				if err != nil {
					return fmt.Errorf("--log %s: %w", g.log, err)
				}
				g.logFile = f
			}
			if g.logFormat != "text" && g.logFormat != "json" {
				return fmt.Errorf("--log-format %q: must be text or json", g.logFormat)
			}
			return nil
		},
	}
	f := cmd.PersistentFlags()
	f.StringVar(&g.root, "root", DefaultRoot, "directory for the state of containers")
	f.StringVar(&g.log, "log", "", "append log messages to this file (default: stderr only)")
	f.StringVar(&g.logFormat, "log-format", "text", "log format: text or json")
	f.BoolVar(&g.debug, "debug", false, "log each lifecycle step (to --log, else stderr)")
	var systemdCgroup, rootless bool
	var criu string
	f.BoolVar(&systemdCgroup, "systemd-cgroup", false, "not supported: berth manages cgroups through cgroupfs")
	f.StringVar(&criu, "criu", "", "not used (checkpointing is not supported)")
	f.BoolVar(&rootless, "rootless", false, "accepted for runc compatibility")
	_ = f.MarkHidden("criu")

	cmd.AddCommand(
		createCmd(g), runCmd(g), startCmd(g), stateCmd(g), killCmd(g), deleteCmd(g),
		execCmd(g), psCmd(g), listCmd(g), pauseCmd(g), resumeCmd(g), updateCmd(g),
		specCmd(), featuresCmd(),
	)
	// Report errors ourselves so that they also reach --log.
	for _, c := range cmd.Commands() {
		wrapRunE(g, c)
	}
	return cmd
}

func wrapRunE(g *globals, c *cobra.Command) {
	inner := c.RunE
	if inner == nil {
		return
	}
	c.RunE = func(cmd *cobra.Command, args []string) error {
		err := inner(cmd, args)
		var ee *exitError
		if err != nil && !errors.As(err, &ee) {
			g.logf("error", "%v", err)
			fmt.Fprintln(os.Stderr, "berth runtime:", err)
			return &exitError{code: 1}
		}
		return err
	}
}

func (g *globals) runtime() *runtime.Runtime {
	r := runtime.New(g.root)
	r.Init = g.initExe
	r.Warn = func(msg string) {
		g.logf("warning", "%s", msg)
		fmt.Fprintln(os.Stderr, "berth runtime: warning:", msg)
	}
	if g.debug {
		r.Debug = func(msg string) {
			g.logf("debug", "%s", msg)
			if g.logFile == nil {
				fmt.Fprintln(os.Stderr, "berth runtime: debug:", msg)
			}
		}
	}
	return r
}

// logf writes one entry to --log in the chosen format.
func (g *globals) logf(level, format string, args ...any) {
	if g.logFile == nil {
		return
	}
	msg := fmt.Sprintf(format, args...)
	now := time.Now().Format(time.RFC3339Nano)
	if g.logFormat == "json" {
		b, _ := json.Marshal(map[string]string{"level": level, "msg": msg, "time": now})
		fmt.Fprintf(g.logFile, "%s\n", b)
		return
	}
	fmt.Fprintf(g.logFile, "time=%q level=%s msg=%q\n", now, level, msg)
}

func exactArgs(n int, usage string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return fmt.Errorf("%q requires exactly %d argument(s): %s", cmd.CommandPath(), n, usage)
		}
		return nil
	}
}
