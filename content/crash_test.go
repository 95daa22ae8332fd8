package content

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// The crash tests re-execute the test binary as a child that writes to a
// store until the test SIGKILLs it. These select and configure the child.
const (
	childModeEnv = "BERTH_CONTENT_TEST_CHILD"
	childRootEnv = "BERTH_CONTENT_TEST_ROOT"
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(childModeEnv); mode != "" {
		os.Exit(child(mode, os.Getenv(childRootEnv)))
	}
	os.Exit(m.Run())
}

// child writes to the store at root, says "ready" on stdout once the write
// the parent wants to interrupt is under way, and carries on until killed
// (or, should the parent vanish, for at most a minute).
func child(mode, root string) int {
	deadline := time.Now().Add(time.Minute)
	s, err := Open(root)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx := context.Background()
	switch mode {
	case "write": // one large blob, never finished
		w, err := s.Writer(ctx, "", -1)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		chunk := randomBytes(4, 1<<20)
		for i := 0; time.Now().Before(deadline); i++ {
			if _, err := w.Write(chunk); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			if i == 8 {
				fmt.Println("ready")
			}
			if i > 8 {
				time.Sleep(time.Millisecond)
			}
		}
	case "commit": // blob after blob, so the kill lands anywhere
		for i := uint64(0); time.Now().Before(deadline); i++ {
			data := randomBytes(uint64(os.Getpid())<<20+i, int(i%7)<<18)
			if _, err := s.PutBytes(ctx, data, ""); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			if i == 0 {
				fmt.Println("ready")
			}
		}
	default:
		fmt.Fprintln(os.Stderr, "unknown child mode", mode)
		return 2
	}
	return 0
}

// killChild starts a child in mode on root, waits for it to be ready, waits
// delay more, and SIGKILLs it.
func killChild(t *testing.T, mode, root string, delay time.Duration) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childModeEnv+"="+mode, childRootEnv+"="+root)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "ready\n" {
		t.Fatalf("child: %q, %v", line, err)
	}
	time.Sleep(delay)
	if mode == "write" {
		// Make sure the kill lands mid-write: a partial file is in ingest/.
		names := listDir(t, filepath.Join(root, "ingest"))
		if len(names) != 1 {
			t.Fatalf("ingest holds %v while the child writes, want one file", names)
		}
		fi, err := os.Stat(filepath.Join(root, "ingest", names[0]))
		if err != nil || fi.Size() < 8<<20 {
			t.Fatalf("ingest file: %v, %v; want at least 8 MiB written", fi, err)
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child ended with %v, want killed by SIGKILL", err)
	}
}

// A daemon killed with SIGKILL mid-write leaves no partial blob, and the
// next Open leaves no ingest file.
func TestKilledMidWrite(t *testing.T) {
	root := t.TempDir()
	killChild(t, "write", root, 20*time.Millisecond)
	s, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	assertClean(t, s, root)
}

// Killed at a random instant while committing blob after blob: every blob
// left is whole, and nothing else is left.
func TestKilledWhileCommitting(t *testing.T) {
	root := t.TempDir()
	rounds := 5
	if testing.Short() {
		rounds = 2
	}
	for range rounds {
		killChild(t, "commit", root, time.Duration(rand.IntN(50))*time.Millisecond)
		s, err := Open(root)
		if err != nil {
			t.Fatal(err)
		}
		if names := listDir(t, filepath.Join(root, "ingest")); len(names) != 0 {
			t.Errorf("ingest files left: %v", names)
		}
		ds := blobs(t, s)
		if len(ds) == 0 {
			t.Fatal("the child committed nothing")
		}
		for _, d := range ds {
			if err := s.Verify(d); err != nil {
				t.Error(err)
			}
		}
		t.Logf("%d whole blobs after the kill", len(ds))
	}
}
