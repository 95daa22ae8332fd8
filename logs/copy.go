package logs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"syscall"
	"time"
	"unicode/utf8"
)

// Copy reads r until EOF and writes one record per line to w, stamped with
// now(). Lines keep their newline; a last line without one is written as it
// is; a line longer than MaxLineSize is split into partial records (at a
// UTF-8 boundary when one is near, so that no character is mangled).
//
// A failed write does not stop the copy: the container must not block on a
// full pipe because the disk is full. Records are dropped and the first write
// error is returned at EOF. EIO counts as EOF: that is how a pseudo-terminal
// master reports that the container closed its side. Copy allocates its
// buffers once, and writes what one read brings with one write(2).
func Copy(w *Writer, stream string, r io.Reader, now func() time.Time) error {
	c := copier{w: w, stream: stream, now: now, recs: make([]byte, 0, flushSize+8<<10)}
	buf := make([]byte, 32<<10)
	n := 0 // buf[:n] holds bytes not yet written
	for {
		m, rerr := r.Read(buf[n:])
		n += m
		p := 0
		for {
			i := bytes.IndexByte(buf[p:n], '\n')
			if i < 0 {
				break
			}
			c.line(buf[p : p+i+1])
			p += i + 1
		}
		// A line too long for a record: write whole partial records now.
		for n-p > MaxLineSize {
			p += c.partial(buf[p:n])
		}
		if rerr != nil && p < n {
			c.record(buf[p:n])
		}
		c.flush() // what one read brought, in one write
		if rerr != nil {
			if rerr == io.EOF || errors.Is(rerr, syscall.EIO) {
				return c.err
			}
			return fmt.Errorf("log %s: read: %w", stream, rerr)
		}
		n = copy(buf, buf[p:n])
	}
}

// flushSize is how many bytes of records Copy gathers before a write.
const flushSize = 32 << 10

type copier struct {
	w      *Writer
	stream string
	now    func() time.Time
	recs   []byte // encoded records not yet written, reused
	err    error  // the first write error
}

// line writes one line (ending in '\n'), splitting it if it is too long.
func (c *copier) line(l []byte) {
	for len(l)-1 > MaxLineSize {
		l = l[c.partial(l):]
	}
	c.record(l)
}

// partial writes one partial record from the start of l (longer than
// MaxLineSize) and returns how many bytes it took.
func (c *copier) partial(l []byte) int {
	n := MaxLineSize
	// Back up to the start of a character, if one is within reach.
	for k := 0; k < utf8.UTFMax-1 && !utf8.RuneStart(l[n]); k++ {
		n--
	}
	if !utf8.RuneStart(l[n]) {
		n = MaxLineSize
	}
	c.record(l[:n])
	return n
}

func (c *copier) record(l []byte) {
	c.recs = appendRecord(c.recs, c.stream, l, c.now())
	if len(c.recs) >= flushSize {
		c.flush()
	}
}

func (c *copier) flush() {
	if len(c.recs) == 0 {
		return
	}
	if err := c.w.write(c.recs); err != nil && c.err == nil {
		c.err = err
	}
	c.recs = c.recs[:0]
}
