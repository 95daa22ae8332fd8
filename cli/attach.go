package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"

	"github.com/moby/moby/api/types/container"
	"github.com/spf13/cobra"
)

func startCmd(g *globals) *cobra.Command {
	var attach, interactive bool
	var detachKeys string
	cmd := &cobra.Command{
		Use:   "start [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Start one or more stopped containers",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client(ctx(cmd))
			if err != nil {
				return err
			}
			if !attach && !interactive {
				var failed []string
				for _, name := range args {
					if err := c.do(ctx(cmd), "POST", "/containers/"+name+"/start", nil, nil, nil); err != nil {
						fmt.Fprintln(cmd.ErrOrStderr(), err)
						failed = append(failed, name)
						continue
					}
					fmt.Fprintln(cmd.OutOrStdout(), name)
				}
				if len(failed) > 0 {
					return fmt.Errorf("Error: failed to start containers: %s", joinComma(failed))
				}
				return nil
			}
			if len(args) > 1 {
				return errors.New("you cannot start and attach multiple containers at once")
			}
			ir, err := inspectContainer(ctx(cmd), c, args[0])
			if err != nil {
				return err
			}
			return attachAndStart(cmd, c, ir, interactive && ir.Config.OpenStdin, detachKeys)
		},
	}
	cmd.Flags().BoolVarP(&attach, "attach", "a", false, "Attach STDOUT/STDERR and forward signals")
	cmd.Flags().BoolVarP(&interactive, "interactive", "i", false, "Attach container's STDIN")
	cmd.Flags().StringVar(&detachKeys, "detach-keys", "", "Override the key sequence for detaching a container")
	return cmd
}

func joinComma(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += ", "
		}
		out += x
	}
	return out
}

// attachAndStart is docker start -a: attach, wait, start, stream, and exit
// with the container's status.
func attachAndStart(cmd *cobra.Command, c *apiClient, ir *container.InspectResponse, withStdin bool, detachKeys string) error {
	bg, cancel := context.WithCancel(ctx(cmd))
	defer cancel()
	id := ir.ID
	if !ir.Config.Tty {
		stop := forwardSignals(context.WithoutCancel(bg), c, id)
		defer stop()
	}
	keys, err := detachKeysOrDefault(detachKeys)
	if err != nil {
		return err
	}
	q := attachQuery(withStdin, detachKeys)
	h, err := c.hijack(bg, "/containers/"+id+"/attach", q, nil)
	if err != nil {
		return err
	}
	defer h.Close()
	s := streams{tty: ir.Config.Tty, detachKeys: keys, out: cmd.OutOrStdout(), errOut: cmd.ErrOrStderr()}
	restore := func() {}
	if withStdin {
		s.in = cmd.InOrStdin()
		if ir.Config.Tty {
			restore = rawTerminal(s.in)
		}
	}
	defer restore()
	if ir.Config.Tty {
		s.errOut = s.out
	}
	errCh := make(chan error, 1)
	go func() { errCh <- pump(bg, h, s) }()
	statusC := waitContainer(context.WithoutCancel(bg), c, id, ir.HostConfig.AutoRemove, cmd.ErrOrStderr())
	if err := c.do(bg, "POST", "/containers/"+id+"/start", nil, nil, nil); err != nil {
		cancel()
		<-errCh
		if ir.HostConfig.AutoRemove {
			<-statusC
		}
		return err
	}
	if ir.Config.Tty && isTerminalWriter(cmd.OutOrStdout()) {
		stop := monitorTTYSize(bg, c, "/containers/"+id+"/resize")
		defer stop()
	}
	if err := <-errCh; err != nil {
		if errors.Is(err, errDetached) {
			return nil
		}
		return err
	}
	restore()
	if code := <-statusC; code != 0 {
		return &statusError{Code: code}
	}
	return nil
}

func attachCmd(g *globals) *cobra.Command {
	var noStdin, sigProxy bool
	var detachKeys string
	cmd := &cobra.Command{
		Use:   "attach [OPTIONS] CONTAINER",
		Short: "Attach local standard input, output, and error streams to a running container",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			bg := ctx(cmd)
			c, err := g.client(bg)
			if err != nil {
				return err
			}
			name := args[0]
			// The wait is asked for first, so an exit during the attach is seen.
			statusC, waitErr := waitAny(context.WithoutCancel(bg), c, name)
			ir, err := inspectContainer(bg, c, name)
			if err != nil {
				return err
			}
			if err := checkAttachable(ir); err != nil {
				return err
			}
			withStdin := !noStdin && ir.Config.OpenStdin
			if withStdin && ir.Config.Tty && !isTerminalReader(cmd.InOrStdin()) {
				return errors.New("the input device is not a TTY")
			}
			if sigProxy && !ir.Config.Tty {
				stop := forwardSignals(context.WithoutCancel(bg), c, name)
				defer stop()
			}
			keys, err := detachKeysOrDefault(detachKeys)
			if err != nil {
				return err
			}
			q := attachQuery(withStdin, detachKeys)
			h, err := c.hijack(bg, "/containers/"+name+"/attach", q, nil)
			if err != nil {
				return err
			}
			defer h.Close()
			if ir2, err := inspectContainer(bg, c, name); err != nil {
				return err
			} else if err := checkAttachable(ir2); err != nil {
				return err
			}
			s := streams{tty: ir.Config.Tty, detachKeys: keys, out: cmd.OutOrStdout(), errOut: cmd.ErrOrStderr()}
			if ir.Config.Tty {
				s.errOut = s.out
			}
			if withStdin {
				s.in = cmd.InOrStdin()
				if ir.Config.Tty {
					defer rawTerminal(s.in)()
				}
			}
			if ir.Config.Tty && isTerminalWriter(cmd.OutOrStdout()) {
				stop := monitorTTYSize(bg, c, "/containers/"+name+"/resize")
				defer stop()
			}
			if err := pump(bg, h, s); err != nil {
				return err
			}
			if waitErr != nil {
				return waitErr
			}
			if code := <-statusC; code != 0 {
				return &statusError{Code: code}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&noStdin, "no-stdin", false, "Do not attach STDIN")
	cmd.Flags().BoolVar(&sigProxy, "sig-proxy", true, "Proxy all received signals to the process")
	cmd.Flags().StringVar(&detachKeys, "detach-keys", "", "Override the key sequence for detaching a container")
	return cmd
}

// waitAny is POST /containers/{id}/wait without a condition (docker attach).
func waitAny(ctx context.Context, c *apiClient, name string) (<-chan int, error) {
	resp, err := c.send(ctx, "POST", "/containers/"+name+"/wait", nil, nil)
	if err != nil {
		return nil, err
	}
	ch := make(chan int, 1)
	go func() {
		defer resp.Body.Close()
		var w container.WaitResponse
		if decodeJSON(resp.Body, &w) != nil {
			ch <- 125
			return
		}
		ch <- int(w.StatusCode)
	}()
	return ch, nil
}

func checkAttachable(ir *container.InspectResponse) error {
	switch {
	case !ir.State.Running:
		return errors.New("You cannot attach to a stopped container, start it first")
	case ir.State.Paused:
		return errors.New("You cannot attach to a paused container, unpause it first")
	case ir.State.Restarting:
		return errors.New("You cannot attach to a restarting container, wait until it is running")
	}
	return nil
}

func execCmd(g *globals) *cobra.Command {
	var interactive, tty, detach, privileged bool
	var user, workdir, detachKeys string
	env, envFile := newListOpts(validateEnv), newListOpts(nil)
	cmd := &cobra.Command{
		Use:   "exec [OPTIONS] CONTAINER COMMAND [ARG...]",
		Short: "Execute a command in a running container",
		Args:  minArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			bg := ctx(cmd)
			c, err := g.client(bg)
			if err != nil {
				return err
			}
			name := args[0]
			req := container.ExecCreateRequest{User: user, Privileged: privileged, Tty: tty, Cmd: args[1:], WorkingDir: workdir}
			if req.Env, err = readKVStrings(envFile.values, env.values, true); err != nil {
				return err
			}
			if !detach {
				req.AttachStdout, req.AttachStderr, req.AttachStdin = true, true, interactive
			}
			req.DetachKeys = detachKeys
			if _, err := inspectContainer(bg, c, name); err != nil {
				return err
			}
			if !detach && req.AttachStdin && tty && !isTerminalReader(cmd.InOrStdin()) {
				return errors.New("the input device is not a TTY")
			}
			if h, w := termSize(int(os.Stdout.Fd())); tty && h > 0 {
				req.ConsoleSize = &[2]uint{h, w}
			}
			var created container.ExecCreateResponse
			if err := c.do(bg, "POST", "/containers/"+name+"/exec", nil, req, &created); err != nil {
				return err
			}
			if created.ID == "" {
				return errors.New("exec ID empty")
			}
			start := container.ExecStartRequest{Detach: detach, Tty: tty, ConsoleSize: req.ConsoleSize}
			if detach {
				return c.do(bg, "POST", "/exec/"+created.ID+"/start", nil, start, nil)
			}
			return interactiveExec(cmd, c, created.ID, req, start)
		},
	}
	fl := cmd.Flags()
	fl.SetInterspersed(false)
	fl.BoolVarP(&interactive, "interactive", "i", false, "Keep STDIN open even if not attached")
	fl.BoolVarP(&tty, "tty", "t", false, "Allocate a pseudo-TTY")
	fl.BoolVarP(&detach, "detach", "d", false, "Detached mode: run command in the background")
	fl.BoolVar(&privileged, "privileged", false, "Give extended privileges to the command")
	fl.StringVarP(&user, "user", "u", "", "Username or UID (format: \"<name|uid>[:<group|gid>]\")")
	fl.StringVarP(&workdir, "workdir", "w", "", "Working directory inside the container")
	fl.StringVar(&detachKeys, "detach-keys", "", "Override the key sequence for detaching a container")
	fl.VarP(env, "env", "e", "Set environment variables")
	fl.Var(envFile, "env-file", "Read in a file of environment variables")
	return cmd
}

func interactiveExec(cmd *cobra.Command, c *apiClient, id string, req container.ExecCreateRequest, start container.ExecStartRequest) error {
	bg := ctx(cmd)
	keys, err := detachKeysOrDefault(req.DetachKeys)
	if err != nil {
		return err
	}
	s := streams{tty: req.Tty, detachKeys: keys}
	if req.AttachStdin {
		s.in = cmd.InOrStdin()
	}
	if req.AttachStdout {
		s.out = cmd.OutOrStdout()
	}
	if req.AttachStderr {
		s.errOut = cmd.ErrOrStderr()
		if req.Tty {
			s.errOut = cmd.OutOrStdout()
		}
	}
	h, err := c.hijack(bg, "/exec/"+id+"/start", nil, start)
	if err != nil {
		return err
	}
	defer h.Close()
	if req.AttachStdin && req.Tty {
		defer rawTerminal(s.in)()
	}
	errCh := make(chan error, 1)
	go func() { errCh <- pump(bg, h, s) }()
	if req.Tty && isTerminalReader(cmd.InOrStdin()) {
		stop := monitorTTYSize(bg, c, "/exec/"+id+"/resize")
		defer stop()
	}
	if err := <-errCh; err != nil {
		return err
	}
	var ei container.ExecInspectResponse
	if err := c.do(bg, "GET", "/exec/"+id+"/json", nil, nil, &ei); err != nil {
		var ce *connError
		if errors.As(err, &ce) {
			return &statusError{Code: -1}
		}
		return err
	}
	if ei.ExitCode != nil && *ei.ExitCode != 0 {
		return &statusError{Code: *ei.ExitCode}
	}
	return nil
}

func decodeJSON(r io.Reader, v any) error { return json.NewDecoder(r).Decode(v) }

// attachQuery is the query of an attach to all of a container's output
// (and its stdin), as docker start -a and docker attach send it.
func attachQuery(withStdin bool, detachKeys string) url.Values {
	q := url.Values{"stream": {"1"}, "stdout": {"1"}, "stderr": {"1"}}
	if withStdin {
		q.Set("stdin", "1")
	}
	if detachKeys != "" {
		q.Set("detachKeys", detachKeys)
	}
	return q
}

// detachKeysOrDefault parses --detach-keys, docker's ctrl-p,ctrl-q if unset.
func detachKeysOrDefault(s string) ([]byte, error) {
	return parseDetachKeys(orDefault(s, "ctrl-p,ctrl-q"))
}
