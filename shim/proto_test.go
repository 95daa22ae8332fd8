package shim

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

func TestFrames(t *testing.T) {
	var b bytes.Buffer
	for _, f := range []struct {
		stream byte
		p      string
	}{{Stdout, "hello\n"}, {Stderr, ""}, {Exit, `{"exitCode":3}`}} {
		if err := WriteFrame(&b, f.stream, []byte(f.p)); err != nil {
			t.Fatal(err)
		}
	}
	if got := b.Bytes()[:8]; !bytes.Equal(got, []byte{1, 0, 0, 0, 0, 0, 0, 6}) {
		t.Fatalf("header %v: want Docker's [stream 0 0 0 size32be]", got)
	}
	var buf []byte
	stream, p, err := ReadFrame(&b, buf)
	if err != nil || stream != Stdout || string(p) != "hello\n" {
		t.Fatalf("frame 1: %d %q %v", stream, p, err)
	}
	if stream, p, err = ReadFrame(&b, p[:0]); err != nil || stream != Stderr || len(p) != 0 {
		t.Fatalf("frame 2: %d %q %v", stream, p, err)
	}
	stream, p, err = ReadFrame(&b, p[:0])
	if err != nil || stream != Exit {
		t.Fatalf("frame 3: %d %v", stream, err)
	}
	st, err := ExitStatus(p)
	if err != nil || st.ExitCode != 3 {
		t.Fatalf("exit status %+v %v", st, err)
	}
	if _, _, err := ReadFrame(&b, nil); !errors.Is(err, io.EOF) {
		t.Errorf("end: %v", err)
	}
}

func TestReadFrameRefusesHugeOrCutFrames(t *testing.T) {
	huge := []byte{1, 0, 0, 0, 0x7f, 0, 0, 0}
	if _, _, err := ReadFrame(bytes.NewReader(huge), nil); err == nil {
		t.Error("a 2 GB frame was accepted")
	}
	cut := append([]byte{1, 0, 0, 0, 0, 0, 0, 10}, "short"...)
	if _, _, err := ReadFrame(bytes.NewReader(cut), nil); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("cut frame: %v", err)
	}
}

func TestReadyPid(t *testing.T) {
	for msg, want := range map[string]struct {
		pid int
		ok  bool
	}{"ok 1234": {1234, true}, "ok": {0, false}, "ok x": {0, false}, "okay": {0, false}, "": {0, false}, "exec: no such file": {0, false}} {
		if pid, ok := readyPid(msg); pid != want.pid || ok != want.ok {
			t.Errorf("readyPid(%q) = %d, %v; want %d, %v", msg, pid, ok, want.pid, want.ok)
		}
	}
}
