package archive

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-dev/berth/errdefs"
)

// hostileCase is a layer that tries to reach outside the root. outside is
// the absolute path of a directory next to the root, holding a file
// "canary".
type hostileCase struct {
	name    string
	entries func(outside string) []entry
	pre     func(t *testing.T, root, outside string) // what lower layers left in root
	wantErr string                                   // `entry "<wantErr>"` if not ""
	errIn   WhiteoutMode                             // wantErr only in this mode, if set
	why     string                                   // and this in the message
	check   func(t *testing.T, root string)
}

func hostileCases() []hostileCase {
	return []hostileCase{
		{name: "dotdot", wantErr: "../evil", why: "escapes the root",
			entries: func(string) []entry { return []entry{reg("../evil", "x")} }},
		{name: "dotdot in the middle", wantErr: "a/../../evil", why: "escapes the root",
			entries: func(string) []entry { return []entry{reg("a/../../evil", "x")} }},
		{name: "absolute then dotdot", wantErr: "/../evil", why: "escapes the root",
			entries: func(string) []entry { return []entry{reg("/../evil", "x")} }},
		{name: "absolute is made relative",
			entries: func(string) []entry { return []entry{reg("/abs/evil", "x")} },
			check:   wantFile("abs/evil", "x")},
		{name: "harmless dotdot is cleaned",
			entries: func(string) []entry { return []entry{reg("./a/b/../c", "x")} },
			check:   wantFile("a/c", "x")},
		{name: "symlink to / then through it",
			entries: func(string) []entry { return []entry{symlinkEntry("a", "/"), reg("a/etc/evil", "x")} },
			check:   wantFile("etc/evil", "x")},
		{name: "symlink to /etc then a/passwd, /etc in the layer",
			entries: func(string) []entry {
				return []entry{dirEntry("etc/"), symlinkEntry("a", "/etc"), reg("a/passwd", "evil")}
			},
			check: wantFile("etc/passwd", "evil")},
		{name: "symlink to /etc then a/passwd, no /etc", wantErr: "a/passwd", why: "dangling symlink",
			entries: func(string) []entry { return []entry{symlinkEntry("a", "/etc"), reg("a/passwd", "evil")} }},
		{name: "symlink up and out then through it",
			entries: func(string) []entry { return []entry{symlinkEntry("a", "../../.."), reg("a/evil", "x")} },
			check:   wantFile("evil", "x")},
		{name: "symlink to the outside by absolute path", wantErr: "a/canary", why: "dangling symlink",
			entries: func(out string) []entry { return []entry{symlinkEntry("a", out), reg("a/canary", "pwned")} }},
		{name: "symlink to the outside by relative path", wantErr: "a/canary", why: "dangling symlink",
			entries: func(string) []entry { return []entry{symlinkEntry("a", "../outside"), reg("a/canary", "pwned")} }},
		{name: "symlink chain",
			entries: func(string) []entry {
				return []entry{symlinkEntry("a", "b"), symlinkEntry("b", "c/d"), symlinkEntry("c", "/"), symlinkEntry("d", "../../.."), reg("a/evil", "x")}
			},
			check: wantFile("evil", "x")},
		{name: "symlink loop", wantErr: "a/evil", why: "too many levels of symbolic links",
			entries: func(string) []entry {
				return []entry{symlinkEntry("a", "b"), symlinkEntry("b", "a"), reg("a/evil", "x")}
			}},
		{name: "magic link", wantErr: "p/etc/evil", why: "dangling symlink",
			entries: func(string) []entry { return []entry{symlinkEntry("p", "/proc/self/root"), reg("p/etc/evil", "x")} }},
		{name: "hard link to dotdot", wantErr: "l", why: "escapes the root",
			entries: func(string) []entry { return []entry{linkEntry("l", "../../etc/passwd")} }},
		{name: "hard link to an absolute path", wantErr: "l", why: "no such file",
			entries: func(string) []entry { return []entry{linkEntry("l", "/etc/passwd")} }},
		{name: "hard link to the canary", wantErr: "l", why: "no such file",
			entries: func(out string) []entry { return []entry{linkEntry("l", out+"/canary")} }},
		{name: "hard link through a symlink out", wantErr: "l", why: "no such file",
			entries: func(out string) []entry { return []entry{symlinkEntry("d", out), linkEntry("l", "d/canary")} }},
		{name: "hard link to a symlink that points out links the symlink",
			entries: func(out string) []entry {
				return []entry{symlinkEntry("s", out+"/canary"), linkEntry("l", "s"), reg("l", "pwned")}
			},
			check: func(t *testing.T, root string) {
				wantFile("l", "pwned")(t, root)
				if target, err := os.Readlink(filepath.Join(root, "s")); err != nil || !strings.HasSuffix(target, "/canary") {
					t.Errorf("s: %q, %v; want the symlink untouched", target, err)
				}
			}},
		{name: "hard link to a directory", wantErr: "l", why: "is a directory",
			entries: func(string) []entry { return []entry{dirEntry("d/"), linkEntry("l", "d")} }},
		{name: "hard link to the root", wantErr: "l", why: "is a directory",
			entries: func(string) []entry { return []entry{linkEntry("l", "./")} }},
		{name: "whiteout escapes", wantErr: "../.wh.outside", why: "escapes the root",
			entries: func(string) []entry { return []entry{reg("../.wh.outside", "")} }},
		{name: "whiteout of dotdot", wantErr: "a/.wh..", why: "invalid argument",
			entries: func(string) []entry { return []entry{reg("a/.wh..", "")} }},
		{name: "whiteout through a symlink out", wantErr: "a/.wh.canary", why: "dangling symlink", errIn: WhiteoutsOverlay,
			entries: func(out string) []entry { return []entry{reg("a/.wh.canary", "")} },
			pre: func(t *testing.T, root, out string) {
				mustSymlink(t, out, filepath.Join(root, "a"))
			},
			check: wantSymlink("a")},
		{name: "whiteout of a symlink removes the symlink only",
			entries: func(string) []entry { return []entry{reg(".wh.s", "")} },
			pre: func(t *testing.T, root, out string) {
				mustSymlink(t, filepath.Join(out, "canary"), filepath.Join(root, "s"))
			}},
		{name: "opaque directory that is a symlink out", wantErr: "s/.wh..wh..opq", why: "not a directory", errIn: WhiteoutsOverlay,
			entries: func(string) []entry { return []entry{reg("s/.wh..wh..opq", "")} },
			pre: func(t *testing.T, root, out string) {
				mustSymlink(t, out, filepath.Join(root, "s"))
			}},
		{name: "directory entry replaces a symlink",
			entries: func(out string) []entry {
				d := dirEntry("d/")
				d.hdr.Mode = 0o700
				d.hdr.Uid = 4242
				return []entry{symlinkEntry("d", out), d, reg("d/canary", "mine")}
			},
			check: wantFile("d/canary", "mine")},
		{name: "file entry replaces a symlink to a host file",
			entries: func(out string) []entry { return []entry{reg("f", "pwned")} },
			pre: func(t *testing.T, root, out string) {
				mustSymlink(t, filepath.Join(out, "canary"), filepath.Join(root, "f"))
			},
			check: wantFile("f", "pwned")},
		{name: "file entry replaces a symlink in the same layer",
			entries: func(out string) []entry { return []entry{symlinkEntry("f", out+"/canary"), reg("f", "pwned")} },
			check:   wantFile("f", "pwned")},
		{name: "device entry replaces a symlink",
			entries: func(out string) []entry {
				fifo := reg("f", "")
				fifo.hdr.Typeflag, fifo.hdr.Mode = '6', 0o777
				return []entry{symlinkEntry("f", out+"/canary"), fifo}
			}},
		{name: "symlink entry replaces a symlink",
			entries: func(out string) []entry { return []entry{symlinkEntry("f", out+"/canary"), symlinkEntry("f", out)} },
			check:   wantSymlink("f")},
		{name: "file as the root", wantErr: ".", why: "only a directory",
			entries: func(string) []entry { return []entry{reg(".", "x")} }},
		{name: "directory as the root",
			entries: func(string) []entry {
				d := dirEntry("./")
				d.hdr.Mode = 0o711
				return []entry{d}
			},
			check: func(t *testing.T, root string) {
				if fi, err := os.Stat(root); err != nil || fi.Mode().Perm() != 0o711 {
					t.Errorf("root: %v, %v; want mode 0711", fi, err)
				}
			}},
	}
}

func wantFile(p, content string) func(*testing.T, string) {
	return func(t *testing.T, root string) {
		t.Helper()
		fi, err := os.Lstat(filepath.Join(root, p))
		if err != nil || !fi.Mode().IsRegular() {
			t.Errorf("%s: %v, %v; want a regular file", p, fi, err)
			return
		}
		if b, _ := os.ReadFile(filepath.Join(root, p)); string(b) != content {
			t.Errorf("%s = %q, want %q", p, b, content)
		}
	}
}

func wantSymlink(p string) func(*testing.T, string) {
	return func(t *testing.T, root string) {
		t.Helper()
		if fi, err := os.Lstat(filepath.Join(root, p)); err != nil || fi.Mode().Type() != os.ModeSymlink {
			t.Errorf("%s: %v, %v; want a symlink", p, fi, err)
		}
	}
}

func mustSymlink(t *testing.T, target, p string) {
	t.Helper()
	if err := os.Symlink(target, p); err != nil {
		t.Fatal(err)
	}
}

// hostileDirs makes a temporary directory holding "root" and, next to it,
// "outside/canary" and "canary". It returns the root and outside.
func hostileDirs(t testing.TB, base string) (root, outside string) {
	root, outside = filepath.Join(base, "root"), filepath.Join(base, "outside")
	for _, d := range []string{root, outside} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{filepath.Join(outside, "canary"), filepath.Join(base, "canary")} {
		if err := os.WriteFile(f, []byte("canary"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root, outside
}

// outsideOf is everything below base except the root.
func outsideOf(t testing.TB, base string) map[string]fileInfo {
	s := snapshot(t, base)
	for p := range s {
		if p == "root" || strings.HasPrefix(p, "root/") {
			delete(s, p)
		}
	}
	return s
}

func TestHostile(t *testing.T) {
	for _, c := range hostileCases() {
		for _, mode := range []WhiteoutMode{WhiteoutsOverlay, WhiteoutsApply} {
			name := c.name + map[WhiteoutMode]string{WhiteoutsOverlay: "/overlay", WhiteoutsApply: "/apply"}[mode]
			t.Run(name, func(t *testing.T) {
				base := t.TempDir()
				root, outside := hostileDirs(t, base)
				if c.pre != nil {
					c.pre(t, root, outside)
				}
				wantErr := c.wantErr
				if c.errIn != 0 && c.errIn != mode {
					wantErr = ""
				}
				before := outsideOf(t, base)
				layer := mkTar(t, c.entries(outside)...)
				var err error
				sandbox(t, func() { err = applyBytes(t, root, layer, mode) })

				compareTrees(t, before, outsideOf(t, base))
				switch {
				case wantErr == "" && err != nil:
					t.Fatalf("Apply: %v", err)
				case wantErr != "" && err == nil:
					t.Fatalf("Apply succeeded, want an error about entry %q", wantErr)
				case wantErr != "":
					if want := "archive: entry \"" + wantErr + "\": "; !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), c.why) {
						t.Errorf("Apply: %v\nwant %s...%s", err, want, c.why)
					}
					if c.why == "escapes the root" && !errors.Is(err, errdefs.ErrInvalidArgument) {
						t.Errorf("Apply: %v is not ErrInvalidArgument", err)
					}
				}
				if c.check != nil {
					c.check(t, root)
				}
			})
		}
	}
}
