package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-dev/berth/atomicfile"
	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/ids"
	"github.com/berth-dev/berth/logs"
	"github.com/berth-dev/berth/runtime"
	"github.com/berth-dev/berth/specgen"
)

// CreateRequest is a container to create.
type CreateRequest struct {
	Name       string // "" for a generated one
	Config     Config
	HostConfig HostConfig
	// Networks are the API's NetworkingConfig.EndpointsConfig: the
	// networks to join (by name or id) and how.
	Networks map[string]*EndpointSettings
}

// Create records a new container: its merged configuration, its writable
// layer and its files. Nothing runs until Start. On failure nothing is left.
func (e *Engine) Create(ctx context.Context, req CreateRequest) (_ *Container, retErr error) {
	name := strings.TrimPrefix(req.Name, "/")
	if name != "" && !ids.ValidName(name, 2) {
		return nil, errInvalid("Invalid container name (%s), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", req.Name)
	}
	if req.Config.Image == "" {
		return nil, errInvalid("no image given")
	}
	e.warmer.warm() // a start usually follows
	img, err := e.images.Get(req.Config.Image)
	if err != nil {
		if errors.Is(err, errdefs.ErrNotFound) {
			return nil, fmt.Errorf("No such image: %s: %w", req.Config.Image, errdefs.ErrNotFound)
		}
		return nil, err
	}
	c := Container{ID: ids.New(), Created: now(), ImageID: img.ID, Config: req.Config, HostConfig: req.HostConfig}
	mergeImageConfig(&c.Config, &img.Config.Config)
	if err := e.validate(&c); err != nil {
		return nil, err
	}
	c.Name = name // for the networks' checks; settled below
	if err := e.setupNetworks(&c, req.Networks); err != nil {
		return nil, notFoundAtCreate(err)
	}
	// Volumes are taken and the container made visible to RemoveVolume
	// under volMu, so that a volume prune cannot remove them in between.
	e.volMu.Lock()
	volLocked := true
	defer func() {
		if volLocked {
			e.volMu.Unlock()
		}
	}()
	madeVolumes, err := e.setupVolumes(&c)
	if err != nil {
		return nil, err
	}
	defer func() {
		if retErr != nil {
			e.removeVolumes(madeVolumes)
		}
	}()
	args := append(append([]string(nil), c.Config.Entrypoint...), c.Config.Cmd...)
	c.Path, c.Args = args[0], args[1:]
	if c.Config.Hostname == "" {
		if c.HostConfig.NetworkMode == "host" {
			c.Config.Hostname, _ = os.Hostname()
		} else {
			c.Config.Hostname = c.ID[:12]
		}
	}

	e.mu.Lock()
	if name == "" {
		name = e.freeName()
	} else if id, taken := e.names[name]; taken {
		e.mu.Unlock()
		return nil, errConflict("Conflict. The container name \"/%s\" is already in use by container \"%s\". You have to remove (or rename) that container to be able to reuse that name", name, id)
	}
	c.Name = name
	x := &ctr{c: c, busy: true}
	e.byID[c.ID] = x
	e.names[name] = c.ID
	e.mu.Unlock()
	e.volMu.Unlock()
	volLocked = false
	defer func() {
		if retErr != nil {
			e.mu.Lock()
			delete(e.byID, c.ID)
			delete(e.names, name)
			e.mu.Unlock()
			e.cleanupFiles(c.ID)
		}
	}()

	tt := newTracer(c.ID)
	dir := e.containerDir(c.ID)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	var parent = img.Layers
	top := ""
	if len(parent) > 0 {
		top = string(parent[len(parent)-1].ChainID)
	}
	if _, err := e.layers.Prepare(c.ID, digest.Digest(top)); err != nil {
		return nil, fmt.Errorf("container %s: writable layer: %w", c.ID, err)
	}
	tt.step("create: writable layer")
	if err := e.writeFiles(&x.c); err != nil {
		_ = e.layers.RemoveActive(c.ID)
		return nil, err
	}
	tt.step("create: etc files")
	x.c.State = State{Status: StatusCreated}
	x.mu.Lock()
	if c.HostConfig.AutoRemove {
		// Made durable in the background: after a host crash a container
		// that removes itself has nothing to come back to, and one whose
		// record did not reach the disk is removed at the next start
		// (Engine.load), as an auto-removed one would be.
		err = e.saveSoon(x)
	} else {
		err = e.save(x)
	}
	x.busy = false
	x.mu.Unlock()
	tt.step("create: record saved")
	if err != nil {
		_ = e.layers.RemoveActive(c.ID)
		return nil, err
	}
	e.event(&x.c, "create", nil)
	return x.snapshot(), nil
}

// validate checks what Docker checks at create, and that the runtime spec
// can be generated (resources, capabilities, mounts, the seccomp profile).
func (e *Engine) validate(c *Container) error {
	if len(c.Config.Entrypoint) == 0 && len(c.Config.Cmd) == 0 {
		return errInvalid("No command specified")
	}
	rp := c.HostConfig.RestartPolicy
	switch rp.Name {
	case "", "no", "always", "unless-stopped":
		if rp.MaximumRetryCount != 0 {
			return errInvalid("maximum retry count cannot be used with restart policy '%s'", rp.Name)
		}
	case "on-failure":
		if rp.MaximumRetryCount < 0 {
			return errInvalid("maximum retry count cannot be negative")
		}
	default:
		return errInvalid("invalid restart policy '%s'", rp.Name)
	}
	if c.HostConfig.AutoRemove && rp.Name != "" && rp.Name != "no" {
		return errInvalid("can't create 'AutoRemove' container with restart policy")
	}
	switch c.HostConfig.LogConfig.Type {
	case "", "json-file":
		c.HostConfig.LogConfig.Type = "json-file"
		if _, _, err := logs.ParseOpts(c.HostConfig.LogConfig.Config); err != nil {
			return err
		}
	case "none":
	default:
		return errInvalid("log driver %q is not supported (json-file, none)", c.HostConfig.LogConfig.Type)
	}
	for _, m := range []string{c.HostConfig.IpcMode, c.HostConfig.PidMode, c.HostConfig.UTSMode} {
		if m != "" && m != "host" && m != "private" && m != "shareable" {
			return errInvalid("namespace mode %q is not supported (host, private)", m)
		}
	}
	if c.Config.StopSignal != "" {
		if _, err := runtime.ParseSignal(c.Config.StopSignal); err != nil {
			return err
		}
	}
	o, err := e.specOptions(c, "/", &execUser{Home: "/"}, "", netModeForSpec(c.HostConfig.NetworkMode), checkMounts(c.HostConfig.Mounts))
	if err != nil {
		return err
	}
	o.Rootfs = "/nonexistent"
	if _, err := specgen.Generate(o); err != nil {
		return err
	}
	return nil
}

// mergeImageConfig fills what the user left unset from the image, as Docker
// does: environment merged by key (the user's win), labels merged, the
// image's Cmd only when the user gave neither Cmd nor Entrypoint.
func mergeImageConfig(c *Config, ic *ocispec.ImageConfig) {
	if c.User == "" {
		c.User = ic.User
	}
	if c.WorkingDir == "" {
		c.WorkingDir = ic.WorkingDir
	}
	if len(c.Entrypoint) == 0 && c.Entrypoint == nil {
		c.Entrypoint = ic.Entrypoint
		if len(c.Cmd) == 0 {
			c.Cmd = ic.Cmd
		}
	}
	if c.Entrypoint != nil && len(c.Entrypoint) == 0 {
		// --entrypoint "": no entrypoint at all.
		c.Entrypoint = nil
	}
	c.Env = mergeEnv(ic.Env, c.Env)
	if len(ic.Labels) > 0 {
		l := map[string]string{}
		for k, v := range ic.Labels {
			l[k] = v
		}
		for k, v := range c.Labels {
			l[k] = v
		}
		c.Labels = l
	}
	for p := range ic.ExposedPorts {
		if !contains(c.ExposedPorts, p) {
			c.ExposedPorts = append(c.ExposedPorts, p)
		}
	}
	for v := range ic.Volumes {
		if !contains(c.Volumes, v) {
			c.Volumes = append(c.Volumes, v)
		}
	}
	if c.StopSignal == "" {
		c.StopSignal = ic.StopSignal
	}
}

// mergeEnv overlays over on base, by variable name, keeping base's order.
func mergeEnv(base, over []string) []string {
	out := append([]string(nil), base...)
	idx := map[string]int{}
	for i, kv := range out {
		k, _, _ := strings.Cut(kv, "=")
		idx[k] = i
	}
	for _, kv := range over {
		k, _, _ := strings.Cut(kv, "=")
		if i, ok := idx[k]; ok {
			out[i] = kv
			continue
		}
		idx[k] = len(out)
		out = append(out, kv)
	}
	return out
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

// writeFiles writes /etc/hostname, /etc/hosts and /etc/resolv.conf for c.
func (e *Engine) writeFiles(c *Container) error {
	dir := e.containerDir(c.ID)
	c.HostnamePath = filepath.Join(dir, "hostname")
	c.HostsPath = filepath.Join(dir, "hosts")
	c.ResolvConfPath = filepath.Join(dir, "resolv.conf")
	c.LogPath = ""
	if c.HostConfig.LogConfig.Type == "json-file" {
		c.LogPath = filepath.Join(dir, c.ID+"-json.log")
	}
	hostname := c.Config.Hostname
	if c.Config.Domainname != "" {
		hostname += "." + c.Config.Domainname
	}
	hosts, err := hostsFile(c, nil)
	if err != nil {
		return err
	}
	resolv, err := resolvConf(c, readHostResolvConf(), "")
	if err != nil {
		return err
	}
	// Without waiting for the disk (three fsyncs were 1.1 ms of each
	// create): after a host crash, start finds one empty and writes them
	// again (restoreFiles).
	for path, data := range map[string]string{c.HostnamePath: hostname + "\n", c.HostsPath: hosts, c.ResolvConfPath: resolv} {
		if err := atomicfile.Replace(path, []byte(data), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// restoreFiles writes c's hostname, hosts and resolv.conf again if one is
// missing or empty: what a host crash can leave of writeFiles' work.
func (e *Engine) restoreFiles(c *Container) error {
	for _, p := range []string{c.HostnamePath, c.HostsPath, c.ResolvConfPath} {
		if fi, err := os.Stat(p); err != nil || fi.Size() == 0 {
			return e.writeFiles(c)
		}
	}
	return nil
}

// hostsFile is /etc/hosts: the host's for host networking, else
// localhost, the container's addresses (ips) under its hostname, and
// --add-host.
func hostsFile(c *Container, ips []string) (string, error) {
	var b strings.Builder
	if c.HostConfig.NetworkMode == "host" {
		if host, err := os.ReadFile("/etc/hosts"); err == nil {
			b.Write(host)
			if len(host) > 0 && host[len(host)-1] != '\n' {
				b.WriteByte('\n')
			}
		}
	} else {
		b.WriteString("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n")
	}
	hostname := c.Config.Hostname
	if c.Config.Domainname != "" {
		hostname += "." + c.Config.Domainname + " " + c.Config.Hostname
	}
	for _, ip := range ips {
		fmt.Fprintf(&b, "%s\t%s\n", ip, hostname)
	}
	for _, h := range c.HostConfig.ExtraHosts {
		name, ip, ok := strings.Cut(h, ":")
		if i := strings.Index(h, "="); i > 0 {
			name, ip, ok = h[:i], h[i+1:], true
		}
		if !ok || name == "" || ip == "" {
			return "", errInvalid("invalid argument %q for \"--add-host\" flag: bad format for add-host", h)
		}
		ip = strings.TrimSuffix(strings.TrimPrefix(ip, "["), "]")
		fmt.Fprintf(&b, "%s\t%s\n", ip, name)
	}
	return b.String(), nil
}

func readHostResolvConf() string {
	b, _ := os.ReadFile("/etc/resolv.conf")
	return string(b)
}

// resolvConf is the host's resolv.conf with loopback name servers dropped
// (they mean nothing in another network namespace) and --dns,
// --dns-search, --dns-option applied, as Docker does. On a user-defined
// network (dnsServer set) the embedded DNS is the only name server, with
// "ndots:0" as Docker's; it forwards other names to the host's.
func resolvConf(c *Container, host, dnsServer string) (string, error) {
	var ns, search, opts []string
	for _, line := range strings.Split(host, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || strings.HasPrefix(f[0], "#") || strings.HasPrefix(f[0], ";") {
			continue
		}
		switch f[0] {
		case "nameserver":
			if c.HostConfig.NetworkMode == "host" || !(strings.HasPrefix(f[1], "127.") || f[1] == "::1") {
				ns = append(ns, f[1])
			}
		case "search":
			search = f[1:]
		case "options":
			opts = append(opts, f[1:]...)
		}
	}
	if len(c.HostConfig.DNS) > 0 {
		ns = c.HostConfig.DNS
	}
	if len(c.HostConfig.DNSSearch) > 0 {
		search = c.HostConfig.DNSSearch
		if len(search) == 1 && search[0] == "." {
			search = nil
		}
	}
	if len(c.HostConfig.DNSOptions) > 0 {
		opts = c.HostConfig.DNSOptions
	}
	if dnsServer != "" {
		ns = []string{dnsServer}
		if !hasOption(opts, "ndots") {
			opts = append([]string{"ndots:0"}, opts...)
		}
	}
	var b strings.Builder
	for _, n := range ns {
		fmt.Fprintf(&b, "nameserver %s\n", n)
	}
	if len(search) > 0 {
		fmt.Fprintf(&b, "search %s\n", strings.Join(search, " "))
	}
	if len(opts) > 0 {
		fmt.Fprintf(&b, "options %s\n", strings.Join(opts, " "))
	}
	return b.String(), nil
}

// cleanupFiles removes what a container left on disk: its writable layer,
// its files and logs, and its state directory.
func (e *Engine) cleanupFiles(id string) {
	dir := e.stateDir(id)
	_ = unmountAll(filepath.Join(dir, "rootfs"))
	if err := os.RemoveAll(dir); err != nil {
		e.warn(fmt.Sprintf("container %s: %v", id, err))
	}
	if err := e.layers.RemoveActive(id); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
		e.warn(fmt.Sprintf("container %s: writable layer: %v", id, err))
	}
	if err := e.trash.Discard(e.containerDir(id)); err != nil {
		e.warn(fmt.Sprintf("container %s: %v", id, err))
	}
}

// hasOption reports whether resolv.conf options set name (name or name:N).
func hasOption(opts []string, name string) bool {
	for _, o := range opts {
		if o == name || strings.HasPrefix(o, name+":") {
			return true
		}
	}
	return false
}
