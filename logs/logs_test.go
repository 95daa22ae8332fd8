package logs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/berth-dev/berth/errdefs"
)

var t0 = time.Date(2026, 11, 24, 20, 0, 0, 123456789, time.UTC)

// clock returns a now func that ticks a millisecond per call.
func clock() func() time.Time {
	var mu sync.Mutex
	t := t0
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		t = t.Add(time.Millisecond)
		return t
	}
}

func newWriter(t *testing.T, maxSize int64, maxFiles int) (*Writer, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "c-json.log")
	w, err := NewWriter(path, maxSize, maxFiles)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w, path
}

func readAll(t *testing.T, path string, o ReadOpts) []Entry {
	t.Helper()
	var got []Entry
	if err := Read(context.Background(), path, o, func(e Entry) error {
		got = append(got, e)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return got
}

func lines(es []Entry) string {
	var b strings.Builder
	for _, e := range es {
		b.Write(e.Line)
	}
	return b.String()
}

var all = ReadOpts{Tail: -1, Stdout: true, Stderr: true}

func TestRecordFormat(t *testing.T) {
	for _, tc := range []struct {
		stream, line, want string
	}{
		{"stdout", "hello\n", `{"log":"hello\n","stream":"stdout","time":"2026-11-24T20:00:00.123456789Z"}` + "\n"},
		{"stderr", "a\"b\\c\t<&>\r\x01\n", `{"log":"a\"b\\c\u0009\u003c\u0026\u003e\r\u0001\n","stream":"stderr","time":"2026-11-24T20:00:00.123456789Z"}` + "\n"},
		{"stdout", "bad \xff utf8 \u2028 é", `{"log":"bad \ufffd utf8 \u2028 é","stream":"stdout","time":"2026-11-24T20:00:00.123456789Z"}` + "\n"},
		{"stdout", "", `{"stream":"stdout","time":"2026-11-24T20:00:00.123456789Z"}` + "\n"},
	} {
		got := string(appendRecord(nil, tc.stream, []byte(tc.line), t0))
		if got != tc.want {
			t.Errorf("%q:\n got %s\nwant %s", tc.line, got, tc.want)
		}
		if !json.Valid([]byte(got)) {
			t.Errorf("%q: not valid JSON", tc.line)
		}
	}
	// Time is UTC, trailing zeros trimmed as RFC3339Nano does.
	local := time.Date(2026, 1, 2, 3, 4, 5, 100000000, time.FixedZone("x", 3600))
	if got, want := string(appendRecord(nil, "stdout", []byte("x"), local)), `"time":"2026-01-02T02:04:05.1Z"}`; !strings.Contains(got, want) {
		t.Errorf("got %s, want it to contain %s", got, want)
	}
}

// Every valid UTF-8 string survives encoding/json's decoding unchanged.
func FuzzRecord(f *testing.F) {
	f.Add([]byte("hello\n"))
	f.Add([]byte("\x00\x1f\"\\<>&\u2029"))
	f.Fuzz(func(t *testing.T, line []byte) {
		rec := appendRecord(nil, "stdout", line, t0)
		var r record
		if err := json.Unmarshal(rec, &r); err != nil {
			t.Fatalf("%q: %v", rec, err)
		}
		if utf8.Valid(line) && r.Log != string(line) {
			t.Fatalf("got %q, want %q", r.Log, line)
		}
		if !r.Time.Equal(t0) || r.Stream != "stdout" {
			t.Fatalf("got %+v", r)
		}
	})
}

func TestRoundTrip(t *testing.T) {
	w, path := newWriter(t, 0, 1)
	now := clock()
	var want []Entry
	for i := range 10 {
		e := Entry{Stream: []string{"stdout", "stderr"}[i%2], Line: []byte(fmt.Sprintf("line %d é\n", i)), Time: now()}
		if err := w.WriteEntry(e.Stream, e.Line, e.Time); err != nil {
			t.Fatal(err)
		}
		want = append(want, e)
	}
	got := readAll(t, path, all)
	if len(got) != len(want) {
		t.Fatalf("got %d entries, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i].Stream != want[i].Stream || !bytes.Equal(got[i].Line, want[i].Line) || !got[i].Time.Equal(want[i].Time) {
			t.Errorf("entry %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm()&^0o640 != 0 {
		t.Errorf("mode %v, want at most 0640", st.Mode().Perm())
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteEntry("stdout", []byte("x\n"), t0); !errors.Is(err, os.ErrClosed) {
		t.Errorf("write after close: %v, want os.ErrClosed", err)
	}
}

func TestMissingFile(t *testing.T) {
	if got := readAll(t, filepath.Join(t.TempDir(), "none"), all); len(got) != 0 {
		t.Errorf("got %d entries from a missing file", len(got))
	}
}

// writeN writes records "0\n" .. "n-1\n" to stdout.
func writeN(t *testing.T, w *Writer, from, n int, now func() time.Time) {
	t.Helper()
	for i := from; i < from+n; i++ {
		if err := w.WriteEntry("stdout", []byte(strconv.Itoa(i)+"\n"), now()); err != nil {
			t.Fatal(err)
		}
	}
}

// sequence checks that es is from, from+1, ..., to-1.
func sequence(t *testing.T, es []Entry, from, to int) {
	t.Helper()
	if len(es) != to-from {
		t.Fatalf("got %d entries (%.40q...), want %d..%d", len(es), lines(es), from, to-1)
	}
	for i, e := range es {
		if string(e.Line) != strconv.Itoa(from+i)+"\n" {
			t.Fatalf("entry %d is %q, want %d", i, e.Line, from+i)
		}
	}
}

func TestRotation(t *testing.T) {
	const maxSize = 1000
	w, path := newWriter(t, maxSize, 3)
	now := clock()
	writeN(t, w, 0, 100, now) // records are ~70 bytes: ~14 per file
	dir := filepath.Dir(path)
	ents, _ := os.ReadDir(dir)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
		st, _ := os.Stat(filepath.Join(dir, e.Name()))
		if st.Size() > maxSize {
			t.Errorf("%s is %d bytes, over %d", e.Name(), st.Size(), maxSize)
		}
	}
	if want := "c-json.log c-json.log.1 c-json.log.2"; strings.Join(names, " ") != want {
		t.Fatalf("files %v, want %s", names, want)
	}
	got := readAll(t, path, all)
	if len(got) < 30 {
		t.Fatalf("only %d entries kept", len(got))
	}
	sequence(t, got, 100-len(got), 100) // oldest removed, nothing lost in between
	// Newest rotated is .1.
	one := readAll(t, path+".1", all)
	two := readAll(t, path+".2", all)
	if len(one) == 0 || len(two) == 0 || !two[len(two)-1].Time.Before(one[0].Time) {
		t.Errorf(".2 must be older than .1")
	}
}

func TestRotationOneFile(t *testing.T) {
	w, path := newWriter(t, 500, 1)
	writeN(t, w, 0, 50, clock())
	if _, err := os.Stat(path + ".1"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("max-file 1 left %s.1: %v", path, err)
	}
	got := readAll(t, path, all)
	sequence(t, got, 50-len(got), 50)
}

func TestReopenAppends(t *testing.T) {
	w, path := newWriter(t, 0, 1)
	now := clock()
	writeN(t, w, 0, 3, now)
	w.Close()
	// A crash in the middle of a record, and some garbage.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("not json\n{}\n[1]\n{\"log\":\"half")
	f.Close()
	w, err = NewWriter(path, 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	writeN(t, w, 3, 2, now)
	got := readAll(t, path, all)
	// "{}" is a record without a stream: an empty line. Drop it for the check.
	var kept []Entry
	for _, e := range got {
		if e.Stream != "" {
			kept = append(kept, e)
		}
	}
	sequence(t, kept, 0, 5)
}

func TestReopenRemovesExtraFiles(t *testing.T) {
	w, path := newWriter(t, 300, 5)
	writeN(t, w, 0, 100, clock())
	w.Close()
	w, err := NewWriter(path, 300, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for _, i := range []int{2, 3, 4} {
		if _, err := os.Stat(path + "." + strconv.Itoa(i)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s.%d kept: %v", path, i, err)
		}
	}
}

func TestTail(t *testing.T) {
	w, path := newWriter(t, 1000, 4)
	writeN(t, w, 0, 100, clock())
	for _, n := range []int{0, 1, 5, 20, 40} { // 20 and 40 span rotated files
		got := readAll(t, path, ReadOpts{Tail: n, Stdout: true})
		sequence(t, got, 100-n, 100)
	}
	got := readAll(t, path, ReadOpts{Tail: 100000, Stdout: true})
	sequence(t, got, 100-len(got), 100)
}

func TestStreamsSinceUntil(t *testing.T) {
	w, path := newWriter(t, 2000, 3)
	var times []time.Time
	for i := range 60 {
		stream := "stdout"
		if i%3 == 0 {
			stream = "stderr"
		}
		tm := t0.Add(time.Duration(i) * time.Second)
		times = append(times, tm)
		if err := w.WriteEntry(stream, []byte(strconv.Itoa(i)+"\n"), tm); err != nil {
			t.Fatal(err)
		}
	}
	first := 60 - len(readAll(t, path, all))
	nums := func(es []Entry) string {
		var s []string
		for _, e := range es {
			s = append(s, strings.TrimSpace(string(e.Line)))
		}
		return strings.Join(s, ",")
	}
	for _, tc := range []struct {
		name string
		o    ReadOpts
		want string
	}{
		{"stderr", ReadOpts{Tail: -1, Stderr: true, Since: times[40]}, "42,45,48,51,54,57"},
		{"stdout", ReadOpts{Tail: -1, Stdout: true, Since: times[50]}, "50,52,53,55,56,58,59"},
		{"since inclusive", ReadOpts{Tail: -1, Stdout: true, Stderr: true, Since: times[55]}, "55,56,57,58,59"},
		{"until inclusive", ReadOpts{Tail: -1, Stdout: true, Stderr: true, Since: times[50], Until: times[53]}, "50,51,52,53"},
		{"tail after filter", ReadOpts{Tail: 3, Stderr: true}, "51,54,57"},
		{"tail with until", ReadOpts{Tail: 2, Stdout: true, Stderr: true, Until: times[50]}, "49,50"},
		{"tail with since", ReadOpts{Tail: 10, Stdout: true, Stderr: true, Since: times[57]}, "57,58,59"},
		{"tail across files", ReadOpts{Tail: 30, Stderr: true, Since: times[first]}, ""},
	} {
		got := nums(readAll(t, path, tc.o))
		if tc.name == "tail across files" {
			var want []string
			for i := first; i < 60; i++ {
				if i%3 == 0 {
					want = append(want, strconv.Itoa(i))
				}
			}
			tc.want = strings.Join(want, ",")
		}
		if got != tc.want {
			t.Errorf("%s: got %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestCorruptLinesSkipped(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	rec := func(s string) string { return string(appendRecord(nil, "stdout", []byte(s+"\n"), t0)) }
	data := rec("a") + "garbage\n\n{\"log\":1}\n" + strings.Repeat("x", 2*maxRecord) + "\n" + rec("b") + "{\"log\":\"trunc"
	if err := os.WriteFile(path, []byte(data), 0o640); err != nil {
		t.Fatal(err)
	}
	if got := lines(readAll(t, path, all)); got != "a\nb\n" {
		t.Errorf("forwards: got %q", got)
	}
	if got := lines(readAll(t, path, ReadOpts{Tail: 5, Stdout: true})); got != "a\nb\n" {
		t.Errorf("tail: got %q", got)
	}
}

func TestCopyLines(t *testing.T) {
	w, path := newWriter(t, 0, 1)
	long := strings.Repeat("a", 40000)
	exact := strings.Repeat("b", MaxLineSize)
	// A multi-byte character straddling the split point stays whole.
	utf := strings.Repeat("c", MaxLineSize-1) + "é" + "tail"
	in := "one\ntwo\n" + long + "\n" + exact + "\n" + utf + "\nlast"
	if err := Copy(w, "stderr", iotestHalf(strings.NewReader(in)), clock()); err != nil {
		t.Fatal(err)
	}
	got := readAll(t, path, all)
	var recs []string
	for _, e := range got {
		if e.Stream != "stderr" {
			t.Fatalf("stream %q", e.Stream)
		}
		if !utf8.Valid(e.Line) {
			t.Errorf("record %.20q... is not valid UTF-8", e.Line)
		}
		recs = append(recs, string(e.Line))
	}
	want := []string{"one\n", "two\n", long[:MaxLineSize], long[MaxLineSize : 2*MaxLineSize], long[2*MaxLineSize:] + "\n",
		exact + "\n", strings.Repeat("c", MaxLineSize-1), "étail\n", "last"}
	if len(recs) != len(want) {
		t.Fatalf("got %d records, want %d", len(recs), len(want))
	}
	for i := range want {
		if recs[i] != want[i] {
			t.Errorf("record %d: got %d bytes %.20q, want %d bytes %.20q", i, len(recs[i]), recs[i], len(want[i]), want[i])
		}
	}
	if lines(got) != in {
		t.Errorf("joined records differ from the input")
	}
}

// iotestHalf returns reads of at most 1000 bytes, as a pipe might.
func iotestHalf(r io.Reader) io.Reader { return &smallReader{r} }

type smallReader struct{ r io.Reader }

func (s *smallReader) Read(p []byte) (int, error) {
	if len(p) > 1000 {
		p = p[:1000]
	}
	return s.r.Read(p)
}

func TestConcurrentWriters(t *testing.T) {
	w, path := newWriter(t, 256<<10, 5) // ~930 KB in all: rotates, keeps all
	var wg sync.WaitGroup
	const per = 2000
	for _, stream := range []string{"stdout", "stderr"} {
		pr, pw := io.Pipe()
		wg.Add(2)
		go func() {
			defer wg.Done()
			if err := Copy(w, stream, pr, time.Now); err != nil {
				t.Error(err)
			}
		}()
		go func() {
			defer wg.Done()
			for i := range per {
				fmt.Fprintf(pw, "%s %d %s\n", stream, i, strings.Repeat("x", i%300))
			}
			pw.Close()
		}()
	}
	wg.Wait()
	// Every line of every file is a whole record.
	for _, name := range []string{path, path + ".1", path + ".2", path + ".3"} {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n")) {
			var r record
			if err := json.Unmarshal(l, &r); err != nil || !strings.HasPrefix(r.Log, r.Stream+" ") {
				t.Fatalf("%s: bad record %q", name, l)
			}
		}
	}
	// And per stream, all are there, in order.
	last := map[string]int{"stdout": -1, "stderr": -1}
	for _, e := range readAll(t, path, all) {
		var n int
		fmt.Sscanf(string(e.Line), e.Stream+" %d", &n)
		if prev := last[e.Stream]; n != prev+1 {
			t.Fatalf("%s: %d after %d", e.Stream, n, prev)
		}
		last[e.Stream] = n
	}
	if last["stdout"] != per-1 || last["stderr"] != per-1 {
		t.Errorf("last records %v", last)
	}
}

func TestCopyKeepsDrainingAfterWriteErrors(t *testing.T) {
	w, _ := newWriter(t, 0, 1)
	w.Close()
	err := Copy(w, "stdout", strings.NewReader(strings.Repeat("x\n", 1000)), time.Now)
	if !errors.Is(err, os.ErrClosed) {
		t.Errorf("got %v, want the write error", err)
	}
}

func TestParseOpts(t *testing.T) {
	for _, tc := range []struct {
		opts  map[string]string
		size  int64
		files int
		err   error
	}{
		{nil, DefaultMaxSize, DefaultMaxFiles, nil},
		{map[string]string{"max-size": "10m"}, 10_000_000, DefaultMaxFiles, nil},
		{map[string]string{"max-size": "1K", "max-file": "5"}, 1000, 5, nil},
		{map[string]string{"max-size": "2GiB"}, 2_000_000_000, DefaultMaxFiles, nil},
		{map[string]string{"max-size": "1.5mb"}, 1_500_000, DefaultMaxFiles, nil},
		{map[string]string{"max-size": "300"}, 300, DefaultMaxFiles, nil},
		{map[string]string{"max-size": "300 b"}, 300, DefaultMaxFiles, nil},
		{map[string]string{"max-file": "1"}, DefaultMaxSize, 1, nil},
		{map[string]string{"max-size": "10m", "labels": "a", "env": "B", "tag": "{{.Name}}", "compress": "false"}, 10_000_000, DefaultMaxFiles, nil},
		{map[string]string{"max-size": "0"}, 0, 0, errdefs.ErrInvalidArgument},
		{map[string]string{"max-size": "-1"}, 0, 0, errdefs.ErrInvalidArgument},
		{map[string]string{"max-size": "10x"}, 0, 0, errdefs.ErrInvalidArgument},
		{map[string]string{"max-size": "m"}, 0, 0, errdefs.ErrInvalidArgument},
		{map[string]string{"max-size": "10mbb"}, 0, 0, errdefs.ErrInvalidArgument},
		{map[string]string{"max-file": "0"}, 0, 0, errdefs.ErrInvalidArgument},
		{map[string]string{"max-file": "two"}, 0, 0, errdefs.ErrInvalidArgument},
		{map[string]string{"compress": "true"}, 0, 0, errdefs.ErrNotImplemented},
		{map[string]string{"mode": "non-blocking", "max-buffer-size": "4m"}, DefaultMaxSize, DefaultMaxFiles, nil},
		{map[string]string{"mode": "fast"}, 0, 0, errdefs.ErrInvalidArgument},
		{map[string]string{"max-buffer-size": "lots"}, 0, 0, errdefs.ErrInvalidArgument},
	} {
		size, files, err := ParseOpts(tc.opts)
		if tc.err != nil {
			if !errors.Is(err, tc.err) {
				t.Errorf("%v: got %v, want %v", tc.opts, err, tc.err)
			}
			continue
		}
		if err != nil || size != tc.size || files != tc.files {
			t.Errorf("%v: got %d, %d, %v; want %d, %d", tc.opts, size, files, err, tc.size, tc.files)
		}
	}
	_, _, err := ParseOpts(map[string]string{"max-sise": "10m"})
	if !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(err.Error(), "'max-sise'") {
		t.Errorf("the error must name the key: %v", err)
	}
}
