package logs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"time"
)

// Entry is one record of a log file.
type Entry struct {
	Stream string // "stdout" or "stderr"
	// Line is the log text as written: with its trailing newline, or without
	// one for a partial record. It is the caller's to keep.
	Line []byte
	Time time.Time
}

// ReadOpts selects what Read passes on, with `docker logs` semantics.
type ReadOpts struct {
	// Since and Until bound the records' times, both inclusive, as Docker
	// does; a zero time is no bound.
	Since, Until time.Time
	// Tail is how many of the last records to pass on, counted after the
	// stream and time filters, across the rotated files; negative for all.
	// Docker counts lines before filtering; berth counts what is shown.
	Tail int
	// Follow keeps reading after the end: new records, across rotations,
	// until ctx is done, Done is closed, or the clock passes a non-zero Until.
	Follow bool
	// Stdout and Stderr choose the streams; both false is taken as both.
	Stdout, Stderr bool
	// Done, when closed, tells a follower that no more records will be
	// written (close it after the writer is closed): Read reads what is
	// left in the files and returns nil.
	Done <-chan struct{}
}

// Read passes the records of the log file at path to fn, oldest first: the
// rotated files (path.N ... path.1), then path. Lines that are not records
// (a record half-written when the shim died, garbage) are skipped. A missing
// path is an empty log; a follower waits for it to appear. Read returns fn's
// error, ctx's error when ctx is done, or nil.
func Read(ctx context.Context, path string, o ReadOpts, fn func(Entry) error) error {
	if !o.Stdout && !o.Stderr {
		o.Stdout, o.Stderr = true, true
	}
	r := &reader{ctx: ctx, path: path, o: o, fn: fn}
	var wake <-chan struct{}
	if o.Follow {
		// Before the first read, so that nothing written after it is missed.
		var stop func()
		wake, stop = watch(path)
		defer stop()
	}
	live, err := os.Open(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("logs: %w", err)
	}
	var t *tailer // the live file, nil while it does not exist
	if live != nil {
		t = &tailer{f: live}
		defer func() { t.f.Close() }()
	}
	rotated, err := openRotated(path, live)
	defer closeAll(rotated)
	if err != nil {
		return err
	}
	if o.Tail >= 0 {
		err = r.tail(t, rotated)
	} else {
		for _, f := range slices.Backward(rotated) {
			if err = r.readAll(f); err != nil {
				break
			}
		}
		if err == nil && t != nil {
			err = t.readLines(r.line)
		}
	}
	if err != nil || !o.Follow {
		return r.result(err)
	}
	return r.result(r.follow(t, wake))
}

// errStop ends a follow at Until.
var errStop = errors.New("past until")

type reader struct {
	ctx   context.Context
	path  string
	o     ReadOpts
	fn    func(Entry) error
	lines int // lines read forwards, to look at ctx now and then
}

func (r *reader) result(err error) error {
	if err == errStop {
		return nil
	}
	return err
}

// parse decodes a line and applies the filters.
func (r *reader) parse(line []byte) (Entry, bool) {
	stream, log, t, ok := decode(line)
	if !ok {
		return Entry{}, false
	}
	switch stream {
	case "stdout":
		if !r.o.Stdout {
			return Entry{}, false
		}
	case "stderr":
		if !r.o.Stderr {
			return Entry{}, false
		}
	}
	if !r.o.Since.IsZero() && t.Before(r.o.Since) {
		return Entry{}, false
	}
	return Entry{Stream: stream, Line: log, Time: t}, true
}

// line passes on one line read forwards.
func (r *reader) line(line []byte) error {
	if r.lines++; r.lines%256 == 0 {
		if err := r.ctx.Err(); err != nil {
			return err
		}
	}
	e, ok := r.parse(line)
	if !ok {
		return nil
	}
	if !r.o.Until.IsZero() && e.Time.After(r.o.Until) {
		if r.o.Follow {
			return errStop // the rest is later still
		}
		return nil
	}
	return r.fn(e)
}

func (r *reader) readAll(f *os.File) error {
	t := tailer{f: f}
	return t.readLines(r.line)
}

// tail passes on the last o.Tail records, reading the files backwards. The
// live file is read up to its last newline, and t is left there to follow.
func (r *reader) tail(t *tailer, rotated []*os.File) error {
	if r.o.Tail == 0 || (t == nil && len(rotated) == 0) {
		if t != nil {
			off, err := lastNewline(t.f)
			t.off = off
			return err
		}
		return nil
	}
	var got []Entry // newest first
	collect := func(line []byte) bool {
		e, ok := r.parse(line)
		if ok && (r.o.Until.IsZero() || !e.Time.After(r.o.Until)) {
			got = append(got, e)
		}
		return len(got) < r.o.Tail
	}
	files := rotated
	if t != nil {
		off, err := lastNewline(t.f)
		if err != nil {
			return err
		}
		t.off = off
		if err := eachLineBackward(r.ctx, t.f, off, collect); err != nil {
			return err
		}
	}
	for _, f := range files {
		if len(got) >= r.o.Tail {
			break
		}
		st, err := f.Stat()
		if err != nil {
			return fmt.Errorf("logs: %w", err)
		}
		if err := eachLineBackward(r.ctx, f, st.Size(), collect); err != nil {
			return err
		}
	}
	for _, e := range slices.Backward(got) {
		if err := r.fn(e); err != nil {
			return err
		}
	}
	return nil
}

// openRotated opens path.1, path.2 ... (newest first) until one is missing,
// leaving out a file that is live (a rotation between the opens).
func openRotated(path string, live *os.File) ([]*os.File, error) {
	var seen []os.FileInfo
	if live != nil {
		if st, err := live.Stat(); err == nil {
			seen = append(seen, st)
		}
	}
	var files []*os.File
	for i := 1; ; i++ {
		f, err := os.Open(path + "." + strconv.Itoa(i))
		if errors.Is(err, os.ErrNotExist) {
			return files, nil
		}
		if err != nil {
			return files, fmt.Errorf("logs: %w", err)
		}
		st, err := f.Stat()
		if err != nil {
			f.Close()
			return files, fmt.Errorf("logs: %w", err)
		}
		if slices.ContainsFunc(seen, func(s os.FileInfo) bool { return os.SameFile(s, st) }) {
			f.Close()
			continue
		}
		seen = append(seen, st)
		files = append(files, f)
	}
}

func closeAll(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}

// maxRecord bounds a line: more bytes without a newline are garbage. A
// 16 KiB line escapes to at most 96 KiB.
const maxRecord = 1 << 20

// tailer reads a file's lines forwards from off, keeping an incomplete last
// line for later.
type tailer struct {
	f   *os.File
	off int64  // the file offset of buf[0]
	buf []byte // bytes read past off, no complete line among them
}

// readLines calls fn for each complete line between off and the end of the
// file, without its newline; the line is valid only during the call. An
// incomplete last line is left unread.
func (t *tailer) readLines(fn func([]byte) error) error {
	if t.buf == nil {
		t.buf = make([]byte, 0, 64<<10)
	}
	for {
		if len(t.buf) == cap(t.buf) {
			if len(t.buf) >= maxRecord {
				t.off += int64(len(t.buf)) // garbage: drop it
				t.buf = t.buf[:0]
			} else {
				t.buf = append(t.buf, make([]byte, len(t.buf))...)[:len(t.buf)]
			}
		}
		n, rerr := t.f.ReadAt(t.buf[len(t.buf):cap(t.buf)], t.off+int64(len(t.buf)))
		t.buf = t.buf[:len(t.buf)+n]
		p := 0
		var err error
		for err == nil {
			i := bytes.IndexByte(t.buf[p:], '\n')
			if i < 0 {
				break
			}
			line := t.buf[p : p+i]
			p += i + 1
			err = fn(line)
		}
		t.off += int64(p)
		t.buf = t.buf[:copy(t.buf, t.buf[p:])]
		if err != nil {
			return err
		}
		if rerr == io.EOF || n == 0 {
			return nil
		}
		if rerr != nil {
			return fmt.Errorf("logs: %w", rerr)
		}
	}
}

// lastNewline returns the offset just past the last newline of f, 0 if
// there is none.
func lastNewline(f *os.File) (int64, error) {
	st, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("logs: %w", err)
	}
	buf := make([]byte, 4<<10)
	for end := st.Size(); end > 0; {
		n := int64(len(buf))
		if n > end {
			n = end
		}
		if _, err := f.ReadAt(buf[:n], end-n); err != nil && err != io.EOF {
			return 0, fmt.Errorf("logs: %w", err)
		}
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			return end - n + int64(i) + 1, nil
		}
		end -= n
	}
	return 0, nil
}

// eachLineBackward calls fn for each line of f[:end], last first, until fn
// returns false. The line is valid only during the call.
func eachLineBackward(ctx context.Context, f io.ReaderAt, end int64, fn func([]byte) bool) error {
	const chunk = 64 << 10
	var data []byte // f[pos:...], the lines not yet passed to fn
	for pos := end; ; {
		for {
			i := bytes.LastIndexByte(data, '\n')
			if i < 0 {
				break
			}
			if line := data[i+1:]; len(line) > 0 && !fn(line) {
				return nil
			}
			data = data[:i]
		}
		if pos == 0 {
			if len(data) > 0 {
				fn(data)
			}
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if len(data) >= maxRecord {
			data = data[:0] // garbage
		}
		n := int64(chunk)
		if n > pos {
			n = pos
		}
		pos -= n
		nd := make([]byte, int(n)+len(data))
		if _, err := f.ReadAt(nd[:n], pos); err != nil && err != io.EOF {
			return fmt.Errorf("logs: %w", err)
		}
		copy(nd[n:], data)
		data = nd
	}
}
