// Package cli is berth's docker-style command line: every command is a
// client of the daemon's Docker Engine API (the wire types of
// github.com/moby/moby/api, through apiClient), so it works against a remote
// daemon too, and every CLI test is an API test.
//
// Imports: only L0 of berth (the layering test enforces it).
package cli

import (
	"context"
	"errors"
	"os"
	"strings"

	"github.com/spf13/cobra"
)

// DefaultHost is where the daemon listens unless told otherwise.
const DefaultHost = "unix:///run/berth/berth.sock"

type globals struct {
	host string
	// exit ends the process with a status (os.Exit in the berth binary);
	// nil in tests, where commands return their *statusError.
	exit func(code int)
}

// Register adds the client commands and the global -H flag to root.
func Register(root *cobra.Command) {
	g := &globals{exit: os.Exit}
	g.hostFlag(root)
	root.AddCommand(versionCmd(g), infoCmd(g))
	top, image := imageCmds(g)
	root.AddCommand(top...)
	root.AddCommand(image, systemCmd(g), g.wrap(networkCmd(g)), g.wrap(volumeCmd(g)))
	for _, c := range containerCmds(g) {
		root.AddCommand(g.wrap(c))
	}
}

func (g *globals) hostFlag(root *cobra.Command) {
	root.PersistentFlags().StringVarP(&g.host, "host", "H", "", "daemon address (default: $BERTH_HOST, $DOCKER_HOST, then "+DefaultHost+")")
}

// quickCmds are the top-level container commands (containerCmds adds
// pause and unpause), which RegisterFor also builds alone.
var quickCmds = map[string]func(*globals) *cobra.Command{
	"run": runCmd, "create": createCmd, "start": startCmd, "stop": stopCmd, "kill": killCmd,
	"restart": restartCmd, "rm": rmCmd, "rename": renameCmd, "wait": waitCmd, "attach": attachCmd,
	"exec": execCmd, "logs": logsCmd, "ps": psCmd, "inspect": inspectCmd, "top": topCmd,
	"port": portCmd, "stats": statsCmd, "update": updateCmd, "commit": commitCmd,
	"export": exportCmd, "cp": cpCmd, "events": eventsCmd,
}

// RegisterFor is Register for the command line args (without the program
// name): when it names one of the common container commands, only that
// command is built, and it reports true (the caller need not add its own
// commands either). The whole tree is hundreds of flags, about 0.3 ms of
// every command's start, `run` included.
func RegisterFor(root *cobra.Command, args []string) (alone bool) {
	mk, ok := quickCmds[commandWord(args)]
	if !ok {
		Register(root)
		return false
	}
	g := &globals{exit: os.Exit}
	g.hostFlag(root)
	root.AddCommand(g.wrap(mk(g)))
	return true
}

// commandWord is the first word of args that is not the global -H/--host
// flag or its value ("" if there is none, or another flag comes first).
func commandWord(args []string) string {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-H" || a == "--host":
			i++
		case strings.HasPrefix(a, "--host=") || strings.HasPrefix(a, "-H") && len(a) > 2:
		case strings.HasPrefix(a, "-"):
			return ""
		default:
			return a
		}
	}
	return ""
}

// wrap makes a command and its subcommands end with docker's exit statuses:
// 125 for a bad flag, the statusError's code for what RunE returns.
func (g *globals) wrap(cmd *cobra.Command) *cobra.Command {
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return g.fail(flagError(c, err)) })
	if args := cmd.Args; args != nil {
		cmd.Args = func(c *cobra.Command, a []string) error { return g.fail(args(c, a)) }
	}
	if run := cmd.RunE; run != nil {
		cmd.RunE = func(c *cobra.Command, a []string) error { return g.fail(run(c, a)) }
	}
	cmd.DisableFlagsInUseLine = true
	for _, sub := range cmd.Commands() {
		g.wrap(sub)
	}
	return cmd
}

// errSilent reports a failure already printed, for a non-zero exit status.
var errSilent = errors.New("")

// address picks the daemon: -H, then BERTH_HOST, then DOCKER_HOST.
func (g *globals) address() string {
	for _, h := range []string{g.host, os.Getenv("BERTH_HOST"), os.Getenv("DOCKER_HOST")} {
		if h != "" {
			return h
		}
	}
	return DefaultHost
}

// client is the daemon's API client; the API version is settled by the
// first request (see apiClient.sendRaw).
func (g *globals) client(context.Context) (*apiClient, error) {
	return newAPIClient(g.address())
}

func ctx(cmd *cobra.Command) context.Context {
	if c := cmd.Context(); c != nil {
		return c
	}
	return context.Background()
}
