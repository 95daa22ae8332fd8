package snapshot

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
)

// The crash tests re-execute the test binary as a child that unpacks into a
// store until the test SIGKILLs it.
const (
	childEnv     = "BERTH_SNAPSHOT_TEST_CHILD"
	childRootEnv = "BERTH_SNAPSHOT_TEST_ROOT"
)

func TestMain(m *testing.M) {
	switch os.Getenv(childEnv) {
	case "":
	case "endless":
		os.Exit(child(os.Getenv(childRootEnv)))
	case "many":
		os.Exit(childMany(os.Getenv(childRootEnv)))
	}
	os.Exit(m.Run())
}

// crashChain is the layer the child never finishes.
var crashChain = digest.Canonical.FromString("the layer that never ends")

// child unpacks an endless layer into the store at root, saying "ready" on
// stdout once 8 MB are in, and carries on until killed (or, should the
// parent vanish, for at most a minute).
func child(root string) int {
	s, err := Open(root)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pr, pw := io.Pipe()
	go func() {
		tw := tar.NewWriter(pw)
		chunk := []byte(strings.Repeat("data", 1<<18)) // 1 MB
		for i := 0; ctx.Err() == nil; i++ {
			hdr := &tar.Header{Name: fmt.Sprintf("f%06d", i), Mode: 0o644, Size: int64(len(chunk)), Typeflag: tar.TypeReg}
			if err := tw.WriteHeader(hdr); err != nil {
				return
			}
			if _, err := tw.Write(chunk); err != nil {
				return
			}
			if i == 8 {
				fmt.Println("ready")
			}
		}
		pw.CloseWithError(ctx.Err())
	}()
	_, err = s.Unpack(ctx, crashChain, "", pr)
	fmt.Fprintln(os.Stderr, "unpack ended:", err)
	return 1
}

// manyLayer is the i'th layer childMany unpacks: a bottom layer of three
// files, 48 KB to 1 MB in all.
func manyLayer(i int) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	body := []byte(strings.Repeat(fmt.Sprintf("layer %d\n", i), (i%16+1)<<11))
	for _, name := range []string{"a", "b", "c"} {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg})
		tw.Write(body)
	}
	tw.Close()
	return buf.Bytes()
}

// childMany unpacks layer after layer, so that the kill lands anywhere: in
// Apply, in syncfs, in the rename, in making the short link.
func childMany(root string) int {
	s, err := Open(root)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	deadline := time.Now().Add(time.Minute)
	for i := 0; time.Now().Before(deadline); i++ {
		b := manyLayer(i)
		if _, err := s.Unpack(context.Background(), digest.Canonical.FromBytes(b), "", bytes.NewReader(b)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		if i == 0 {
			fmt.Println("ready")
		}
	}
	return 0
}

// startChild starts a child in mode on root and waits until it is
// unpacking.
func startChild(t *testing.T, mode, root string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+mode, childRootEnv+"="+root)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "ready\n" {
		t.Fatalf("child said %q, %v", line, err)
	}
	return cmd
}

func TestCrashMidUnpack(t *testing.T) {
	root := t.TempDir()
	cmd := startChild(t, "endless", root)
	time.Sleep(20 * time.Millisecond)

	// A second store on the same root leaves the live unpack alone.
	s, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	if got := names(t, filepath.Join(root, tmpDir)); len(got) != 1 {
		t.Fatalf("tmp/ with an unpack under way holds %q, want one directory", got)
	}

	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	if got := names(t, filepath.Join(root, tmpDir)); len(got) == 0 {
		t.Fatal("the killed child left nothing in tmp/: the test did not interrupt an unpack")
	}
	if s, err = Open(root); err != nil {
		t.Fatal(err)
	}
	if l := leftovers(t, s); len(l) != 0 {
		t.Errorf("leftovers after reopening: %q", l)
	}
	if s.Has(crashChain) {
		t.Error("Has the half-unpacked layer")
	}
	for _, d := range []string{layersDir, linksDir, activeDir} {
		if got := names(t, filepath.Join(root, d)); len(got) != 0 {
			t.Errorf("%s/ holds %q", d, got)
		}
	}
}

// Open removes incomplete layers and short links that lead nowhere (which
// Unpack and Remove never leave, but a crash of an older berth, a full disk
// or a hand might).
func TestOpenClearsDebris(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	img := threeLayers(t)
	img.unpack(t, s)
	lowers, err := s.Lowers(img.top())
	if err != nil {
		t.Fatal(err)
	}

	// The top layer loses its size file, as if never finished.
	topHex := strings.TrimPrefix(string(img.top()), "sha256:")
	if err := os.Remove(filepath.Join(s.Root(), layersDir, topHex, sizeFile)); err != nil {
		t.Fatal(err)
	}
	junk := []string{
		filepath.Join(s.Root(), layersDir, "not-a-layer"),
		filepath.Join(s.Root(), tmpDir, "dead-unpack", fsDir),
	}
	for _, d := range junk {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(s.Root(), tmpDir, "dead-file"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	// A link to a layer that is gone, and one under the wrong name.
	os.Symlink("../layers/"+strings.Repeat("0", 64)+"/fs", filepath.Join(s.Root(), linksDir, "dangling"))
	os.Symlink(linkTarget(strings.TrimPrefix(string(img.chain[0]), "sha256:")), filepath.Join(s.Root(), linksDir, "misnamed"))
	// And a lost link.
	if err := os.Remove(lowers[1]); err != nil {
		t.Fatal(err)
	}

	s, err = Open(s.Root())
	if err != nil {
		t.Fatal(err)
	}
	if l := leftovers(t, s); len(l) != 0 {
		t.Errorf("leftovers: %q", l)
	}
	if s.Has(img.top()) {
		t.Error("Has the incomplete layer")
	}
	if got := names(t, filepath.Join(s.Root(), layersDir)); len(got) != 2 {
		t.Errorf("layers/ = %q, want the two whole layers", got)
	}
	if got := names(t, filepath.Join(s.Root(), linksDir)); len(got) != 1 || got[0] != filepath.Base(lowers[2]) {
		t.Errorf("l/ = %q, want only %s", got, filepath.Base(lowers[2]))
	}
	// The lost link comes back when needed.
	got, err := s.Lowers(img.chain[1])
	if err != nil || len(got) != 2 || got[0] != lowers[1] {
		t.Errorf("Lowers = %q, %v; want %q", got, err, lowers[1:])
	}
	wantContent(t, got[0]+"/etc/hostname", "L1")
	// And the incomplete layer can be unpacked again.
	if read := img.unpack(t, s); read[2] == 0 {
		t.Error("the incomplete layer was not unpacked again")
	}
}

// TestCrashAnywhere kills a child that unpacks layer after layer at random
// moments: every layer left is whole and right, and nothing else is left.
func TestCrashAnywhere(t *testing.T) {
	root := t.TempDir()
	ids := map[digest.Digest]int{}
	for i := range 300 {
		ids[digest.Canonical.FromBytes(manyLayer(i))] = i
	}
	for round := range 8 {
		cmd := startChild(t, "many", root)
		time.Sleep(time.Duration(rand.IntN(60)) * time.Millisecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		cmd.Wait()
		s, err := Open(root)
		if err != nil {
			t.Fatal(err)
		}
		if l := leftovers(t, s); len(l) != 0 {
			t.Errorf("round %d: leftovers: %q", round, l)
		}
		n := 0
		err = s.Walk(func(id, parent digest.Digest, size int64) error {
			n++
			i, ok := ids[id]
			if !ok || parent != "" || size != int64(len(manyLayer(i))) {
				return fmt.Errorf("layer %s: unknown, or parent %q, size %d", id, parent, size)
			}
			lowers, err := s.Lowers(id)
			if err != nil {
				return err
			}
			want := strings.Repeat(fmt.Sprintf("layer %d\n", i), (i%16+1)<<11)
			for _, f := range []string{"a", "b", "c"} {
				if b, err := os.ReadFile(filepath.Join(lowers[0], f)); err != nil || string(b) != want {
					return fmt.Errorf("layer %d: file %s: %d bytes, %v", i, f, len(b), err)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if got := len(names(t, filepath.Join(root, linksDir))); got > n {
			t.Errorf("round %d: %d short links for %d layers", round, got, n)
		}
		t.Logf("round %d: %d layers", round, n)
	}
}
