package cli

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
)

// listOpts is a repeatable flag whose values are checked (and maybe
// normalised) as they are set, as the docker CLI's opts.ListOpts.
type listOpts struct {
	values   []string
	validate func(string) (string, error)
}

func newListOpts(validate func(string) (string, error)) *listOpts {
	return &listOpts{validate: validate}
}

func (o *listOpts) String() string {
	if len(o.values) == 0 {
		return "[]"
	}
	return "[" + strings.Join(o.values, " ") + "]"
}
func (o *listOpts) Type() string { return "list" }
func (o *listOpts) Set(v string) error {
	if o.validate != nil {
		var err error
		if v, err = o.validate(v); err != nil {
			return err
		}
	}
	o.values = append(o.values, v)
	return nil
}

// orEmpty returns the values, an empty (not nil) list if there are none.
func (o *listOpts) orEmpty() []string {
	if o.values == nil {
		return []string{}
	}
	return o.values
}

// mapOpts is a repeatable key=value flag collected into a map.
type mapOpts struct {
	values   map[string]string
	validate func(string) (string, error)
}

func (o *mapOpts) String() string { return fmt.Sprint(o.values) }
func (o *mapOpts) Type() string   { return "map" }
func (o *mapOpts) Set(v string) error {
	if o.validate != nil {
		var err error
		if v, err = o.validate(v); err != nil {
			return err
		}
	}
	if o.values == nil {
		o.values = map[string]string{}
	}
	k, val, _ := strings.Cut(v, "=")
	o.values[k] = val
	return nil
}

// all returns the map, empty (not nil) if no value was set.
func (o *mapOpts) all() map[string]string {
	if o.values == nil {
		return map[string]string{}
	}
	return o.values
}

func validateAttach(v string) (string, error) {
	s := strings.ToLower(v)
	switch s {
	case "stdin", "stdout", "stderr":
		return s, nil
	}
	return v, errors.New("valid streams are STDIN, STDOUT and STDERR")
}

func validateEnv(v string) (string, error) {
	k, _, hasValue := strings.Cut(v, "=")
	if k == "" {
		return "", fmt.Errorf("invalid environment variable: %s", v)
	}
	if hasValue {
		return v, nil
	}
	if val, ok := os.LookupEnv(k); ok {
		return k + "=" + val, nil
	}
	return v, nil
}

func validateLabel(v string) (string, error) {
	k, _, _ := strings.Cut(v, "=")
	if strings.TrimSpace(k) == "" {
		return "", fmt.Errorf("invalid label '%s': empty name", v)
	}
	return v, nil
}

func validateIP(v string) (string, error) {
	ip := net.ParseIP(strings.TrimSpace(v))
	if ip == nil {
		return "", fmt.Errorf("IP address is not correctly formatted: %s", v)
	}
	return ip.String(), nil
}

func validateDNSSearch(v string) (string, error) {
	v = strings.Trim(v, " ")
	if v == "." {
		return v, nil
	}
	d := strings.TrimSuffix(v, ".")
	if d == "" || strings.HasPrefix(d, ".") || len(d) > 255 {
		return "", fmt.Errorf("%s is not a valid domain", v)
	}
	return v, nil
}

func validateExtraHost(v string) (string, error) {
	k, ip, ok := strings.Cut(v, "=")
	if !ok {
		k, ip, ok = strings.Cut(v, ":")
	}
	if !ok || k == "" || strings.Contains(k, ":") {
		return "", fmt.Errorf("bad format for add-host: %q", v)
	}
	if ip != "host-gateway" {
		if len(ip) > 2 && ip[0] == '[' && ip[len(ip)-1] == ']' {
			ip = ip[1 : len(ip)-1]
		}
		if _, err := validateIP(ip); err != nil {
			return "", fmt.Errorf("invalid IP address in add-host: %q", ip)
		}
	}
	return k + ":" + ip, nil
}

func validateSysctl(v string) (string, error) {
	k, _, ok := strings.Cut(v, "=")
	if !ok || k == "" {
		return "", fmt.Errorf("sysctl '%s' is not allowed", v)
	}
	switch k {
	case "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall",
		"kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced":
		return v, nil
	}
	if strings.HasPrefix(k, "net.") || strings.HasPrefix(k, "fs.mqueue.") {
		return v, nil
	}
	return "", fmt.Errorf("sysctl '%s' is not allowed", v)
}

func validateLink(v string) (string, error) {
	name, alias, ok := strings.Cut(v, ":")
	if name == "" || ok && alias == "" || strings.Count(v, ":") > 1 {
		return "", fmt.Errorf("invalid format for link: %s", v)
	}
	return v, nil
}

// ulimitOpts is --ulimit; a later value for a name replaces an earlier one.
type ulimitOpts struct{ values []*container.Ulimit }

func (o *ulimitOpts) String() string { return "" }
func (o *ulimitOpts) Type() string   { return "ulimit" }
func (o *ulimitOpts) Set(v string) error {
	u, err := parseUlimit(v)
	if err != nil {
		return err
	}
	for i, old := range o.values {
		if old.Name == u.Name {
			o.values[i] = u
			return nil
		}
	}
	o.values = append(o.values, u)
	return nil
}

// list returns the ulimits, empty (not nil) if none was set.
func (o *ulimitOpts) list() []*container.Ulimit {
	if o.values == nil {
		return []*container.Ulimit{}
	}
	return o.values
}

// readKVFile reads a docker env or label file: KEY=VALUE lines, '#'
// comments and blank lines skipped; a bare KEY takes its value from the
// environment when lookupEnv is set.
func readKVFile(name string, lookupEnv bool) ([]string, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	b = bytes.TrimPrefix(b, []byte{0xEF, 0xBB, 0xBF})
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		raw := sc.Text()
		if !utf8.ValidString(raw) {
			return nil, fmt.Errorf("env file %s contains invalid utf8 bytes at line %d: %v", name, n, []byte(raw))
		}
		line := strings.TrimLeftFunc(raw, unicode.IsSpace)
		if line == "" || line[0] == '#' {
			continue
		}
		k, _, hasValue := strings.Cut(line, "=")
		if k == "" {
			return nil, fmt.Errorf("no variable name on line '%s'", line)
		}
		if strings.ContainsAny(k, " \t") {
			return nil, fmt.Errorf("variable '%s' contains whitespaces", k)
		}
		if hasValue {
			lines = append(lines, line)
			continue
		}
		if lookupEnv {
			if v, ok := os.LookupEnv(line); ok {
				lines = append(lines, line+"="+v)
			}
		}
	}
	return lines, sc.Err()
}

// readKVStrings is the docker CLI's opts.ReadKVStrings/ReadKVEnvStrings:
// the files' lines, then the flags' values.
func readKVStrings(files, override []string, env bool) ([]string, error) {
	var out []string
	for _, f := range files {
		lines, err := readKVFile(f, env)
		if err != nil {
			return nil, err
		}
		out = append(out, lines...)
	}
	return append(out, override...), nil
}

func kvMap(list []string) map[string]string {
	m := make(map[string]string, len(list))
	for _, s := range list {
		k, v, _ := strings.Cut(s, "=")
		m[k] = v
	}
	return m
}

// mountOpts is --mount: CSV fields, as the docker CLI's opts.MountOpt.
type mountOpts struct{ values []mount.Mount }

func (o *mountOpts) String() string { return "" }
func (o *mountOpts) Type() string   { return "mount" }

func (o *mountOpts) Set(value string) error {
	fields, err := csv.NewReader(strings.NewReader(value)).Read()
	if err != nil {
		return err
	}
	m := mount.Mount{Type: mount.TypeVolume}
	volumeOptions := func() *mount.VolumeOptions {
		if m.VolumeOptions == nil {
			m.VolumeOptions = &mount.VolumeOptions{Labels: map[string]string{}}
		}
		if m.VolumeOptions.DriverConfig == nil {
			m.VolumeOptions.DriverConfig = &mount.Driver{}
		}
		return m.VolumeOptions
	}
	bindOptions := func() *mount.BindOptions {
		if m.BindOptions == nil {
			m.BindOptions = &mount.BindOptions{}
		}
		return m.BindOptions
	}
	tmpfsOptions := func() *mount.TmpfsOptions {
		if m.TmpfsOptions == nil {
			m.TmpfsOptions = &mount.TmpfsOptions{}
		}
		return m.TmpfsOptions
	}
	imageOptions := func() *mount.ImageOptions {
		if m.ImageOptions == nil {
			m.ImageOptions = &mount.ImageOptions{}
		}
		return m.ImageOptions
	}
	setKV := func(target map[string]string, v string) {
		k, val, _ := strings.Cut(v, "=")
		if k != "" {
			target[k] = val
		}
	}
	for _, field := range fields {
		key, val, ok := strings.Cut(field, "=")
		key = strings.ToLower(key)
		if !ok {
			switch key {
			case "readonly", "ro":
				m.ReadOnly = true
				continue
			case "volume-nocopy":
				volumeOptions().NoCopy = true
				continue
			case "bind-nonrecursive":
				bindOptions().NonRecursive = true
				continue
			}
			return fmt.Errorf("invalid field '%s' must be a key=value pair", field)
		}
		switch key {
		case "type":
			m.Type = mount.Type(strings.ToLower(val))
		case "source", "src":
			m.Source = val
			if strings.HasPrefix(val, "."+string(filepath.Separator)) || val == "." {
				if abs, err := filepath.Abs(val); err == nil {
					m.Source = abs
				}
			}
		case "target", "dst", "destination":
			m.Target = val
		case "readonly", "ro":
			if m.ReadOnly, err = strconv.ParseBool(val); err != nil {
				return fmt.Errorf("invalid value for %s: %s", key, val)
			}
		case "consistency":
			m.Consistency = mount.Consistency(strings.ToLower(val))
		case "bind-propagation":
			bindOptions().Propagation = mount.Propagation(strings.ToLower(val))
		case "bind-nonrecursive":
			return errors.New("bind-nonrecursive is deprecated, use bind-recursive=disabled instead")
		case "bind-recursive":
			switch val {
			case "enabled":
			case "disabled":
				bindOptions().NonRecursive = true
			case "writable":
				bindOptions().ReadOnlyNonRecursive = true
			case "readonly":
				bindOptions().ReadOnlyForceRecursive = true
			default:
				return fmt.Errorf("invalid value for %s: %s (must be \"enabled\", \"disabled\", \"writable\", or \"readonly\")", key, val)
			}
		case "volume-subpath":
			volumeOptions().Subpath = val
		case "volume-nocopy":
			if volumeOptions().NoCopy, err = strconv.ParseBool(val); err != nil {
				return fmt.Errorf("invalid value for volume-nocopy: %s", val)
			}
		case "volume-label":
			setKV(volumeOptions().Labels, val)
		case "volume-driver":
			volumeOptions().DriverConfig.Name = val
		case "volume-opt":
			if volumeOptions().DriverConfig.Options == nil {
				volumeOptions().DriverConfig.Options = map[string]string{}
			}
			setKV(volumeOptions().DriverConfig.Options, val)
		case "image-subpath":
			imageOptions().Subpath = val
		case "tmpfs-size":
			n, err := ramInBytes(val)
			if err != nil {
				return fmt.Errorf("invalid value for %s: %s", key, val)
			}
			tmpfsOptions().SizeBytes = n
		case "tmpfs-mode":
			n, err := strconv.ParseUint(val, 8, 32)
			if err != nil {
				return fmt.Errorf("invalid value for %s: %s", key, val)
			}
			tmpfsOptions().Mode = os.FileMode(n)
		default:
			return fmt.Errorf("unexpected key '%s' in '%s'", key, field)
		}
	}
	if m.Type == "" {
		return errors.New("type is required")
	}
	if m.Target == "" {
		return errors.New("target is required")
	}
	if m.VolumeOptions != nil && m.Type != mount.TypeVolume {
		return fmt.Errorf("cannot mix 'volume-*' options with mount type '%s'", m.Type)
	}
	if m.ImageOptions != nil && m.Type != mount.TypeImage {
		return fmt.Errorf("cannot mix 'image-*' options with mount type '%s'", m.Type)
	}
	if m.BindOptions != nil && m.Type != mount.TypeBind {
		return fmt.Errorf("cannot mix 'bind-*' options with mount type '%s'", m.Type)
	}
	if m.TmpfsOptions != nil && m.Type != mount.TypeTmpfs {
		return fmt.Errorf("cannot mix 'tmpfs-*' options with mount type '%s'", m.Type)
	}
	if b := m.BindOptions; b != nil {
		if b.ReadOnlyNonRecursive && !m.ReadOnly {
			return errors.New("option 'bind-recursive=writable' requires 'readonly' to be specified in conjunction")
		}
		if b.ReadOnlyForceRecursive {
			if !m.ReadOnly {
				return errors.New("option 'bind-recursive=readonly' requires 'readonly' to be specified in conjunction")
			}
			if b.Propagation != mount.PropagationRPrivate {
				return errors.New("option 'bind-recursive=readonly' requires 'bind-propagation=rprivate' to be specified in conjunction")
			}
		}
	}
	o.values = append(o.values, m)
	return nil
}

// networkAttach is one --network value: a name, or the advanced CSV form
// name=NET,alias=A,ip=...,driver-opt=k=v.
type networkAttach struct {
	Target       string
	Aliases      []string
	DriverOpts   map[string]string
	Links        []string
	IPv4, IPv6   string
	LinkLocalIPs []string
	MacAddress   string
	GwPriority   int
}

type networkOpts struct{ values []networkAttach }

func (o *networkOpts) String() string { return "" }
func (o *networkOpts) Type() string   { return "network" }

func (o *networkOpts) Set(value string) error {
	fields, err := csv.NewReader(strings.NewReader(value)).Read()
	if err != nil {
		return err
	}
	var n networkAttach
	for _, field := range fields {
		key, val, ok := strings.Cut(field, "=")
		if !ok || key == "" {
			if len(fields) == 1 {
				n.Target = value
				break
			}
			return fmt.Errorf("invalid field key %s", key)
		}
		switch strings.TrimSpace(strings.ToLower(key)) {
		case "name":
			n.Target = val
		case "alias":
			n.Aliases = append(n.Aliases, val)
		case "ip":
			n.IPv4 = val
		case "ip6":
			n.IPv6 = val
		case "mac-address":
			n.MacAddress = val
		case "link-local-ip":
			n.LinkLocalIPs = append(n.LinkLocalIPs, val)
		case "driver-opt":
			k, v, ok := strings.Cut(val, "=")
			if !ok || k == "" {
				return fmt.Errorf("invalid key value pair format in driver options")
			}
			if n.DriverOpts == nil {
				n.DriverOpts = map[string]string{}
			}
			n.DriverOpts[k] = v
		case "gw-priority":
			p, err := strconv.Atoi(val)
			if err != nil {
				return fmt.Errorf("invalid gw-priority: %w", err)
			}
			n.GwPriority = p
		default:
			return errors.New("invalid field key " + key)
		}
	}
	o.values = append(o.values, n)
	return nil
}

// mode returns the HostConfig.NetworkMode: the first network, else "default".
func (o *networkOpts) mode() string {
	if len(o.values) == 0 {
		return "default"
	}
	return o.values[0].Target
}
