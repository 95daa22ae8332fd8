package shim

import (
	"strconv"
	"testing"
)

// A health check execs every 30 s for the life of its container: the
// records of execs whose client got the status do not pile up, and those
// of detached ones stay.
func TestSentExecsArePruned(t *testing.T) {
	s := &server{execs: map[string]*execProc{"detached": {}}}
	for i := 0; i < 100; i++ {
		id := "e" + strconv.Itoa(i)
		s.execs[id] = &execProc{}
		s.sent(id)
	}
	if len(s.execs) != keepSent+1 || len(s.sentExecs) != keepSent {
		t.Fatalf("%d records, %d sent: want %d and %d", len(s.execs), len(s.sentExecs), keepSent+1, keepSent)
	}
	for _, id := range []string{"detached", "e99", "e" + strconv.Itoa(100-keepSent)} {
		if s.execs[id] == nil {
			t.Errorf("record %s is gone", id)
		}
	}
	if s.execs["e0"] != nil || s.execs["e"+strconv.Itoa(99-keepSent)] != nil {
		t.Errorf("old records stay")
	}
}
