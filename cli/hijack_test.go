package cli

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"
)

func muxFrame(stream byte, s string) []byte {
	h := make([]byte, 8, 8+len(s))
	h[0] = stream
	binary.BigEndian.PutUint32(h[4:], uint32(len(s)))
	return append(h, s...)
}

func TestDemux(t *testing.T) {
	var in bytes.Buffer
	in.Write(muxFrame(1, "out1\n"))
	in.Write(muxFrame(2, "err1\n"))
	in.Write(muxFrame(1, strings.Repeat("x", 70000)))
	var out, errOut bytes.Buffer
	if err := demux(&out, &errOut, &in); err != nil {
		t.Fatal(err)
	}
	if out.String() != "out1\n"+strings.Repeat("x", 70000) || errOut.String() != "err1\n" {
		t.Fatalf("stdout %d bytes, stderr %q", out.Len(), errOut.String())
	}
	// a daemon error (stream 3), and a truncated header
	if err := demux(io.Discard, io.Discard, bytes.NewReader(muxFrame(3, "boom"))); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("stream 3: %v", err)
	}
	if err := demux(io.Discard, io.Discard, bytes.NewReader([]byte{1, 0, 0})); err == nil {
		t.Fatal("truncated header: no error")
	}
}

func TestEscapeReader(t *testing.T) {
	keys, err := parseDetachKeys("ctrl-p,ctrl-q")
	if err != nil || !bytes.Equal(keys, []byte{16, 17}) {
		t.Fatalf("keys %v %v", keys, err)
	}
	for _, tc := range []struct {
		in, want string
		detached bool
	}{
		{"hello", "hello", false},
		{"ab\x10\x11cd", "ab", true},
		{"a\x10b", "a\x10b", false},
		{"\x10\x10\x11", "\x10", true},
	} {
		got, err := io.ReadAll(&escapeReader{r: strings.NewReader(tc.in), keys: keys})
		if string(got) != tc.want || errors.Is(err, errDetached) != tc.detached {
			t.Errorf("%q: got %q, %v", tc.in, got, err)
		}
	}
	for _, bad := range []string{"ctrl-", "ctrl-1", "abc", ""} {
		if _, err := parseDetachKeys(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestRAMInBytes(t *testing.T) {
	for in, want := range map[string]int64{"32": 32, "32b": 32, "32k": 32 << 10, "32KB": 32 << 10, "32KiB": 32 << 10,
		"512m": 512 << 20, "1.5g": 3 << 29, "1 GiB": 1 << 30, "2t": 2 << 40, "1p": 1 << 50} {
		if got, err := ramInBytes(in); err != nil || got != want {
			t.Errorf("%q: %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "x", "12x", "-1", "1kx", "1bb", "1kib2"} {
		if _, err := ramInBytes(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestStartErrorCode(t *testing.T) {
	for msg, want := range map[string]int{
		`exec: "x": executable file not found in $PATH`: 127, "open /nope: no such file or directory": 127,
		"exec /etc: permission denied": 126, "cgroup: busy": 125} {
		if got := startErrorCode(&apiError{Message: msg}); got != want {
			t.Errorf("%q: %d, want %d", msg, got, want)
		}
	}
}
