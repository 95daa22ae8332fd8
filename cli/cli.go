// Package cli is berth's docker-style command line: every command is a
// client of the daemon's Docker Engine API through github.com/moby/moby/client,
// so it works against a remote daemon too, and every CLI test is an API test.
//
// Imports: only L0 of berth (the layering test enforces it).
package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"

	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

// DefaultHost is where the daemon listens unless told otherwise.
const DefaultHost = "unix:///run/berth/berth.sock"

type globals struct {
	host string
}

// Register adds the client commands and the global -H flag to root.
func Register(root *cobra.Command) {
	g := &globals{}
	root.PersistentFlags().StringVarP(&g.host, "host", "H", "", "daemon address (default: $BERTH_HOST, $DOCKER_HOST, then "+DefaultHost+")")
	root.AddCommand(versionCmd(g), infoCmd(g))
}

// address picks the daemon: -H, then BERTH_HOST, then DOCKER_HOST.
func (g *globals) address() string {
	for _, h := range []string{g.host, os.Getenv("BERTH_HOST"), os.Getenv("DOCKER_HOST")} {
		if h != "" {
			return h
		}
	}
	return DefaultHost
}

func (g *globals) client() (*client.Client, error) {
	return client.New(client.WithHost(g.address()), client.WithAPIVersionNegotiation())
}

// explain turns "cannot connect" into what to do about it.
func (g *globals) explain(err error) error {
	if err == nil {
		return nil
	}
	var ne *net.OpError
	if errors.As(err, &ne) || strings.Contains(err.Error(), "Cannot connect") || strings.Contains(err.Error(), "connect: ") {
		return fmt.Errorf("cannot connect to the berth daemon at %s: is it running? Start it with: berth daemon (as root)", g.address())
	}
	return err
}

func ctx(cmd *cobra.Command) context.Context {
	if c := cmd.Context(); c != nil {
		return c
	}
	return context.Background()
}
