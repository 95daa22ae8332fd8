package runtime

import (
	"errors"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/errdefs"
)

func TestParseSignal(t *testing.T) {
	for in, want := range map[string]unix.Signal{"KILL": unix.SIGKILL, "SIGTERM": unix.SIGTERM, "term": unix.SIGTERM,
		"9": unix.SIGKILL, "hup": unix.SIGHUP, "usr1": unix.SIGUSR1, "SIGRTMIN+1": 35, "RTMAX-1": 63} {
		got, err := ParseSignal(in)
		if err != nil || got != want {
			t.Errorf("ParseSignal(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "BOGUS", "0", "65", "-1", "SIGNOPE", "RTMIN+40"} {
		if _, err := ParseSignal(bad); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("ParseSignal(%q): %v, want an invalid-argument error", bad, err)
		}
	}
}
