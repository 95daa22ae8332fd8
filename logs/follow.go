package logs

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"
)

// Poll intervals of a follower: without a file watch, and as a safety net
// with one.
const (
	pollInterval     = 100 * time.Millisecond
	safetyPoll       = time.Second
	maxRotatedLookup = 1000
)

// follow reads what the writer appends to the live file (t, nil if it does
// not exist yet) and the files it rotates in, until ctx is done, Done is
// closed or the clock passes Until.
func (r *reader) follow(t *tailer, wake <-chan struct{}) error {
	var until <-chan time.Time
	if !r.o.Until.IsZero() {
		d := time.Until(r.o.Until)
		if d <= 0 {
			return nil
		}
		timer := time.NewTimer(d)
		defer timer.Stop()
		until = timer.C
	}
	interval := safetyPoll
	if wake == nil {
		interval = pollInterval
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	defer func() {
		if t != nil {
			t.f.Close()
		}
	}()

	done := r.o.Done
	last := false // a last pass: Done was closed or Until passed
	for {
		if t != nil {
			if err := t.readLines(r.line); err != nil {
				return err
			}
		}
		next, err := r.rotated(t)
		if err != nil {
			return err
		}
		if next != nil {
			t = next
			continue
		}
		if last {
			return nil
		}
		select {
		case <-r.ctx.Done():
			return r.ctx.Err()
		case <-done:
			last = true
		case <-until:
			last = true
		case <-wake:
		case <-tick.C:
		}
	}
}

// rotated checks whether path is still t's file. If the writer has rotated
// it (or created it), rotated reads what t and the files rotated since hold,
// closes t, and returns a tailer on the new live file; otherwise nil.
func (r *reader) rotated(t *tailer) (*tailer, error) {
	st, err := os.Stat(r.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("logs: %w", err)
	}
	var cur os.FileInfo
	if t != nil {
		if cur, err = t.f.Stat(); err != nil {
			return nil, fmt.Errorf("logs: %w", err)
		}
		if os.SameFile(cur, st) {
			if cur.Size() < t.off+int64(len(t.buf)) { // truncated by someone else
				t.off, t.buf = 0, t.buf[:0]
			}
			return nil, nil
		}
	}
	next, err := os.Open(r.path)
	if err != nil {
		return nil, fmt.Errorf("logs: %w", err)
	}
	if t != nil {
		// The writer is done with t's file: read its end.
		if err := t.readLines(r.line); err != nil {
			next.Close()
			return nil, err
		}
		t.f.Close()
	}
	// Then the files rotated after it, if the follower fell more than one
	// rotation behind (all of them if there was no file).
	if err := r.missed(cur, next); err != nil {
		next.Close()
		return nil, err
	}
	return &tailer{f: next}, nil
}

// missed reads, oldest first, the rotated files newer than old (the file
// the follower was on, nil for none) that are not live.
func (r *reader) missed(old os.FileInfo, live *os.File) error {
	liveSt, err := live.Stat()
	if err != nil {
		return fmt.Errorf("logs: %w", err)
	}
	var newer []string
	for i := 1; i < maxRotatedLookup; i++ {
		name := r.path + "." + strconv.Itoa(i)
		st, err := os.Stat(name)
		if err != nil || os.SameFile(st, old) {
			break // newer holds the files rotated after old, newest first
		}
		if !os.SameFile(st, liveSt) {
			newer = append(newer, name)
		}
	}
	for i := len(newer) - 1; i >= 0; i-- {
		f, err := os.Open(newer[i])
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("logs: %w", err)
		}
		err = r.readAll(f)
		f.Close()
		if err != nil {
			return err
		}
	}
	return nil
}
