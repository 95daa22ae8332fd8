package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestMain(m *testing.M) {
	if os.Geteuid() != 0 {
		// Owners, device nodes, trusted.* xattrs, overlay mounts and the
		// sandbox's mount namespace all need root.
		fmt.Fprintln(os.Stderr, "the archive tests need root (run go test as root; CI does)")
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// testTime is the modification time of every entry the tests build.
var testTime = time.Unix(1700000000, 0)

// entry is one tar entry for mkTar.
type entry struct {
	hdr  tar.Header
	body string
}

func reg(name, body string) entry {
	return entry{hdr: tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(body)), ModTime: testTime}, body: body}
}

func dirEntry(name string) entry {
	return entry{hdr: tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: 0o755, ModTime: testTime}}
}

func symlinkEntry(name, target string) entry {
	return entry{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777, ModTime: testTime}}
}

func linkEntry(name, target string) entry {
	return entry{hdr: tar.Header{Typeflag: tar.TypeLink, Name: name, Linkname: target, Mode: 0o644, ModTime: testTime}}
}

// mkTar builds a tar of es.
func mkTar(t testing.TB, es ...entry) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range es {
		h := e.hdr
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatalf("tar header %q: %v", h.Name, err)
		}
		if _, err := io.WriteString(tw, e.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func applyBytes(t testing.TB, root string, b []byte, mode WhiteoutMode) error {
	t.Helper()
	_, err := Apply(context.Background(), root, bytes.NewReader(b), ApplyOptions{Whiteouts: mode})
	return err
}

func mustApply(t testing.TB, root string, b []byte, mode WhiteoutMode) {
	t.Helper()
	if err := applyBytes(t, root, b, mode); err != nil {
		t.Fatalf("Apply: %v", err)
	}
}

// fileInfo is what the tests compare of one path.
type fileInfo struct {
	Type   string
	Mode   uint32 // permission, setuid, setgid and sticky bits
	UID    uint32
	GID    uint32
	Size   int64
	Sum    string // sha256 of a regular file
	Target string // symlink target
	Rdev   uint64
	Mtime  int64 // seconds
	Xattrs string
	Links  string // the first path (sorted) sharing this inode, if any other does
}

// snapshot describes every path below root (not root itself).
func snapshot(t testing.TB, root string) map[string]fileInfo {
	t.Helper()
	out := make(map[string]fileInfo)
	inodes := make(map[[2]uint64][]string)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "." {
			return nil
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		fi := fileInfo{
			Mode:  st.Mode & 0o7777,
			UID:   st.Uid,
			GID:   st.Gid,
			Mtime: st.Mtim.Sec,
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFDIR:
			fi.Type = "dir"
		case unix.S_IFREG:
			fi.Type = "file"
			fi.Size = st.Size
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			s := sha256.Sum256(b)
			fi.Sum = hex.EncodeToString(s[:8])
		case unix.S_IFLNK:
			fi.Type = "symlink"
			fi.Mode = 0
			fi.Target, _ = os.Readlink(p)
		case unix.S_IFCHR:
			fi.Type, fi.Rdev = "char", st.Rdev
		case unix.S_IFBLK:
			fi.Type, fi.Rdev = "block", st.Rdev
		case unix.S_IFIFO:
			fi.Type = "fifo"
		default:
			fi.Type = fmt.Sprintf("%#o", st.Mode&unix.S_IFMT)
		}
		fi.Xattrs = listXattrs(t, p)
		if fi.Type != "dir" && st.Nlink > 1 {
			k := [2]uint64{st.Dev, st.Ino}
			inodes[k] = append(inodes[k], rel)
		}
		out[rel] = fi
		return nil
	})
	if err != nil {
		t.Fatalf("snapshot %s: %v", root, err)
	}
	for _, paths := range inodes {
		if len(paths) < 2 {
			continue
		}
		slices.Sort(paths)
		for _, p := range paths {
			fi := out[p]
			fi.Links = paths[0]
			out[p] = fi
		}
	}
	return out
}

func listXattrs(t testing.TB, p string) string {
	sz, err := unix.Llistxattr(p, nil)
	if err != nil || sz == 0 {
		return ""
	}
	buf := make([]byte, sz)
	sz, err = unix.Llistxattr(p, buf)
	if err != nil {
		t.Fatalf("llistxattr %s: %v", p, err)
	}
	var kv []string
	for _, n := range strings.Split(strings.TrimRight(string(buf[:sz]), "\x00"), "\x00") {
		if n == "security.selinux" {
			continue
		}
		v := make([]byte, 4096)
		m, err := unix.Lgetxattr(p, n, v)
		if err != nil {
			t.Fatalf("lgetxattr %s %s: %v", p, n, err)
		}
		kv = append(kv, fmt.Sprintf("%s=%q", n, v[:m]))
	}
	slices.Sort(kv)
	return strings.Join(kv, ",")
}

// compareTrees fails t for every difference between two snapshots.
func compareTrees(t testing.TB, want, got map[string]fileInfo) {
	t.Helper()
	var paths []string
	for p := range want {
		paths = append(paths, p)
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			paths = append(paths, p)
		}
	}
	slices.Sort(paths)
	for _, p := range paths {
		w, wok := want[p]
		g, gok := got[p]
		switch {
		case !gok:
			t.Errorf("%s: missing", p)
		case !wok:
			t.Errorf("%s: unexpected %+v", p, g)
		case w != g:
			t.Errorf("%s:\n want %+v\n got  %+v", p, w, g)
		}
	}
}

// sandbox runs f on a thread of its own in a private mount namespace where
// /etc is a fresh tmpfs holding a canary passwd file, so that a bug that
// escapes the root towards /etc cannot harm the host. f must not call
// t.Fatal; it reports with t.Error.
func sandbox(t *testing.T, f func()) {
	t.Helper()
	done := make(chan error)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		done <- func() (err error) {
			defer func() {
				if r := recover(); r != nil {
					err = fmt.Errorf("panic: %v", r)
				}
			}()
			if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
				return fmt.Errorf("unshare: %w", err)
			}
			if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
				return fmt.Errorf("make / private: %w", err)
			}
			if err := unix.Mount("tmpfs", "/etc", "tmpfs", 0, "size=16m"); err != nil {
				return fmt.Errorf("tmpfs on /etc: %w", err)
			}
			if err := os.WriteFile("/etc/passwd", []byte(hostPasswd), 0o644); err != nil {
				return err
			}
			f()
			if b, err := os.ReadFile("/etc/passwd"); err != nil || string(b) != hostPasswd {
				t.Errorf("the sandbox's /etc/passwd changed: %q, %v", b, err)
			}
			if ents, _ := os.ReadDir("/etc"); len(ents) != 1 {
				t.Errorf("the sandbox's /etc holds %d entries, want 1", len(ents))
			}
			return nil
		}()
	}()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

const hostPasswd = "root:x:0:0:root:/root:/bin/sh\n"

func tarReader(t testing.TB, layer []byte) *tar.Reader {
	t.Helper()
	rc, _, err := Decompress(bytes.NewReader(layer))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rc.Close() })
	return tar.NewReader(rc)
}
