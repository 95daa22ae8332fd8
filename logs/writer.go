package logs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"time"
)

// Writer appends records to a log file and rotates it. It is safe for
// concurrent use (the stdout and stderr copiers share one): records are
// written whole, under a lock, so they never interleave.
type Writer struct {
	path     string
	maxSize  int64 // <= 0: unbounded
	maxFiles int

	mu   sync.Mutex
	f    *os.File // nil once closed
	size int64
	buf  []byte // WriteEntry's record, reused
}

// NewWriter opens path for appending, creating it with mode 0640. maxSize <= 0
// means unbounded; maxFiles < 1 is taken as 1. If the file exists (a shim
// restarting) the writer appends, first ending a half-written last record
// with a newline so that the next record starts on a line of its own.
func NewWriter(path string, maxSize int64, maxFiles int) (*Writer, error) {
	if maxFiles < 1 {
		maxFiles = 1
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("log file: %w", err)
	}
	w := &Writer{path: path, maxSize: maxSize, maxFiles: maxFiles, f: f}
	if w.size, err = endLine(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("log file %s: %w", path, err)
	}
	// Files beyond maxFiles, left by an earlier run with a larger maxFiles.
	for i := maxFiles; ; i++ {
		if err := os.Remove(w.rotated(i)); err != nil {
			break
		}
	}
	return w, nil
}

// endLine returns the size of f after making sure it ends with a newline.
func endLine(f *os.File) (int64, error) {
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	size := st.Size()
	if size == 0 {
		return 0, nil
	}
	var last [1]byte
	if _, err := f.ReadAt(last[:], size-1); err != nil {
		return 0, err
	}
	if last[0] == '\n' {
		return size, nil
	}
	n, err := f.Write([]byte{'\n'})
	return size + int64(n), err
}

// WriteEntry writes one record. line is the log text as it should appear,
// including its trailing newline (a record without one is a partial line).
func (w *Writer) WriteEntry(stream string, line []byte, t time.Time) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = appendRecord(w.buf[:0], stream, line, t)
	err := w.writeLocked(w.buf)
	if cap(w.buf) > 64<<10 {
		w.buf = nil // do not keep a huge record's buffer in the shim
	}
	return err
}

// write writes encoded records, whole ones: several at once if it can.
func (w *Writer) write(recs []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.writeLocked(recs)
}

func (w *Writer) writeLocked(recs []byte) error {
	if w.f == nil {
		return fmt.Errorf("log file %s: %w", w.path, os.ErrClosed)
	}
	for len(recs) > 0 {
		chunk := recs
		if w.maxSize > 0 && w.size+int64(len(chunk)) > w.maxSize {
			// The whole records that fit.
			i := -1
			if room := w.maxSize - w.size; room > 0 {
				i = bytes.LastIndexByte(chunk[:room], '\n')
			}
			if i < 0 && w.size > 0 {
				if err := w.rotate(); err != nil {
					return fmt.Errorf("log file %s: rotate: %w", w.path, err)
				}
				continue
			}
			if i < 0 { // a record larger than maxSize, alone in its file
				i = bytes.IndexByte(chunk, '\n')
			}
			if i >= 0 {
				chunk = chunk[:i+1]
			}
		}
		n, err := w.f.Write(chunk)
		w.size += int64(n)
		if err != nil {
			return fmt.Errorf("log file %s: %w", w.path, err)
		}
		recs = recs[len(chunk):]
	}
	return nil
}

// rotate shifts path.N-1 to path.N ... path to path.1 (the oldest beyond
// maxFiles is overwritten) and swaps a new, empty file in at path. path never
// goes missing: the old file is hard-linked as path.1 and the new one renamed
// over path.
func (w *Writer) rotate() error {
	tmp := w.path + ".new"
	nf, err := os.OpenFile(tmp, os.O_RDWR|os.O_APPEND|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return err
	}
	if w.maxFiles > 1 {
		for i := w.maxFiles - 1; i > 1; i-- {
			err := os.Rename(w.rotated(i-1), w.rotated(i))
			if err != nil && !errors.Is(err, os.ErrNotExist) {
				nf.Close()
				return err
			}
		}
		if err := os.Remove(w.rotated(1)); err != nil && !errors.Is(err, os.ErrNotExist) {
			nf.Close()
			return err
		}
		if err := os.Link(w.path, w.rotated(1)); err != nil {
			nf.Close()
			return err
		}
	}
	if err := os.Rename(tmp, w.path); err != nil {
		nf.Close()
		return err
	}
	w.f.Close()
	w.f, w.size = nf, 0
	return nil
}

func (w *Writer) rotated(i int) string { return w.path + "." + strconv.Itoa(i) }

// Close closes the file; later writes fail with os.ErrClosed.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return nil
	}
	err := w.f.Close()
	w.f = nil
	return err
}

var _ io.Closer = (*Writer)(nil)
