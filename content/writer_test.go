package content

import (
	"bytes"
	"context"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/iotest"

	"github.com/berth-dev/berth/errdefs"
	"github.com/opencontainers/go-digest"
)

func TestCommitExistingBlob(t *testing.T) {
	s, root := newStore(t)
	ctx := context.Background()
	data := []byte("layer")
	d, err := s.PutBytes(ctx, data, "")
	if err != nil {
		t.Fatal(err)
	}
	before, err := s.Info(d)
	if err != nil {
		t.Fatal(err)
	}
	w, err := s.Writer(ctx, d, int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	w.Write(data)
	info, existed, err := w.Commit()
	if err != nil {
		t.Fatal(err)
	}
	if !existed || info.Digest != d || info.Size != int64(len(data)) {
		t.Errorf("Commit = %+v, existed %v; want %s, existed", info, existed, d)
	}
	if !info.ModTime.Equal(before.ModTime) {
		t.Errorf("blob rewritten: mtime %v, was %v", info.ModTime, before.ModTime)
	}
	assertClean(t, s, root, d)
}

func TestCommitRejectsMismatch(t *testing.T) {
	data := []byte("the real bytes of a layer")
	good := digest.FromBytes(data)
	other := digest.FromString("other bytes")
	tests := []struct {
		name     string
		expected digest.Digest
		size     int64
		write    []byte
		failAt   string   // "Write" or "Commit"
		mention  []string // the error must name these
	}{
		{"digest", other, -1, data, "Commit", []string{string(good), string(other)}},
		{"digest, size right", other, int64(len(data)), data, "Commit", []string{string(good), string(other)}},
		{"sha512 digest", sha512Of([]byte("x")), -1, data, "Commit", []string{string(sha512Of(data)), string(sha512Of([]byte("x")))}},
		{"short", good, int64(len(data)) + 1, data, "Commit", []string{"expected 26"}},
		{"short, digest unknown", "", int64(len(data)) + 1, data, "Commit", []string{"expected 26"}},
		{"long", good, int64(len(data)) - 1, data, "Write", []string{"expected 24"}},
		{"long, digest unknown", "", 3, data, "Write", []string{"expected 3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, root := newStore(t)
			w, err := s.Writer(context.Background(), tt.expected, tt.size)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			_, werr := w.Write(tt.write)
			_, _, cerr := w.Commit()
			err = cerr
			if tt.failAt == "Write" {
				if werr == nil {
					t.Fatal("Write succeeded")
				}
				err = werr
				if !errors.Is(cerr, errdefs.ErrInvalidArgument) {
					t.Errorf("Commit after a failed Write = %v, want the Write's error", cerr)
				}
			} else if werr != nil {
				t.Fatalf("Write: %v", werr)
			}
			if !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Fatalf("error = %v, want ErrInvalidArgument", err)
			}
			for _, m := range tt.mention {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not mention %q", err, m)
				}
			}
			assertClean(t, s, root) // nothing: no blob, no ingest file
			if s.Has(good) || (tt.expected != "" && s.Has(tt.expected)) {
				t.Error("blob visible after a failed Commit")
			}
		})
	}
}

func TestWriterLifecycle(t *testing.T) {
	t.Run("Close discards", func(t *testing.T) {
		s, root := newStore(t)
		w, err := s.Writer(context.Background(), "", -1)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte("abandoned"))
		if n := len(listDir(t, filepath.Join(root, "ingest"))); n != 1 {
			t.Errorf("%d ingest files while writing, want 1", n)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
		assertClean(t, s, root)
	})
	t.Run("ended", func(t *testing.T) {
		s, _ := newStore(t)
		w, _ := s.Writer(context.Background(), "", -1)
		if _, _, err := w.Commit(); err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte("x")); err == nil {
			t.Error("Write after Commit succeeded")
		}
		if _, _, err := w.Commit(); err == nil {
			t.Error("second Commit succeeded")
		}
		if err := w.Close(); err != nil {
			t.Errorf("Close after Commit: %v", err)
		}
	})
	t.Run("context canceled", func(t *testing.T) {
		s, root := newStore(t)
		ctx, cancel := context.WithCancel(context.Background())
		w, err := s.Writer(ctx, "", -1)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		w.Write([]byte("partial"))
		cancel()
		if _, err := w.Write([]byte("more")); !errors.Is(err, context.Canceled) {
			t.Errorf("Write = %v, want context.Canceled", err)
		}
		if _, err := w.ReadFrom(strings.NewReader("more")); !errors.Is(err, context.Canceled) {
			t.Errorf("ReadFrom = %v, want context.Canceled", err)
		}
		if _, _, err := w.Commit(); !errors.Is(err, context.Canceled) {
			t.Errorf("Commit = %v, want context.Canceled", err)
		}
		assertClean(t, s, root)
	})
	t.Run("bad size", func(t *testing.T) {
		s, _ := newStore(t)
		if _, err := s.Writer(context.Background(), "", -2); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("Writer(size -2) = %v, want ErrInvalidArgument", err)
		}
	})
	t.Run("reader error", func(t *testing.T) {
		s, root := newStore(t)
		boom := errors.New("connection reset")
		_, _, err := s.Put(context.Background(), io.MultiReader(strings.NewReader("half"), errReader{boom}), "", -1)
		if !errors.Is(err, boom) {
			t.Errorf("Put = %v, want the reader's error", err)
		}
		assertClean(t, s, root)
	})
}

type errReader struct{ err error }

func TestConcurrentWritersOfOneBlob(t *testing.T) {
	s, root := newStore(t)
	data := randomBytes(2, 4<<20)
	want := digest.FromBytes(data)
	bad := append([]byte(nil), data...)
	bad[len(bad)/2] ^= 0xff // a corrupted download of the same layer

	const writers = 20
	type result struct {
		corrupt bool
		info    Info
		existed bool
		err     error
	}
	results := make([]result, writers)
	var start, done sync.WaitGroup
	start.Add(1)
	for i := range writers {
		done.Add(1)
		go func() {
			defer done.Done()
			r := &results[i]
			src := data
			if i%5 == 4 {
				r.corrupt, src = true, bad
			}
			w, err := s.Writer(context.Background(), want, int64(len(data)))
			if err != nil {
				r.err = err
				return
			}
			defer w.Close()
			start.Wait()
			// Small chunks, so the writers interleave.
			for off := 0; off < len(src); off += 64 << 10 {
				if _, err := w.Write(src[off:min(off+64<<10, len(src))]); err != nil {
					r.err = err
					return
				}
			}
			r.info, r.existed, r.err = w.Commit()
		}()
	}
	start.Done()
	done.Wait()

	created := 0
	for i, r := range results {
		switch {
		case r.corrupt:
			if !errors.Is(r.err, errdefs.ErrInvalidArgument) {
				t.Errorf("writer %d (corrupt): %v, want ErrInvalidArgument", i, r.err)
			}
		case r.err != nil:
			t.Errorf("writer %d: %v", i, r.err)
		case r.info.Digest != want || r.info.Size != int64(len(data)):
			t.Errorf("writer %d: committed %+v", i, r.info)
		case !r.existed:
			created++
		}
	}
	if created != 1 {
		t.Errorf("%d writers report creating the blob, want exactly 1", created)
	}
	assertClean(t, s, root, want)
	if err := s.Verify(want); err != nil {
		t.Error(err)
	}
}

func TestReadFromReaders(t *testing.T) {
	data := randomBytes(5, 600<<10+3) // a few of ReadFrom's buffers
	tests := []struct {
		name string
		r    func() io.Reader
	}{
		{"one byte at a time", func() io.Reader { return iotest.OneByteReader(bytes.NewReader(data[:5000])) }},
		{"half", func() io.Reader { return iotest.HalfReader(bytes.NewReader(data)) }},
		{"data with EOF", func() io.Reader { return iotest.DataErrReader(onlyReader{bytes.NewReader(data)}) }},
		{"chunks", func() io.Reader { return onlyReader{bytes.NewReader(data)} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, root := newStore(t)
			var want []byte
			want, _ = io.ReadAll(tt.r())
			w, err := s.Writer(context.Background(), digest.FromBytes(want), int64(len(want)))
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			n, err := w.ReadFrom(tt.r())
			if err != nil || n != int64(len(want)) {
				t.Fatalf("ReadFrom = %d, %v; want %d", n, err, len(want))
			}
			info, _, err := w.Commit()
			if err != nil {
				t.Fatal(err)
			}
			assertClean(t, s, root, info.Digest)
		})
	}
	t.Run("more than expected", func(t *testing.T) {
		s, root := newStore(t)
		w, err := s.Writer(context.Background(), "", int64(len(data))-1)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		if _, err := w.ReadFrom(onlyReader{bytes.NewReader(data)}); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Fatalf("ReadFrom = %v, want ErrInvalidArgument", err)
		}
		if _, _, err := w.Commit(); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Fatalf("Commit = %v, want ErrInvalidArgument", err)
		}
		assertClean(t, s, root)
	})
	t.Run("reader timeout", func(t *testing.T) {
		s, root := newStore(t)
		_, _, err := s.Put(context.Background(), iotest.TimeoutReader(onlyReader{bytes.NewReader(data)}), "", -1)
		if !errors.Is(err, iotest.ErrTimeout) {
			t.Fatalf("Put = %v, want the reader's error", err)
		}
		assertClean(t, s, root)
	})
}
