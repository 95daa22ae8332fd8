package snapshot

import (
	"archive/tar"
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"testing"
)

// benchImage is a 4-layer image of about 100 MB unpacked: each layer 25
// files of 1 MB of text-like data (gzip gets it to about a third).
var benchImage = sync.OnceValue(func() image {
	words := []string{"berth", "layer", "overlay", "container", "image", "chain", "digest", "snapshot", "the", "a", "of", "unpack"}
	rng := rand.New(rand.NewPCG(1, 2))
	var layers [][]byte
	for l := range 4 {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		for f := range 25 {
			var body bytes.Buffer
			for body.Len() < 1<<20 {
				body.WriteString(words[rng.IntN(len(words))])
				body.WriteByte(" \n"[rng.IntN(2)])
				if rng.IntN(8) == 0 {
					fmt.Fprintf(&body, "%x ", rng.Uint64())
				}
			}
			tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("l%d/f%02d", l, f), Mode: 0o644, Size: int64(body.Len()), Typeflag: tar.TypeReg})
			tw.Write(body.Bytes())
		}
		tw.Close()
		layers = append(layers, buf.Bytes())
	}
	return newImage(layers...)
})

// BenchmarkUnpackImage unpacks the image's four layers one after the other
// and all at once, from gzip and from plain tars.
func BenchmarkUnpackImage(b *testing.B) {
	img := benchImage()
	var total int64
	for _, l := range img.blobs {
		total += int64(len(l))
	}
	zipped := make([][]byte, len(img.blobs))
	for i, l := range img.blobs {
		zipped[i] = gzipped(b, l)
	}
	for _, comp := range []struct {
		name  string
		blobs [][]byte
	}{{"gzip", zipped}, {"plain", img.blobs}} {
		for _, parallel := range []bool{false, true} {
			name := comp.name + "/sequential"
			if parallel {
				name = comp.name + "/parallel"
			}
			b.Run(name, func(b *testing.B) {
				b.SetBytes(total)
				for b.Loop() {
					b.StopTimer()
					root, err := os.MkdirTemp(b.TempDir(), "")
					if err != nil {
						b.Fatal(err)
					}
					s, err := Open(root)
					if err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
					unpackAll(b, s, img, comp.blobs, parallel)
					b.StopTimer()
					os.RemoveAll(root)
					b.StartTimer()
				}
			})
		}
	}
}

func unpackAll(b *testing.B, s *Store, img image, blobs [][]byte, parallel bool) {
	var wg sync.WaitGroup
	errs := make([]error, len(blobs))
	for i := range blobs {
		do := func() {
			_, errs[i] = s.Unpack(b.Context(), img.chain[i], img.parent(i), bytes.NewReader(blobs[i]))
		}
		if parallel {
			wg.Go(do)
		} else {
			do()
		}
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			b.Fatal(err)
		}
	}
}
