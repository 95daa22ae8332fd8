package cli

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
)

// statusError ends the command with an exit status and a message, as the
// docker CLI's cli.StatusError: 125 for a failure of the CLI or the daemon
// (bad flags, unknown image), 126/127 when the program cannot be run, the
// container's own exit status otherwise.
type statusError struct {
	Status string // printed to stderr if not empty
	Code   int
}

func (e *statusError) Error() string {
	if e.Status == "" {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Status
}

// ExitCode is the exit status for an error a command returned, and whether
// its message was already printed.
func ExitCode(err error) (code int, reported bool) {
	if err == nil {
		return 0, true
	}
	if se, ok := err.(*statusError); ok {
		return se.Code, se.Status == ""
	}
	return 1, false
}

// fail ends the process for a statusError when the globals say so (the
// berth binary); otherwise (tests) it returns the error.
func (g *globals) fail(err error) error {
	se, ok := err.(*statusError)
	if !ok || g.exit == nil {
		return err
	}
	if se.Status != "" {
		fmt.Fprintln(os.Stderr, se.Status)
	}
	g.exit(se.Code)
	return err
}

// reportError is the docker CLI's reportError for run and create:
// "berth: MESSAGE", the help hint, exit status 125.
func reportError(cmd *cobra.Command, err error, withHelp bool) *statusError {
	msg := "berth: " + err.Error()
	if withHelp {
		msg += "\n\nRun '" + rootName(cmd) + " " + cmd.Name() + " --help' for more information"
	}
	return &statusError{Status: msg, Code: 125}
}

func rootName(cmd *cobra.Command) string { return cmd.Root().Name() }

// flagError is a bad flag, as docker prints it (exit status 125).
func flagError(cmd *cobra.Command, err error) error {
	return &statusError{Code: 125, Status: fmt.Sprintf("%s\n\nUsage:  %s\n\nRun '%s --help' for more information",
		err, cmd.UseLine(), cmd.CommandPath())}
}

// argsError is a wrong number of arguments, as docker prints it (exit 1).
// (docker says "See" for too few arguments, "Run" for the other cases.)
func argsError(cmd *cobra.Command, what, hint string) error {
	return &statusError{Code: 1, Status: fmt.Sprintf("%s: '%s' %s\n\nUsage:  %s\n\n%s '%s --help' for more information",
		rootName(cmd), cmd.CommandPath(), what, cmd.UseLine(), hint, cmd.CommandPath())}
}

func plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}

func minArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < n {
			return argsError(cmd, "requires at least "+plural(n, "argument"), "See")
		}
		return nil
	}
}

func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return argsError(cmd, "requires "+plural(n, "argument"), "Run")
		}
		return nil
	}
}

func rangeArgs(lo, hi int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < lo || len(args) > hi {
			return argsError(cmd, fmt.Sprintf("requires at least %d and at most %s", lo, plural(hi, "argument")), "Run")
		}
		return nil
	}
}

func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return argsError(cmd, "accepts no arguments", "Run")
	}
	return nil
}

// errorList joins the errors of a command run on several containers, each
// on its own line, as docker prints them.
func errorList(errs []string) error {
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%s", strings.Join(errs, "\n"))
}
