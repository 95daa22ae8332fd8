package runtime

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// With BERTH_TRACE set, the runtime prints a monotonic timestamp (ms) at each
// phase of create, start and delete, in this process and in the init process,
// so that start-up time can be attributed ("sort -n" merges the two).
var traceOn = os.Getenv("BERTH_TRACE") != ""

// Trace prints phase with the time when BERTH_TRACE is set (the shim's
// steps use it too, so their lines merge with the runtime's).
func Trace(phase string) { tr(phase) }

func tr(phase string) {
	if !traceOn {
		return
	}
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	fmt.Fprintf(os.Stderr, "%.3f [%d] %s\n", float64(ts.Sec%1000*1000)+float64(ts.Nsec)/1e6, os.Getpid(), phase)
}
