package archive

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/berth-dev/berth/errdefs"
)

// Compression is how a layer stream is compressed.
type Compression int

// The compressions berth reads and writes.
const (
	Uncompressed Compression = iota
	Gzip
	Zstd
)

func (c Compression) String() string {
	switch c {
	case Uncompressed:
		return "uncompressed"
	case Gzip:
		return "gzip"
	case Zstd:
		return "zstd"
	}
	return fmt.Sprintf("Compression(%d)", int(c))
}

// Magic numbers, a little longer than strictly needed so that a plain tar
// whose first name happens to start with "BZh" is not mistaken for bzip2
// (and a stream with a tar header's "ustar" magic is plain anyway).
var (
	magicGzip  = []byte{0x1f, 0x8b, 0x08} // and deflate
	magicZstd  = []byte{0x28, 0xb5, 0x2f, 0xfd}
	magicXz    = []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}
	magicBzip2 = []byte{'B', 'Z', 'h'} // then '1'-'9' and the block magic
	bzipBlock  = []byte{0x31, 0x41, 0x59, 0x26, 0x53, 0x59}
)

// Decompress sniffs r and returns a reader of its uncompressed bytes, with
// the compression it found. A stream that is neither gzip nor zstd is
// returned as it is (Uncompressed); bzip2 and xz are recognised and refused
// with ErrNotImplemented. Closing the result releases the decoder; it does
// not close r.
func Decompress(r io.Reader) (io.ReadCloser, Compression, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, err := br.Peek(512)
	if err != nil && err != io.EOF {
		return nil, Uncompressed, fmt.Errorf("archive: reading layer: %w", err)
	}
	switch {
	case len(head) >= 262 && bytes.Equal(head[257:262], []byte("ustar")):
		// A tar header (ustar, PAX or GNU), whatever its first name.
	case bytes.HasPrefix(head, magicGzip):
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, Gzip, corrupt(fmt.Errorf("archive: gzip: %w", err))
		}
		// Inflating is single-threaded and as slow as writing the files
		// out: let it run ahead on a goroutine of its own. (The zstd
		// decoder does that already.)
		return newReadAhead(zr, 4, 256<<10), Gzip, nil
	case bytes.HasPrefix(head, magicZstd):
		zr, err := zstd.NewReader(br)
		if err != nil {
			return nil, Zstd, corrupt(fmt.Errorf("archive: zstd: %w", err))
		}
		return zstdReader{zr}, Zstd, nil
	case bytes.HasPrefix(head, magicXz):
		return nil, Uncompressed, fmt.Errorf("archive: xz-compressed layers are not supported: %w", errdefs.ErrNotImplemented)
	case len(head) >= 10 && bytes.HasPrefix(head, magicBzip2) && head[3] >= '1' && head[3] <= '9' && bytes.Equal(head[4:10], bzipBlock):
		return nil, Uncompressed, fmt.Errorf("archive: bzip2-compressed layers are not supported: %w", errdefs.ErrNotImplemented)
	}
	return io.NopCloser(br), Uncompressed, nil
}

// zstdReader labels the decoder's errors, which are otherwise terse.
type zstdReader struct{ d *zstd.Decoder }

func (z zstdReader) Read(p []byte) (int, error) {
	n, err := z.d.Read(p)
	if err != nil && err != io.EOF {
		err = fmt.Errorf("zstd: %w", err)
	}
	return n, err
}

func (z zstdReader) Close() error {
	z.d.Close()
	return nil
}

// readAhead reads src on a goroutine of its own, up to n chunks of size
// bytes ahead of its reader.
type readAhead struct {
	full chan chunk
	free chan []byte
	done chan struct{}
	once sync.Once

	cur []byte // unread part of the current chunk
	buf []byte // the current chunk's buffer, to give back
	err error  // after cur
}

type chunk struct {
	data, buf []byte
	err       error
}

func newReadAhead(src io.ReadCloser, n, size int) *readAhead {
	ra := &readAhead{full: make(chan chunk, n), free: make(chan []byte, n), done: make(chan struct{})}
	for range n {
		ra.free <- make([]byte, size)
	}
	go ra.fill(src)
	return ra
}

func (ra *readAhead) fill(src io.ReadCloser) {
	defer src.Close()
	for {
		var buf []byte
		select {
		case buf = <-ra.free:
		case <-ra.done:
			return
		}
		n := 0
		var err error
		for n < len(buf) && err == nil {
			var m int
			m, err = src.Read(buf[n:])
			n += m
		}
		select {
		case ra.full <- chunk{buf[:n], buf, err}:
		case <-ra.done:
			return
		}
		if err != nil {
			return
		}
	}
}

func (ra *readAhead) Read(p []byte) (int, error) {
	for len(ra.cur) == 0 {
		if ra.err != nil {
			return 0, ra.err
		}
		if ra.buf != nil {
			ra.free <- ra.buf // never blocks: there are only n buffers
			ra.buf = nil
		}
		select {
		case c := <-ra.full:
			ra.cur, ra.buf, ra.err = c.data, c.buf, c.err
		case <-ra.done:
			return 0, io.ErrClosedPipe
		}
	}
	n := copy(p, ra.cur)
	ra.cur = ra.cur[n:]
	return n, nil
}

// Close stops the goroutine, which closes src once its read in flight (if
// any) returns.
func (ra *readAhead) Close() error {
	ra.once.Do(func() { close(ra.done) })
	return nil
}

// compressor wraps w in c's encoder. Both encoders give the same bytes for
// the same input, which WriteTar's reproducibility relies on.
func compressor(w io.Writer, c Compression) (io.WriteCloser, error) {
	switch c {
	case Uncompressed:
		return nopWriteCloser{w}, nil
	case Gzip:
		return gzip.NewWriterLevel(w, gzip.DefaultCompression)
	case Zstd:
		return zstd.NewWriter(w)
	}
	return nil, fmt.Errorf("archive: compression %v: %w", c, errdefs.ErrInvalidArgument)
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }
