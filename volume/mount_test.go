package volume

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

func needRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting needs root")
	}
}

// mountCount is how many mounts are stacked on path.
func mountCount(t *testing.T, path string) int {
	t.Helper()
	n := 0
	if err := eachMount(func(mp string) bool {
		if mp == path {
			n++
		}
		return true
	}); err != nil {
		t.Fatal(err)
	}
	return n
}

func fsType(t *testing.T, path string) int64 {
	t.Helper()
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Type
}

func TestTmpfsVolume(t *testing.T) {
	needRoot(t)
	s := newStore(t)
	v := mustCreate(t, s, CreateRequest{Name: "scratch", Options: map[string]string{"type": "tmpfs", "o": "size=10m,mode=0750,nodev"}})
	if n := mountCount(t, v.Mountpoint); n != 0 {
		t.Fatalf("mounted at create: %d", n)
	}
	p, err := s.Mount("scratch", "c1")
	if err != nil {
		t.Fatal(err)
	}
	if p != v.Mountpoint || mountCount(t, p) != 1 || fsType(t, p) != unix.TMPFS_MAGIC {
		t.Fatalf("after the first mount: %s, %d mounts", p, mountCount(t, p))
	}
	var st unix.Statfs_t
	unix.Statfs(p, &st)
	if size := int64(st.Blocks) * st.Bsize; size != 10<<20 {
		t.Errorf("tmpfs size %d, want 10m", size)
	}
	if st.Flags&unix.ST_NODEV == 0 {
		t.Error("nodev not applied")
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o750 {
		t.Errorf("tmpfs mode %v", fi.Mode())
	}
	if err := os.WriteFile(filepath.Join(p, "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Mount("scratch", "c2"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Mount("scratch", "c2"); err != nil { // at two paths of one container
		t.Fatal(err)
	}
	if n := mountCount(t, p); n != 1 {
		t.Fatalf("%d mounts after three references", n)
	}
	if size, err := s.Usage("scratch"); err != nil || size != 1 {
		t.Errorf("usage %d, %v", size, err)
	}

	// A daemon restart: a new store sees the mount and does not stack
	// another; its references start from those it is told again.
	s2, err := Open(filepath.Dir(filepath.Dir(p)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s2.Mount("scratch", "c1"); err != nil {
		t.Fatal(err)
	}
	if n := mountCount(t, p); n != 1 {
		t.Fatalf("%d mounts after a restart's Mount", n)
	}
	if _, err := os.Stat(filepath.Join(p, "f")); err != nil {
		t.Errorf("content lost across the restart: %v", err)
	}
	if err := s2.Unmount("scratch", "unknown"); err != nil {
		t.Errorf("unmount of an unknown reference: %v", err)
	}
	if n := mountCount(t, p); n != 1 {
		t.Fatal("unmount of an unknown reference unmounted")
	}

	for _, ref := range []string{"c1", "c2", "c2"} {
		if mountCount(t, p) != 1 {
			t.Fatalf("unmounted before the last reference (%s)", ref)
		}
		if err := s.Unmount("scratch", ref); err != nil {
			t.Fatal(err)
		}
	}
	if n := mountCount(t, p); n != 0 {
		t.Fatalf("%d mounts after the last unmount", n)
	}
	if _, err := os.Stat(filepath.Join(p, "f")); !os.IsNotExist(err) {
		t.Errorf("tmpfs content after unmount: %v", err)
	}

	// s2 still counts c1; Remove refuses. Once released, a fresh mount is
	// empty.
	if err := s2.Remove("scratch"); err == nil {
		t.Fatal("removed while s2 has a reference")
	}
	if err := s2.Unmount("scratch", "c1"); err != nil {
		t.Fatal(err)
	}
	if err := s2.Remove("scratch"); err != nil {
		t.Fatal(err)
	}
}

// Remove unmounts a volume's file system that a crashed daemon left.
func TestRemoveLeftoverMount(t *testing.T) {
	needRoot(t)
	s := newStore(t)
	v := mustCreate(t, s, CreateRequest{Name: "vt", Options: map[string]string{"type": "tmpfs"}})
	if _, err := s.Mount("vt", "c1"); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(s.Dir()) // the old store's references are lost
	if err != nil {
		t.Fatal(err)
	}
	if err := s2.Remove("vt"); err != nil {
		t.Fatal(err)
	}
	if n := mountCount(t, v.Mountpoint); n != 0 {
		t.Errorf("%d mounts left", n)
	}
}

func TestBindVolume(t *testing.T) {
	needRoot(t)
	s := newStore(t)
	host := t.TempDir()
	if err := os.WriteFile(filepath.Join(host, "hello"), []byte("from the host"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, s, CreateRequest{Name: "srv", Options: map[string]string{"type": "none", "o": "bind", "device": host}})
	mustCreate(t, s, CreateRequest{Name: "srv-ro", Options: map[string]string{"o": "rbind,ro", "device": host}})

	p, err := s.Mount("srv", "c1")
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(p, "hello")); string(b) != "from the host" {
		t.Fatalf("bind content: %q, %v", b, err)
	}
	if err := os.WriteFile(filepath.Join(p, "new"), []byte("y"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(host, "new")); err != nil {
		t.Errorf("written through the bind: %v", err)
	}

	ro, err := s.Mount("srv-ro", "c1")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ro, "x"), nil, 0o644); !errors.Is(err, unix.EROFS) {
		t.Errorf("write to a read-only bind: %v", err)
	}
	if err := s.Unmount("srv-ro", "c1"); err != nil {
		t.Fatal(err)
	}

	// Export reads the host directory (the volume is mounted meanwhile).
	if err := s.Unmount("srv", "c1"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(p, "hello")); !os.IsNotExist(err) {
		t.Errorf("bind still there: %v", err)
	}
	names := tarNames(t, exportBytes(t, s, "srv"))
	if want := "./ hello new"; names != want {
		t.Errorf("export of a bind volume: %q, want %q", names, want)
	}
	if mountCount(t, p) != 0 {
		t.Error("left mounted by export")
	}

	// Removing a bind volume leaves the host directory alone.
	if err := s.Remove("srv"); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove("srv-ro"); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"hello", "new"} {
		if _, err := os.Stat(filepath.Join(host, f)); err != nil {
			t.Errorf("host file after remove: %v", err)
		}
	}
}

func TestMountFailure(t *testing.T) {
	needRoot(t)
	s := newStore(t)
	mustCreate(t, s, CreateRequest{Name: "bad", Options: map[string]string{"type": "nosuchfs", "device": "x"}})
	if _, err := s.Mount("bad", "c1"); err == nil {
		t.Fatal("mounted a file system that does not exist")
	}
	if err := s.Remove("bad"); err != nil {
		t.Errorf("a failed mount left a reference: %v", err)
	}
	if _, err := s.Mount("x", ""); err == nil {
		t.Error("empty reference taken")
	}
}

func TestMountArgs(t *testing.T) {
	cases := []struct {
		opts             map[string]string
		source, fstype   string
		flags, propagate uintptr
		data             string
	}{
		{map[string]string{"type": "tmpfs", "o": "size=10m,uid=1000"}, "tmpfs", "tmpfs", 0, 0, "size=10m,uid=1000"},
		{map[string]string{"type": "tmpfs", "device": "tmpfs", "o": "ro,nosuid,nodev,noexec"}, "tmpfs", "tmpfs",
			unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, 0, ""},
		{map[string]string{"type": "none", "o": "bind", "device": "/srv"}, "/srv", "", unix.MS_BIND, 0, ""},
		{map[string]string{"o": "rbind,ro,rw,rprivate", "device": "/srv"}, "/srv", "", unix.MS_BIND | unix.MS_REC, unix.MS_PRIVATE | unix.MS_REC, ""},
		{map[string]string{"type": "nfs", "o": "addr=10.0.0.1,rw,noatime,nfsvers=4", "device": ":/export"}, ":/export", "nfs", unix.MS_NOATIME, 0, "addr=10.0.0.1,nfsvers=4"},
		{map[string]string{"type": "ext4", "device": "/dev/sdb1"}, "/dev/sdb1", "ext4", 0, 0, ""},
	}
	for _, c := range cases {
		source, fstype, flags, prop, data := mountArgs(c.opts)
		if source != c.source || fstype != c.fstype || flags != c.flags || prop != c.propagate || data != c.data {
			t.Errorf("%v: %q %q %#x %#x %q", c.opts, source, fstype, flags, prop, data)
		}
	}
}

func TestUnescapeMountinfo(t *testing.T) {
	for in, want := range map[string]string{
		`/plain`:               "/plain",
		`/a\040b`:              "/a b",
		`/tab\011nl\012bs\134`: "/tab\tnl\nbs\\",
		`/short\04`:            `/short\04`,
		`/not\999`:             `/not\999`,
	} {
		if got := unescapeMountinfo(in); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
	// A mount point with a space, through the real mountinfo.
	needRoot(t)
	dir := filepath.Join(t.TempDir(), "with space")
	os.Mkdir(dir, 0o755)
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, ""); err != nil {
		t.Fatal(err)
	}
	defer unix.Unmount(dir, 0)
	dir, _ = filepath.EvalSymlinks(dir)
	if ok, err := isMountpoint(dir); !ok || err != nil {
		t.Errorf("isMountpoint(%q): %v, %v", dir, ok, err)
	}
}
