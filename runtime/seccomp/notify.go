package seccomp

import specs "github.com/opencontainers/runtime-spec/specs-go"

// Notifies reports whether the filter hands any syscall to a user-space
// listener (SCMP_ACT_NOTIFY), so the caller knows a notify fd will come out
// of Load.
func Notifies(cfg *specs.LinuxSeccomp) bool {
	if cfg == nil {
		return false
	}
	if cfg.DefaultAction == specs.ActNotify {
		return true
	}
	for _, sc := range cfg.Syscalls {
		if sc.Action == specs.ActNotify {
			return true
		}
	}
	return false
}
