package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// fuzzCanary is a directory shared by all fuzzing processes, which the
// seeds point absolute symlinks and hard links at; nothing may change it.
var fuzzCanary = sync.OnceValue(func() string {
	dir := filepath.Join(os.TempDir(), "berth-archive-fuzz-canary")
	os.MkdirAll(dir, 0o755)
	if b, err := os.ReadFile(filepath.Join(dir, "canary")); err != nil || string(b) != "canary" {
		os.WriteFile(filepath.Join(dir, "canary"), []byte("canary"), 0o644)
	}
	return dir
})

// FuzzApply checks that no layer, however broken, changes anything outside
// the root. The target is slow next to the fuzzer's expectations, so give
// it little minimisation time:
//
//	go test -run '^$' -fuzz FuzzApply -fuzzminimizetime 0x ./archive/
func FuzzApply(f *testing.F) {
	for _, c := range hostileCases() {
		layer := mkTar(f, c.entries(fuzzCanary())...)
		f.Add(layer, false)
		f.Add(layer, true)
	}
	f.Add(lowerLayer(f), true)
	f.Add(upperLayer(f, false), true)
	f.Add(upperLayer(f, true), false)
	f.Add(compress(f, Gzip, upperLayer(f, false)), false)
	f.Add(compress(f, Zstd, lowerLayer(f)), true)
	f.Add(devLayer(f), true)

	f.Fuzz(func(t *testing.T, layer []byte, overlay bool) {
		if tooBig(layer) {
			t.Skip("declares too much data to write")
		}
		canary := fuzzCanary()
		wantCanary := snapshot(t, canary)
		base := t.TempDir()
		root, _ := hostileDirs(t, base)
		before := outsideOf(t, base)
		mode := WhiteoutsApply
		if overlay {
			mode = WhiteoutsOverlay
		}
		sandbox(t, func() {
			Apply(context.Background(), root, bytes.NewReader(layer), ApplyOptions{Whiteouts: mode})
		})
		compareTrees(t, before, outsideOf(t, base))
		compareTrees(t, wantCanary, snapshot(t, canary))
	})
}

// tooBig reports whether a layer would make Apply write more than a few
// megabytes (sparse entries and compression can declare far more data than
// the input holds), which would only make the fuzzer slow.
func tooBig(layer []byte) bool {
	rc, _, err := Decompress(bytes.NewReader(layer))
	if err != nil {
		return false
	}
	defer rc.Close()
	tr := tar.NewReader(io.LimitReader(rc, 8<<20))
	var total int64
	for {
		hdr, err := tr.Next()
		if err != nil {
			return err == io.ErrUnexpectedEOF && total > 4<<20
		}
		if total += hdr.Size; total > 4<<20 {
			return true
		}
	}
}
