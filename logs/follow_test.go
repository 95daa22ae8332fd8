package logs

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

type follower struct {
	entries chan Entry
	done    chan error
}

func follow(ctx context.Context, t *testing.T, path string, o ReadOpts) *follower {
	t.Helper()
	o.Follow = true
	f := &follower{entries: make(chan Entry, 1000), done: make(chan error, 1)}
	go func() {
		f.done <- Read(ctx, path, o, func(e Entry) error {
			f.entries <- e
			return nil
		})
	}()
	return f
}

// next waits for the next entry.
func (f *follower) next(t *testing.T) Entry {
	t.Helper()
	select {
	case e := <-f.entries:
		return e
	case err := <-f.done:
		// Read sends every entry before it returns.
		select {
		case e := <-f.entries:
			f.done <- err
			return e
		default:
		}
		t.Fatalf("Read returned %v while an entry was expected", err)
	case <-time.After(5 * time.Second):
		t.Fatal("no entry within 5s")
	}
	return Entry{}
}

func (f *follower) expect(t *testing.T, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		if e := f.next(t); string(e.Line) != strconv.Itoa(i)+"\n" {
			t.Fatalf("got %q, want %d", e.Line, i)
		}
	}
}

func (f *follower) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-f.done:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("Read did not return within 5s")
		return nil
	}
}

func TestFollowAppendsAndRotation(t *testing.T) {
	w, path := newWriter(t, 500, 3) // about 7 records a file
	now := clock()
	writeN(t, w, 0, 3, now)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := follow(ctx, t, path, ReadOpts{Tail: 1, Stdout: true})
	f.expect(t, 2, 3)
	// In step: many rotations, one record at a time.
	for i := 3; i < 40; i++ {
		writeN(t, w, i, 1, now)
		f.expect(t, i, i+1)
	}
	// In bursts: a rotation or two while the follower sleeps.
	for i := 40; i < 100; i += 10 {
		writeN(t, w, i, 10, now)
		f.expect(t, i, i+10)
	}
	cancel()
	if err := f.wait(t); !errors.Is(err, context.Canceled) {
		t.Errorf("after cancel: %v", err)
	}
}

func TestFollowFromStart(t *testing.T) {
	w, path := newWriter(t, 500, 3)
	now := clock()
	writeN(t, w, 0, 10, now) // one rotation
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := follow(ctx, t, path, ReadOpts{Tail: -1, Stdout: true})
	f.expect(t, 0, 10)
	writeN(t, w, 10, 5, now)
	f.expect(t, 10, 15)
}

func TestFollowPartialRecord(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	rec := appendRecord(nil, "stdout", []byte("0\n"), t0)
	if err := os.WriteFile(path, rec[:10], 0o640); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := follow(ctx, t, path, ReadOpts{Tail: 10, Stdout: true})
	time.Sleep(50 * time.Millisecond)
	fh, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	fh.Write(rec[10:])
	f.expect(t, 0, 1)
}

func TestFollowDoneDrains(t *testing.T) {
	w, path := newWriter(t, 1000, 3) // room for all 20: the follower may start late
	now := clock()
	done := make(chan struct{})
	f := follow(context.Background(), t, path, ReadOpts{Tail: -1, Stdout: true, Done: done})
	writeN(t, w, 0, 20, now) // with rotations
	w.Close()
	close(done)
	if err := f.wait(t); err != nil {
		t.Fatalf("Read: %v", err)
	}
	close(f.entries)
	var got []Entry
	for e := range f.entries {
		got = append(got, e)
	}
	sequence(t, got, 0, 20)
}

// With the follower between two polls and no file watch, Done still drains.
func TestFollowPolling(t *testing.T) {
	w, path := newWriter(t, 0, 1)
	done := make(chan struct{})
	ctx := context.Background()
	var got []Entry
	r := &reader{ctx: ctx, path: path, o: ReadOpts{Tail: -1, Stdout: true, Stderr: true, Follow: true, Done: done},
		fn: func(e Entry) error { got = append(got, e); return nil }}
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	res := make(chan error, 1)
	go func() { res <- r.follow(&tailer{f: fh}, nil) }()
	writeN(t, w, 0, 3, clock())
	close(done)
	select {
	case err := <-res:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("follow did not return")
	}
	sequence(t, got, 0, 3)
}

func TestFollowUntil(t *testing.T) {
	w, path := newWriter(t, 0, 1)
	writeN(t, w, 0, 2, time.Now)
	start := time.Now()
	f := follow(context.Background(), t, path, ReadOpts{Tail: -1, Stdout: true, Until: start.Add(time.Second)})
	f.expect(t, 0, 2)
	if err := w.WriteEntry("stdout", []byte("2\n"), time.Now()); err != nil {
		t.Fatal(err)
	}
	f.expect(t, 2, 3)
	if err := f.wait(t); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < time.Second {
		t.Errorf("returned after %v, before Until", d)
	}
	// An Until in the past: no follow at all.
	f = follow(context.Background(), t, path, ReadOpts{Tail: -1, Stdout: true, Until: time.Now()})
	f.expect(t, 0, 3)
	if err := f.wait(t); err != nil {
		t.Fatal(err)
	}
}

func TestFollowWaitsForFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "later.log")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := follow(ctx, t, path, ReadOpts{Tail: -1, Stdout: true})
	time.Sleep(50 * time.Millisecond)
	w, err := NewWriter(path, 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	writeN(t, w, 0, 2, clock())
	f.expect(t, 0, 2)
}

func TestFollowFnErrorStops(t *testing.T) {
	w, path := newWriter(t, 0, 1)
	writeN(t, w, 0, 5, clock())
	stop := errors.New("client gone")
	n := 0
	err := Read(context.Background(), path, ReadOpts{Tail: -1, Stdout: true, Follow: true}, func(Entry) error {
		n++
		return stop
	})
	if err != stop || n != 1 {
		t.Errorf("got %v after %d entries", err, n)
	}
}
