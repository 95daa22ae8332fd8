package content

import (
	"context"
	"encoding/binary"
	"io"
	"testing"
)

// repeatReader yields a block over and over, with the block count stamped
// into its first bytes so the stream does not repeat with a short period.
type repeatReader struct {
	block []byte
	n     uint64
	off   int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.off == 0 {
		binary.LittleEndian.PutUint64(r.block, r.n)
		r.n++
	}
	n := copy(p, r.block[r.off:])
	r.off = (r.off + n) % len(r.block)
	return n, nil
}

// BenchmarkWriter writes a 500 MB blob through Writer with io.Copy, Commit
// (with its fsyncs) included, and reports MB/s. "Write" hides ReadFrom from
// io.Copy, as a caller wrapping the Writer would.
func BenchmarkWriter(b *testing.B) {
	const size = 500 << 20
	for _, via := range []string{"ReadFrom", "Write"} {
		b.Run(via, func(b *testing.B) {
			s, _ := newStore(b)
			ctx := context.Background()
			b.SetBytes(size)
			for i := 0; b.Loop(); i++ {
				src := io.LimitReader(&repeatReader{block: randomBytes(uint64(i), 1<<20), n: uint64(i) << 32}, size)
				w, err := s.Writer(ctx, "", size)
				if err != nil {
					b.Fatal(err)
				}
				var dst io.Writer = w
				if via == "Write" {
					dst = struct{ io.Writer }{w}
				}
				if _, err := io.Copy(dst, src); err != nil {
					b.Fatal(err)
				}
				info, _, err := w.Commit()
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				if err := s.Delete(info.Digest); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
		})
	}
}
