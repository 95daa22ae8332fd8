package specgen

import "strings"

// defaultCaps is the capability set Docker gives a container, in Docker's
// order.
var defaultCaps = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
	"CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
	"CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

// allCaps is every capability of the kernel headers, by number (0 to 40).
var allCaps = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER",
	"CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP",
	"CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
	"CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
	"CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
	"CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
	"CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD",
	"CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP",
	"CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
	"CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
	"CAP_CHECKPOINT_RESTORE",
}

// AllCapabilities returns the names of every capability a privileged
// container gets (what --cap-add ALL adds).
func AllCapabilities() []string { return clone(allCaps) }

// capabilities applies --cap-add and --cap-drop to Docker's default set the
// way Docker does: a privileged container gets everything; "ALL" in
// --cap-add means every capability but those dropped; otherwise "ALL" in
// --cap-drop leaves exactly what was added; otherwise the drops are taken
// from the defaults and the adds appended. Names are case-insensitive and
// may omit the "CAP_" prefix; an unknown name is an error.
func capabilities(add, drop []string, privileged bool) ([]string, error) {
	if privileged {
		return AllCapabilities(), nil
	}
	adds, err := normalizeCaps(add, "--cap-add")
	if err != nil {
		return nil, err
	}
	drops, err := normalizeCaps(drop, "--cap-drop")
	if err != nil {
		return nil, err
	}
	var out []string
	switch {
	case contains(adds, "ALL"):
		for _, c := range allCaps {
			if !contains(drops, c) {
				out = append(out, c)
			}
		}
	case contains(drops, "ALL"):
		out = adds
	default:
		for _, c := range defaultCaps {
			if !contains(drops, c) {
				out = append(out, c)
			}
		}
		out = append(out, adds...)
	}
	return unique(out), nil
}

// normalizeCaps upper-cases names and adds the CAP_ prefix ("ALL" stays).
func normalizeCaps(names []string, flag string) ([]string, error) {
	out := make([]string, 0, len(names))
	for _, n := range names {
		c := strings.ToUpper(strings.TrimSpace(n))
		if c == "ALL" {
			out = append(out, c)
			continue
		}
		if !strings.HasPrefix(c, "CAP_") {
			c = "CAP_" + c
		}
		if !contains(allCaps, c) {
			return nil, invalid("%s: unknown capability %q", flag, n)
		}
		out = append(out, c)
	}
	return out, nil
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

// unique drops repeated names, keeping the first; it never returns nil for
// an empty set, so the spec says "no capabilities" rather than nothing.
func unique(list []string) []string {
	out := []string{}
	for _, s := range list {
		if !contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}
