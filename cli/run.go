package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"

	"github.com/moby/moby/api/types/container"
	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/reference"
)

// createOptions are the flags create and run have beyond the container's.
type createOptions struct {
	name, platform, pull string
	quiet                bool
}

func addCreateFlags(cmd *cobra.Command, o *createOptions) {
	fl := cmd.Flags()
	fl.StringVar(&o.name, "name", "", "Assign a name to the container")
	fl.StringVar(&o.platform, "platform", os.Getenv("DOCKER_DEFAULT_PLATFORM"), "Set platform if server is multi-platform capable")
	fl.StringVar(&o.pull, "pull", "missing", `Pull image before running ("always", "missing", "never")`)
	fl.BoolVarP(&o.quiet, "quiet", "q", false, "Suppress the pull output")
	fl.Bool("disable-content-trust", true, "Skip image verification")
	_ = fl.MarkHidden("disable-content-trust")
	fl.Bool("help", false, "Print usage")
}

func createCmd(g *globals) *cobra.Command {
	var co createOptions
	var copts *containerOptions
	cmd := &cobra.Command{
		Use:   "create [OPTIONS] IMAGE [COMMAND] [ARG...]",
		Short: "Create a new container",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			copts.image, copts.args = args[0], args[1:]
			cfg, err := copts.parse(cmd.Flags())
			if err != nil {
				return reportError(cmd, err, true)
			}
			c, err := g.client(ctx(cmd))
			if err != nil {
				return reportError(cmd, err, true)
			}
			if h, w := termSize(int(os.Stdout.Fd())); copts.tty && h > 0 {
				cfg.HostConfig.ConsoleSize = [2]uint{h, w}
			}
			id, err := createContainer(ctx(cmd), c, cfg, &co, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), id)
			return nil
		},
	}
	addCreateFlags(cmd, &co)
	copts = addContainerFlags(cmd.Flags())
	return cmd
}

func runCmd(g *globals) *cobra.Command {
	var co createOptions
	var copts *containerOptions
	var detach, sigProxy bool
	var detachKeys string
	cmd := &cobra.Command{
		Use:   "run [OPTIONS] IMAGE [COMMAND] [ARG...]",
		Short: "Create and run a new container from an image",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			copts.image, copts.args = args[0], args[1:]
			cfg, err := copts.parse(cmd.Flags())
			if err != nil {
				return reportError(cmd, err, true)
			}
			c, err := g.client(ctx(cmd))
			if err != nil {
				return reportError(cmd, err, true)
			}
			return runContainer(cmd, c, cfg, &co, copts, detach, sigProxy, detachKeys)
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&detach, "detach", "d", false, "Run container in background and print container ID")
	fl.BoolVar(&sigProxy, "sig-proxy", true, "Proxy received signals to the process")
	fl.StringVar(&detachKeys, "detach-keys", "", "Override the key sequence for detaching a container")
	addCreateFlags(cmd, &co)
	copts = addContainerFlags(fl)
	return cmd
}

// runContainer is docker run after the flags: create, attach (unless
// detached), wait for the next exit (or removal with --rm), start, and
// exit with the container's status.
func runContainer(cmd *cobra.Command, c *apiClient, cfg *containerConfig, co *createOptions, copts *containerOptions, detach, sigProxy bool, detachKeys string) error {
	bg := ctx(cmd)
	config := cfg.Config
	stdin, stdout, stderr := cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr()
	if !detach {
		if config.AttachStdin && config.Tty && !isTerminalReader(stdin) {
			return reportError(cmd, errors.New("the input device is not a TTY"), false)
		}
	} else {
		if len(copts.attach.values) > 0 {
			return &statusError{Code: 1, Status: "conflicting options: cannot specify both --attach and --detach"}
		}
		config.AttachStdin, config.AttachStdout, config.AttachStderr, config.StdinOnce = false, false, false, false
	}
	if h, w := termSize(int(os.Stdout.Fd())); config.Tty && h > 0 {
		cfg.HostConfig.ConsoleSize = [2]uint{h, w}
	}
	keys, err := detachKeysOrDefault(detachKeys)
	if err != nil {
		return reportError(cmd, err, true)
	}
	runCtx, cancel := context.WithCancel(bg)
	defer cancel()

	id, err := createContainer(runCtx, c, cfg, co, stderr)
	if err != nil {
		return reportError(cmd, err, true)
	}
	if sigProxy {
		stop := forwardSignals(context.WithoutCancel(runCtx), c, id)
		defer stop()
	}
	attach := config.AttachStdin || config.AttachStdout || config.AttachStderr
	var errCh chan error
	var restore func()
	if attach {
		q := url.Values{"stream": {"1"}}
		if config.AttachStdin {
			q.Set("stdin", "1")
		}
		if config.AttachStdout {
			q.Set("stdout", "1")
		}
		if config.AttachStderr {
			q.Set("stderr", "1")
		}
		if detachKeys != "" {
			q.Set("detachKeys", detachKeys)
		}
		h, err := c.hijack(runCtx, "/containers/"+id+"/attach", q, nil)
		if err != nil {
			return reportError(cmd, err, false)
		}
		defer h.Close()
		s := streams{tty: config.Tty, detachKeys: keys}
		if config.AttachStdin {
			s.in = stdin
			if config.Tty {
				restore = rawTerminal(stdin)
			}
		}
		if config.AttachStdout {
			s.out = stdout
		}
		if config.AttachStderr {
			s.errOut = stderr
			if config.Tty {
				s.errOut = stdout
			}
		}
		errCh = make(chan error, 1)
		go func() { errCh <- pump(runCtx, h, s) }()
	}
	defer func() {
		if restore != nil {
			restore()
		}
	}()

	statusC := waitContainer(context.WithoutCancel(runCtx), c, id, copts.autoRemove, stderr)
	if err := c.do(runCtx, "POST", "/containers/"+id+"/start", nil, nil, nil); err != nil {
		if attach {
			cancel()
			<-errCh
		}
		if restore != nil {
			restore()
			restore = nil
		}
		se := reportError(cmd, err, true)
		se.Code = startErrorCode(err)
		if copts.autoRemove {
			<-statusC
		}
		return se
	}
	if attach && config.Tty && isTerminalWriter(stdout) {
		stop := monitorTTYSize(runCtx, c, "/containers/"+id+"/resize")
		defer stop()
	}
	if errCh != nil {
		if err := <-errCh; err != nil {
			if errors.Is(err, errDetached) {
				if restore != nil {
					restore()
					restore = nil
				}
				fmt.Fprintln(stderr)
				return nil
			}
			return err
		}
	}
	if !attach {
		fmt.Fprintln(stdout, id)
		return nil
	}
	if restore != nil {
		restore()
		restore = nil
	}
	if code := <-statusC; code != 0 {
		return &statusError{Code: code}
	}
	return nil
}

// startErrorCode is the docker CLI's exit status for a failed start: 127
// when the program is not found, 126 when it cannot be executed, else 125.
func startErrorCode(err error) int {
	msg := strings.TrimPrefix(err.Error(), "Error response from daemon: ")
	switch {
	case strings.Contains(msg, "executable file not found"), strings.Contains(msg, "no such file or directory"),
		strings.Contains(msg, "system cannot find the file specified"):
		return 127
	case strings.Contains(msg, "permission denied"), strings.Contains(msg, "is a directory"):
		return 126
	}
	return 125
}

// waitContainer sends POST /containers/{id}/wait (condition next-exit, or
// removed with --rm) and returns once the daemon accepted it; the channel
// gets the exit status, 125 if waiting failed.
func waitContainer(ctx context.Context, c *apiClient, id string, removed bool, stderr io.Writer) <-chan int {
	cond := container.WaitConditionNextExit
	if removed {
		cond = container.WaitConditionRemoved
	}
	ch := make(chan int, 1)
	resp, err := c.send(ctx, "POST", "/containers/"+id+"/wait", url.Values{"condition": {string(cond)}}, nil)
	if err != nil {
		fmt.Fprintf(stderr, "error waiting for container: %v\n", err)
		ch <- 125
		return ch
	}
	go func() {
		defer resp.Body.Close()
		var w container.WaitResponse
		if err := json.NewDecoder(resp.Body).Decode(&w); err != nil {
			fmt.Fprintf(stderr, "error waiting for container: %v\n", err)
			ch <- 125
			return
		}
		if w.Error != nil && w.Error.Message != "" {
			fmt.Fprintf(stderr, "Error waiting for container: %v\n", w.Error.Message)
			ch <- 125
			return
		}
		ch <- int(w.StatusCode)
	}()
	return ch
}

// createContainer is POST /containers/create, with docker's image pull on
// a missing image (--pull) and --cidfile.
func createContainer(ctx context.Context, c *apiClient, cfg *containerConfig, co *createOptions, stderr io.Writer) (string, error) {
	switch co.pull {
	case "always", "missing", "never":
	default:
		return "", fmt.Errorf(`invalid pull option: '%s': must be one of "always", "missing" or "never"`, co.pull)
	}
	var cidFile *os.File
	if p := cfg.HostConfig.ContainerIDFile; p != "" {
		if _, err := os.Stat(p); err == nil {
			return "", fmt.Errorf("container ID file found, make sure the other container isn't running or delete %s", p)
		}
		f, err := os.Create(p)
		if err != nil {
			return "", fmt.Errorf("failed to create the container ID file: %w", err)
		}
		cidFile = f
		defer func() {
			f.Close()
			if cidFile != nil {
				os.Remove(p)
			}
		}()
	}
	ref, refErr := reference.Parse(cfg.Config.Image)
	if co.pull == "always" {
		if refErr != nil {
			return "", refErr
		}
		if err := pullImage(ctx, c, ref.WithDefaultTag(), co, stderr); err != nil {
			return "", err
		}
	}
	q := url.Values{}
	if co.name != "" {
		q.Set("name", co.name)
	}
	if co.platform != "" {
		q.Set("platform", co.platform)
	}
	body := container.CreateRequest{Config: cfg.Config, HostConfig: cfg.HostConfig, NetworkingConfig: cfg.NetworkingConfig}
	var resp container.CreateResponse
	err := c.do(ctx, "POST", "/containers/create", q, body, &resp)
	var ae *apiError
	if errors.As(err, &ae) && ae.Status == 404 && co.pull == "missing" && refErr == nil && strings.Contains(strings.ToLower(ae.Message), "image") {
		fmt.Fprintf(stderr, "Unable to find image '%s' locally\n", ref.WithDefaultTag().Familiar())
		if err := pullImage(ctx, c, ref.WithDefaultTag(), co, stderr); err != nil {
			return "", err
		}
		err = c.do(ctx, "POST", "/containers/create", q, body, &resp)
	}
	if err != nil {
		return "", err
	}
	for _, w := range resp.Warnings {
		fmt.Fprintf(stderr, "WARNING: %s\n", w)
	}
	if cidFile != nil {
		if _, err := cidFile.WriteString(resp.ID); err != nil {
			return "", fmt.Errorf("failed to write the container ID to the file: %w", err)
		}
		cidFile = nil
	}
	return resp.ID, nil
}

// pullImage is POST /images/create?fromImage=&tag= with its progress on
// stderr (berth has no registry client yet: the daemon says why it fails).
func pullImage(ctx context.Context, c *apiClient, ref reference.Ref, co *createOptions, stderr io.Writer) error {
	q := url.Values{"fromImage": {ref.Name()}}
	if ref.Tag != "" {
		q.Set("tag", ref.Tag)
	}
	if ref.Digest != "" {
		q.Set("tag", ref.Digest)
	}
	if co.platform != "" {
		q.Set("platform", co.platform)
	}
	resp, err := c.send(ctx, "POST", "/images/create", q, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(resp.Body)
	for {
		var m struct {
			ID, Status, Progress, Error string
			ErrorDetail                 *struct{ Message string } `json:"errorDetail"`
		}
		if err := dec.Decode(&m); err == io.EOF {
			return nil
		} else if err != nil {
			return fmt.Errorf("pull %s: %w", ref.Familiar(), err)
		}
		if m.ErrorDetail != nil && m.ErrorDetail.Message != "" {
			return errors.New(m.ErrorDetail.Message)
		}
		if m.Error != "" {
			return errors.New(m.Error)
		}
		if co.quiet {
			continue
		}
		if m.ID != "" {
			fmt.Fprintf(stderr, "%s: %s %s\n", m.ID, m.Status, m.Progress)
		} else {
			fmt.Fprintln(stderr, m.Status)
		}
	}
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
