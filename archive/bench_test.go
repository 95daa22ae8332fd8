package archive

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// benchLayers are two uncompressed layers of 100 MiB of random data: one of
// 400 files of 256 KiB, one of 25,600 files of 4 KiB (closer to a
// distribution's userland), in directories of 100 files.
func benchLayers(tb testing.TB) map[string][]byte {
	benchOnce.Do(func() { benchData = makeBenchLayers(tb) })
	return benchData
}

var (
	benchOnce sync.Once
	benchData map[string][]byte
)

func makeBenchLayers(tb testing.TB) map[string][]byte {
	out := map[string][]byte{}
	for name, size := range map[string]int{"256KiB-files": 256 << 10, "4KiB-files": 4 << 10} {
		r := rand.NewChaCha8([32]byte{1})
		var es []entry
		for i := 0; i < (100<<20)/size; i++ {
			if i%100 == 0 {
				es = append(es, dirEntry(fmt.Sprintf("d%03d/", i/100)))
			}
			b := make([]byte, size)
			r.Read(b)
			es = append(es, reg(fmt.Sprintf("d%03d/f%05d", i/100, i), string(b)))
		}
		out[name] = mkTar(tb, es...)
	}
	return out
}

func BenchmarkApply(b *testing.B) {
	for _, files := range []string{"256KiB-files", "4KiB-files"} {
		for _, c := range []Compression{Uncompressed, Gzip, Zstd} {
			b.Run(files+"/"+c.String(), func(b *testing.B) {
				plain := benchLayers(b)[files]
				layer := compress(b, c, plain)
				b.SetBytes(int64(len(plain)))
				base := b.TempDir()
				b.ResetTimer()
				for i := range b.N {
					dir := filepath.Join(base, fmt.Sprint(i))
					os.Mkdir(dir, 0o755)
					if _, err := Apply(context.Background(), dir, bytes.NewReader(layer), ApplyOptions{Whiteouts: WhiteoutsOverlay}); err != nil {
						b.Fatal(err)
					}
					b.StopTimer()
					os.RemoveAll(dir)
					b.StartTimer()
				}
			})
		}
	}
}

func BenchmarkWriteTar(b *testing.B) {
	for _, files := range []string{"256KiB-files", "4KiB-files"} {
		plain := benchLayers(b)[files]
		dir := b.TempDir()
		if err := applyBytes(b, dir, plain, WhiteoutsOverlay); err != nil {
			b.Fatal(err)
		}
		for _, c := range []Compression{Uncompressed, Gzip, Zstd} {
			b.Run(files+"/"+c.String(), func(b *testing.B) {
				b.SetBytes(int64(len(plain)))
				for range b.N {
					if err := WriteTar(context.Background(), io.Discard, dir, WriteOptions{Compression: c}); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
