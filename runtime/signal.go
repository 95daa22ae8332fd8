package runtime

import (
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/errdefs"
)

// ParseSignal accepts a signal as "SIGTERM", "TERM", "term", a number, or
// "SIGRTMIN+N" / "SIGRTMAX-N".
func ParseSignal(s string) (unix.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n <= 0 || n > 64 {
			return 0, fmt.Errorf("invalid signal: %s (out of range 1-64): %w", s, errdefs.ErrInvalidArgument)
		}
		return unix.Signal(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return sig, nil
	}
	if base, off, ok := strings.Cut(name, "+"); ok && base == "SIGRTMIN" {
		if n, err := strconv.Atoi(off); err == nil && n >= 0 && n <= 30 {
			return unix.Signal(34 + n), nil
		}
	}
	if base, off, ok := strings.Cut(name, "-"); ok && base == "SIGRTMAX" {
		if n, err := strconv.Atoi(off); err == nil && n >= 0 && n <= 30 {
			return unix.Signal(64 - n), nil
		}
	}
	return 0, fmt.Errorf("invalid signal: %s: %w", s, errdefs.ErrInvalidArgument)
}
