package runtimecli

import (
	"os"
	"os/signal"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/runtime"
)

type createFlags struct {
	bundle, consoleSocket, pidFile string
	noPivot, noNewKeyring          bool
	preserveFDs                    int
}

func (c *createFlags) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVarP(&c.bundle, "bundle", "b", ".", "path to the bundle directory (holding config.json)")
	f.StringVar(&c.consoleSocket, "console-socket", "", "unix socket that receives the pty master when process.terminal is true")
	f.StringVar(&c.pidFile, "pid-file", "", "write the container's init PID to this file")
	f.BoolVar(&c.noPivot, "no-pivot", false, "do not use pivot_root (for a rootfs on ramfs)")
	f.BoolVar(&c.noNewKeyring, "no-new-keyring", false, "do not create a new session keyring")
	f.IntVar(&c.preserveFDs, "preserve-fds", 0, "pass this many extra fds (from 3) to the container")
}

func (c *createFlags) opts(id string) runtime.CreateOpts {
	return runtime.CreateOpts{
		ID: id, Bundle: c.bundle, PidFile: c.pidFile, ConsoleSocket: c.consoleSocket,
		NoPivot: c.noPivot, NoNewKeyring: c.noNewKeyring, PreserveFDs: c.preserveFDs,
	}
}

func createCmd(g *globals) *cobra.Command {
	var c createFlags
	cmd := &cobra.Command{
		Use:   "create [flags] <container-id>",
		Short: "Create a container; its process waits for start",
		Args:  exactArgs(1, "<container-id>"),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, err := g.runtime().Create(c.opts(args[0]))
			return err
		},
	}
	c.register(cmd)
	return cmd
}

func startCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "start <container-id>",
		Short: "Start the process of a created container",
		Args:  exactArgs(1, "<container-id>"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.runtime().Start(args[0])
		},
	}
}

func runCmd(g *globals) *cobra.Command {
	var c createFlags
	var detach, keep bool
	cmd := &cobra.Command{
		Use:   "run [flags] <container-id>",
		Short: "Create and start a container, and wait for it unless --detach",
		Args:  exactArgs(1, "<container-id>"),
		RunE: func(cmd *cobra.Command, args []string) error {
			id := args[0]
			rt := g.runtime()
			o := c.opts(id)
			var tty *ttyProxy
			if c.consoleSocket == "" && !detach {
				spec, err := runtime.LoadSpec(c.bundle)
				if err == nil {
					o.Spec = spec // read once
				}
				if err == nil && spec.Process != nil && spec.Process.Terminal {
					if tty, err = newTTYProxy(); err != nil {
						return err
					}
					defer tty.close()
					o.ConsoleSocket = tty.socketPath
				}
			}
			sigs := catchSignals()
			p, err := rt.Create(o)
			if err != nil {
				sigs.stop()
				return err
			}
			if tty != nil {
				if err := tty.attach(); err != nil {
					sigs.stop()
					_ = rt.Delete(id, true)
					return err
				}
			}
			sigs.forward(p, tty)
			stop := sigs.stop
			if err := rt.Start(id); err != nil {
				stop()
				_ = rt.Delete(id, true)
				return err
			}
			if detach {
				stop()
				return nil
			}
			code, err := p.Wait()
			stop()
			if tty != nil {
				tty.drain()
			}
			if !keep {
				if derr := rt.Delete(id, true); derr != nil && err == nil {
					err = derr
				}
			}
			if err != nil {
				return err
			}
			if code != 0 {
				return &exitError{code: code}
			}
			return nil
		},
	}
	c.register(cmd)
	cmd.Flags().BoolVarP(&detach, "detach", "d", false, "do not wait for the container to exit")
	cmd.Flags().BoolVar(&keep, "keep", false, "keep the container's state after it exits")
	return cmd
}

// signalRelay relays the signals a user or supervisor sends to stop,
// reload or resize (not all: that would cost a millisecond of set-up on
// every run) to the container's process; SIGWINCH resizes the pty instead.
type signalRelay struct {
	ch    chan os.Signal
	ready chan struct{} // closed once Notify is in effect
	done  chan struct{}
}

// catchSignals starts catching them. The first Notify starts the Go
// runtime's signal loop (about 0.2 ms): it runs while the container is
// made, and signals that come meanwhile wait in the channel for forward.
func catchSignals() *signalRelay {
	r := &signalRelay{ch: make(chan os.Signal, 32), ready: make(chan struct{}), done: make(chan struct{})}
	go func() {
		signal.Notify(r.ch, unix.SIGHUP, unix.SIGINT, unix.SIGQUIT, unix.SIGTERM, unix.SIGUSR1,
			unix.SIGUSR2, unix.SIGWINCH, unix.SIGALRM, unix.SIGCONT)
		close(r.ready)
	}()
	return r
}

// forward relays what is caught to p until stop.
func (r *signalRelay) forward(p *runtime.Process, tty *ttyProxy) {
	go func() {
		for {
			select {
			case <-r.done:
				return
			case s := <-r.ch:
				switch s {
				case unix.SIGWINCH:
					if tty != nil {
						tty.resize()
					}
				default:
					_ = p.Signal(s)
				}
			}
		}
	}()
}

func (r *signalRelay) stop() {
	<-r.ready
	signal.Stop(r.ch)
	close(r.done)
}

func killCmd(g *globals) *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "kill [flags] <container-id> [signal]",
		Short: "Send a signal (default SIGTERM) to the container's init process",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			sig := unix.SIGTERM
			if len(args) == 2 {
				s, err := runtime.ParseSignal(args[1])
				if err != nil {
					return err
				}
				sig = s
			}
			return g.runtime().Kill(args[0], sig, all)
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "send the signal to every process in the container")
	return cmd
}

func deleteCmd(g *globals) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:     "delete [flags] <container-id>",
		Aliases: []string{"rm"},
		Short:   "Delete a stopped container (with --force, any container)",
		Args:    exactArgs(1, "<container-id>"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.runtime().Delete(args[0], force)
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "kill the container first if it is running")
	return cmd
}

func pauseCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use: "pause <container-id>", Short: "Freeze every process of a container",
		Args: exactArgs(1, "<container-id>"),
		RunE: func(cmd *cobra.Command, args []string) error { return g.runtime().Pause(args[0]) },
	}
}

func resumeCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use: "resume <container-id>", Short: "Thaw a paused container",
		Args: exactArgs(1, "<container-id>"),
		RunE: func(cmd *cobra.Command, args []string) error { return g.runtime().Resume(args[0]) },
	}
}
