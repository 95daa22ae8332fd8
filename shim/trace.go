package shim

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// traceOn is BERTH_TRACE=1: the shim writes the time of each step of a
// start to its stderr (STATEDIR/trace.log), as the runtime does.
var traceOn = os.Getenv("BERTH_TRACE") != ""

func tr(phase string) {
	if !traceOn {
		return
	}
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	fmt.Fprintf(os.Stderr, "%.3f [%d] shim: %s\n", float64(ts.Sec%1000*1000)+float64(ts.Nsec)/1e6, os.Getpid(), phase)
}
