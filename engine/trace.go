package engine

import (
	"fmt"
	"os"
	"time"
)

// traceOn is BERTH_TRACE=1: the daemon logs the time each step of a start
// takes (to its stderr), as the runtime and the shim do.
var traceOn = os.Getenv("BERTH_TRACE") != ""

type tracer struct {
	id   string
	last time.Time
}

func newTracer(id string) *tracer {
	if !traceOn {
		return nil
	}
	return &tracer{id: id[:12], last: time.Now()}
}

func (t *tracer) step(what string) {
	if t == nil {
		return
	}
	now := time.Now()
	fmt.Fprintf(os.Stderr, "trace %s %-24s %6.2f ms\n", t.id, what, float64(now.Sub(t.last).Microseconds())/1000)
	t.last = now
}
