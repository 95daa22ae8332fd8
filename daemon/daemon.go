// Package daemon wires berth's daemon together: configuration, directories,
// the stores, the engine and the API servers. It holds no logic of its own
// beyond that wiring and the daemon's lifetime (listen, serve, shut down).
package daemon

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/content"
	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/events"
	"github.com/berth-dev/berth/image"
	"github.com/berth-dev/berth/network"
	"github.com/berth-dev/berth/network/dns"
	"github.com/berth-dev/berth/server"
	"github.com/berth-dev/berth/snapshot"
	"github.com/berth-dev/berth/volume"
)

// Defaults, as dockerd's but under berth's names.
const (
	DefaultHost     = "unix:///run/berth/berth.sock"
	DefaultDataRoot = "/var/lib/berth"
	DefaultExecRoot = "/run/berth"
)

// Config is the daemon's configuration.
type Config struct {
	Hosts    []string
	DataRoot string
	ExecRoot string
	Version  string
	// Bridge is the default network's bridge ("none": no networking, and
	// containers default to network mode none); DNS are the name servers
	// the embedded DNS forwards to ("" entries: the host's resolv.conf).
	Bridge string
	DNS    []string
	// InstallInit installs berth's init program (also the shim and --init's
	// docker-init) in a directory and returns its path; nil if this build
	// has none embedded.
	InstallInit func(dir string) (string, error)
}

// Command returns "berth daemon".
func Command(version string, installInit func(dir string) (string, error)) *cobra.Command {
	cfg := Config{Version: version, InstallInit: installInit}
	cmd := &cobra.Command{
		Use:   "daemon [flags]",
		Short: "Run the berth daemon (serves the Docker Engine API)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			return Run(ctx, cfg)
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&cfg.Hosts, "host", "H", []string{DefaultHost}, "address to serve the API on (unix:///path or tcp://127.0.0.1:port)")
	f.StringVar(&cfg.DataRoot, "data-root", DefaultDataRoot, "directory for persistent state (images, containers, volumes)")
	f.StringVar(&cfg.ExecRoot, "exec-root", DefaultExecRoot, "directory for runtime state (sockets, container state)")
	f.StringVarP(&cfg.Bridge, "bridge", "b", network.DefaultBridge, `the default "bridge" network's bridge device ("none": no networking)`)
	f.StringArrayVar(&cfg.DNS, "dns", nil, "name servers the embedded DNS forwards to (default: those of /etc/resolv.conf)")
	return cmd
}

// Run serves until ctx is done, then shuts down gracefully.
func Run(ctx context.Context, cfg Config) error {
	for _, d := range []string{cfg.DataRoot, cfg.ExecRoot} {
		if err := os.MkdirAll(d, 0o711); err != nil {
			return fmt.Errorf("create %s: %w", d, err)
		}
	}
	lock, err := lockDataRoot(cfg.DataRoot)
	if err != nil {
		return err
	}
	defer lock.Close()
	// The API's sockets first: a daemon that cannot serve fails before it
	// touches anything (the host's network above all).
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	for _, h := range cfg.Hosts {
		ln, err := listen(h)
		if err != nil {
			return err
		}
		lns = append(lns, ln)
	}

	blobs, err := content.Open(filepath.Join(cfg.DataRoot, "content"))
	if err != nil {
		return err
	}
	layers, err := snapshot.Open(filepath.Join(cfg.DataRoot, "snapshots"))
	if err != nil {
		return err
	}
	defer layers.WaitRemovals() // after the engine's Close: removed layers deleted before exit
	images, err := image.Open(filepath.Join(cfg.DataRoot, "metadata.db"), blobs, layers)
	if err != nil {
		return err
	}
	defer images.Close()

	bus := events.New(0)
	vols, err := volume.Open(filepath.Join(cfg.DataRoot, "volumes"))
	if err != nil {
		return err
	}
	for _, w := range vols.Warnings() {
		fmt.Fprintln(os.Stderr, "berth daemon: warning:", w)
	}
	nets, err := openNetworks(cfg)
	if err != nil {
		return err
	}
	if nets != nil {
		defer nets.Close()
	}
	// The embedded init program is also the shim (small: see cmd/berth-init).
	shimExe := ""
	var dockerInit func() (string, error)
	if cfg.InstallInit != nil {
		if shimExe, err = cfg.InstallInit(initDir(cfg.ExecRoot)); err != nil {
			return fmt.Errorf("install the init program: %w", err)
		}
		dockerInit = func() (string, error) { return shimExe, nil }
	}
	eng, err := engine.New(engine.Options{
		DataRoot: cfg.DataRoot, ExecRoot: cfg.ExecRoot, Images: images, Layers: layers, Events: bus,
		DockerInit: dockerInit, ShimExe: shimExe, Networks: nets, Volumes: vols,
		Warn: func(msg string) { fmt.Fprintln(os.Stderr, "berth daemon: warning:", msg) },
	})
	if err != nil {
		return err
	}
	defer eng.Close()

	srv := server.New(server.Config{Version: cfg.Version, DataRoot: cfg.DataRoot, ExecRoot: cfg.ExecRoot}, images, eng, bus)
	// Streams (events, logs -f, wait, stats) end when the daemon stops:
	// their requests' context is cancelled before the graceful shutdown,
	// which would otherwise wait for them.
	reqCtx, endStreams := context.WithCancel(context.Background())
	defer endStreams()
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 30 * time.Second,
		BaseContext: func(net.Listener) context.Context { return reqCtx }}
	errc := make(chan error, len(lns))
	for _, ln := range lns {
		go func(ln net.Listener) { errc <- hs.Serve(ln) }(ln)
	}
	fmt.Fprintf(os.Stderr, "berth daemon %s: serving the Docker Engine API on %s (data root %s)\n", cfg.Version, strings.Join(cfg.Hosts, ", "), cfg.DataRoot)
	select {
	case <-ctx.Done():
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	}
	endStreams()
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return hs.Shutdown(sctx)
}

// lockDataRoot makes sure one daemon at a time owns a data root.
func lockDataRoot(root string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(root, ".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("another berth daemon is using --data-root %s", root)
	}
	return f, nil
}

// listen opens unix:///path (root-only, 0660) or tcp://host:port.
func listen(host string) (net.Listener, error) {
	proto, addr, ok := strings.Cut(host, "://")
	if !ok {
		return nil, fmt.Errorf("-H %s: want unix:///path or tcp://host:port", host)
	}
	switch proto {
	case "unix":
		if err := os.MkdirAll(filepath.Dir(addr), 0o711); err != nil {
			return nil, err
		}
		if c, err := net.Dial("unix", addr); err == nil {
			c.Close()
			return nil, fmt.Errorf("-H %s: another daemon is already serving there", host)
		}
		_ = os.Remove(addr) // a stale socket of a daemon that died
		old := unix.Umask(0o177)
		ln, err := net.Listen("unix", addr)
		unix.Umask(old)
		if err != nil {
			return nil, fmt.Errorf("-H %s: %w", host, err)
		}
		if err := os.Chmod(addr, 0o660); err != nil {
			ln.Close()
			return nil, err
		}
		return ln, nil
	case "tcp":
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("-H %s: %w", host, err)
		}
		fmt.Fprintf(os.Stderr, "berth daemon: WARNING: serving the API on %s without TLS: anyone who can reach it is root on this host\n", host)
		return ln, nil
	default:
		return nil, fmt.Errorf("-H %s: protocol %q is not supported (unix, tcp)", host, proto)
	}
}

// initDir is where the daemon installs the init program: under its exec
// root when that is a tmpfs (the file is made immutable, which only tmpfs
// lets go at the next boot), else in the default /run/berth/init, shared
// by every berth on the host (the file is named by its content's hash).
func initDir(execRoot string) string {
	var st unix.Statfs_t
	if err := unix.Statfs(execRoot, &st); err == nil && st.Type == unix.TMPFS_MAGIC {
		return filepath.Join(execRoot, "init")
	}
	return "/run/berth/init"
}

// openNetworks opens the daemon's networks: the default bridge, the
// user-defined networks and their rules, set up again after a restart.
func openNetworks(cfg Config) (*network.Manager, error) {
	if cfg.Bridge == "none" {
		return nil, nil
	}
	var ups []netip.AddrPort
	for _, s := range cfg.DNS {
		ip, err := netip.ParseAddr(s)
		if err != nil {
			ap, perr := netip.ParseAddrPort(s)
			if perr != nil {
				return nil, fmt.Errorf("--dns %s: not an IP address (or address:port)", s)
			}
			ups = append(ups, ap)
			continue
		}
		ups = append(ups, netip.AddrPortFrom(ip, 53))
	}
	if len(cfg.DNS) == 0 {
		b, _ := os.ReadFile("/etc/resolv.conf")
		ups = dns.UpstreamsFromResolvConf(b)
	}
	m, err := network.Open(filepath.Join(cfg.DataRoot, "network"), network.Options{DefaultBridge: cfg.Bridge, Upstreams: ups})
	if err != nil {
		return nil, fmt.Errorf("networks: %w (--bridge none runs without networking)", err)
	}
	return m, nil
}
