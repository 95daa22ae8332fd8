package volume

import (
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/berth-dev/berth/errdefs"
)

// newStore opens a store in a fresh directory. Whatever a test leaves
// mounted below it is unmounted before the directory is removed.
func newStore(t *testing.T) *Store {
	t.Helper()
	dir := t.TempDir()
	t.Cleanup(func() { unmountAllBelow(t, dir) })
	s, err := Open(filepath.Join(dir, "volumes"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func unmountAllBelow(t *testing.T, dir string) {
	dir, _ = filepath.EvalSymlinks(dir)
	mps, err := mountsBelow(dir)
	if err != nil {
		t.Error(err)
	}
	for i := len(mps) - 1; i >= 0; i-- {
		if err := unmountIfMounted(mps[i]); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	}
}

func mustCreate(t *testing.T, s *Store, req CreateRequest) *Volume {
	t.Helper()
	v, err := s.Create(req)
	if err != nil {
		t.Fatalf("create %+v: %v", req, err)
	}
	return v
}

func TestCreateGetListRemove(t *testing.T) {
	s := newStore(t)
	v := mustCreate(t, s, CreateRequest{Name: "db", Labels: map[string]string{"a": "b"}})
	if v.Name != "db" || v.Driver != DriverLocal || v.Anonymous || v.Labels["a"] != "b" || v.CreatedAt.IsZero() {
		t.Errorf("created %+v", v)
	}
	if want := filepath.Join(s.Dir(), "db", "_data"); v.Mountpoint != want {
		t.Errorf("mountpoint %s, want %s", v.Mountpoint, want)
	}
	if fi, err := os.Stat(v.Mountpoint); err != nil || !fi.IsDir() {
		t.Fatalf("mountpoint: %v", err)
	}
	mustCreate(t, s, CreateRequest{Name: "app", Driver: "local"})
	mustCreate(t, s, CreateRequest{Name: "cache"})

	got, err := s.Get("db")
	if err != nil || got.Labels["a"] != "b" {
		t.Fatalf("get: %+v, %v", got, err)
	}
	got.Labels["a"] = "changed" // a copy
	if again, _ := s.Get("db"); again.Labels["a"] != "b" {
		t.Error("Get returned the store's own volume")
	}

	var names []string
	for _, v := range s.List() {
		names = append(names, v.Name)
	}
	if strings.Join(names, " ") != "app cache db" {
		t.Errorf("list %v", names)
	}

	if err := s.Remove("db"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(s.Dir(), "db")); !os.IsNotExist(err) {
		t.Errorf("volume directory left: %v", err)
	}
	_, err = s.Get("db")
	if !errdefs.IsNotFound(err) || !strings.Contains(err.Error(), "get db: no such volume") {
		t.Errorf("get after remove: %v", err)
	}
	if err := s.Remove("db"); !errdefs.IsNotFound(err) {
		t.Errorf("second remove: %v", err)
	}
	entries, _ := os.ReadDir(s.Dir())
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("left in the store: %s", e.Name())
		}
	}
}

func TestCreateIdempotent(t *testing.T) {
	s := newStore(t)
	opts := map[string]string{"type": "tmpfs", "o": "size=1m"}
	v1 := mustCreate(t, s, CreateRequest{Name: "vol", Options: opts, Labels: map[string]string{"x": "1"}})
	v2 := mustCreate(t, s, CreateRequest{Name: "vol", Driver: "local", Options: map[string]string{"o": "size=1m", "type": "tmpfs"}, Labels: map[string]string{"x": "2"}})
	if !v1.CreatedAt.Equal(v2.CreatedAt) || v2.Labels["x"] != "1" {
		t.Errorf("second create made a new volume: %+v, %+v", v1, v2)
	}
	_, err := s.Create(CreateRequest{Name: "vol", Options: map[string]string{"type": "tmpfs", "o": "size=2m"}})
	if !errdefs.IsConflict(err) || !strings.Contains(err.Error(), "volume vol already exists with different options") {
		t.Errorf("different options: %v", err)
	}
	_, err = s.Create(CreateRequest{Name: "vol"})
	if !errdefs.IsConflict(err) {
		t.Errorf("no options for a volume with options: %v", err)
	}
	mustCreate(t, s, CreateRequest{Name: "plain"})
	mustCreate(t, s, CreateRequest{Name: "plain", Options: map[string]string{}})
}

func TestCreateAnonymous(t *testing.T) {
	s := newStore(t)
	v := mustCreate(t, s, CreateRequest{})
	if _, err := hex.DecodeString(v.Name); err != nil || len(v.Name) != 64 || !v.Anonymous {
		t.Errorf("anonymous volume %+v", v)
	}
	w := mustCreate(t, s, CreateRequest{})
	if w.Name == v.Name {
		t.Error("two anonymous volumes with one name")
	}
	if x := mustCreate(t, s, CreateRequest{Name: "named-anon", Anonymous: true}); !x.Anonymous {
		t.Error("Anonymous not kept")
	}
}

func TestCreateRefused(t *testing.T) {
	s := newStore(t)
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	badName := func(n string) string {
		return fmt.Sprintf(`create %s: "%s" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`, n, n)
	}
	cases := []struct {
		req  CreateRequest
		want string
	}{
		{CreateRequest{Name: "a"}, badName("a")},
		{CreateRequest{Name: "a/b"}, badName("a/b")},
		{CreateRequest{Name: ".."}, badName("..")},
		{CreateRequest{Name: "../x"}, badName("../x")},
		{CreateRequest{Name: "/abs"}, badName("/abs")},
		{CreateRequest{Name: ".hidden"}, badName(".hidden")},
		{CreateRequest{Name: "-x"}, badName("-x")},
		{CreateRequest{Name: "a b"}, badName("a b")},
		{CreateRequest{Name: "été"}, badName("été")},
		{CreateRequest{Name: "vol", Driver: "nfs"}, `create vol: volume driver "nfs" is not supported`},
		{CreateRequest{Name: "vol", Options: map[string]string{"size": "1g"}}, `create vol: invalid option: "size"`},
		{CreateRequest{Name: "vol", Options: map[string]string{"type": "ext4"}}, `create vol: missing required option: "device"`},
		{CreateRequest{Name: "vol", Options: map[string]string{"device": "/dev/sdz"}}, `create vol: missing required option: "type"`},
		{CreateRequest{Name: "vol", Options: map[string]string{"o": "noatime"}}, `create vol: missing required option: "type"`},
		{CreateRequest{Name: "vol", Options: map[string]string{"type": "nfs", "o": "addr=1.2.3.4"}}, `create vol: missing required option: "device"`},
		{CreateRequest{Name: "vol", Options: map[string]string{"o": "bind"}}, `create vol: missing required option: "device"`},
		{CreateRequest{Name: "vol", Options: map[string]string{"o": "bind", "device": "rel/dir"}}, `create vol: bind device "rel/dir" must be an absolute path`},
		{CreateRequest{Name: "vol", Options: map[string]string{"o": "bind", "device": "/nonexistent/dir"}}, `create vol: bind device "/nonexistent/dir": stat /nonexistent/dir: no such file or directory`},
		{CreateRequest{Name: "vol", Options: map[string]string{"type": "none", "o": "rbind,ro", "device": file}}, `is not a directory`},
	}
	for _, c := range cases {
		_, err := s.Create(c.req)
		if !errdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.req, err, c.want)
		}
	}
	if n := len(s.List()); n != 0 {
		t.Errorf("%d volumes made", n)
	}
	if entries, _ := os.ReadDir(s.Dir()); len(entries) != 0 {
		t.Errorf("%d entries in the store", len(entries))
	}
	// Names Docker takes.
	for _, n := range []string{"ab", "a..b", "A_b-c.d", "0", "01"} {
		_, err := s.Create(CreateRequest{Name: n})
		if (err == nil) != (n != "0") {
			t.Errorf("%q: %v", n, err)
		}
	}
}

func TestOpenReloads(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "volumes")
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	a := mustCreate(t, s, CreateRequest{Name: "va", Labels: map[string]string{"k": "v"}})
	b := mustCreate(t, s, CreateRequest{Options: map[string]string{"type": "tmpfs", "device": "tmpfs", "o": "size=1m"}})
	if err := os.WriteFile(filepath.Join(a.Mountpoint, "f"), []byte("kept"), 0o644); err != nil {
		t.Fatal(err)
	}
	// What Open must skip or clear.
	for _, d := range []string{"nometa/_data", "badmeta/_data", "othername/_data", ".removing-x-123/_data/deep"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(dir, "badmeta", metaFile), []byte("{"), 0o600)
	os.WriteFile(filepath.Join(dir, "othername", metaFile), []byte(`{"name":"va","driver":"local"}`), 0o600)
	os.WriteFile(filepath.Join(dir, "metadata.db"), nil, 0o600)

	s2, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	list := s2.List()
	if len(list) == 2 && list[0].Name == b.Name {
		list[0], list[1] = list[1], list[0]
	}
	if len(list) != 2 || list[0].Name != "va" || list[1].Name != b.Name {
		t.Fatalf("reopened: %d volumes", len(list))
	}
	if got := list[0]; got.Labels["k"] != "v" || !got.CreatedAt.Equal(a.CreatedAt) || got.Mountpoint != a.Mountpoint {
		t.Errorf("a reloaded as %+v, was %+v", got, a)
	}
	if got := list[1]; !got.Anonymous || got.Options["o"] != "size=1m" {
		t.Errorf("anonymous volume reloaded as %+v", got)
	}
	w := strings.Join(s2.Warnings(), "\n")
	for _, name := range []string{"nometa", "badmeta", "othername"} {
		if !strings.Contains(w, "volume "+name+" skipped") {
			t.Errorf("warnings %q do not name %s", w, name)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, ".removing-x-123")); !os.IsNotExist(err) {
		t.Errorf("unfinished removal left: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(list[0].Mountpoint, "f")); string(b) != "kept" {
		t.Errorf("content: %q, %v", b, err)
	}
	// A skipped directory is taken over by a create of its name.
	if _, err := s2.Create(CreateRequest{Name: "nometa"}); err != nil {
		t.Fatal(err)
	}
}

func TestRemoveMounted(t *testing.T) {
	s := newStore(t)
	mustCreate(t, s, CreateRequest{Name: "vol"})
	p, err := s.Mount("vol", "c1")
	if err != nil {
		t.Fatal(err)
	}
	if p != filepath.Join(s.Dir(), "vol", "_data") {
		t.Errorf("mount path %s", p)
	}
	if _, err := s.Mount("vol", "c2"); err != nil {
		t.Fatal(err)
	}
	err = s.Remove("vol")
	if !errdefs.IsConflict(err) || !strings.Contains(err.Error(), "remove vol: volume is in use - [c1, c2]") {
		t.Errorf("remove while mounted: %v", err)
	}
	s.Unmount("vol", "c1")
	if err := s.Remove("vol"); !errdefs.IsConflict(err) {
		t.Errorf("remove while mounted by c2: %v", err)
	}
	s.Unmount("vol", "c2")
	if err := s.Remove("vol"); err != nil {
		t.Errorf("remove: %v", err)
	}
	if _, err := s.Mount("vol", "c1"); !errdefs.IsNotFound(err) {
		t.Errorf("mount of a removed volume: %v", err)
	}
	if err := s.Unmount("vol", "c1"); !errdefs.IsNotFound(err) {
		t.Errorf("unmount of a removed volume: %v", err)
	}
}

// A directory mounted below a volume (by someone else) is never deleted
// through.
func TestRemoveRefusesMountBelow(t *testing.T) {
	s := newStore(t)
	v := mustCreate(t, s, CreateRequest{Name: "vol"})
	host := t.TempDir()
	os.WriteFile(filepath.Join(host, "precious"), []byte("x"), 0o644)
	sub := filepath.Join(v.Mountpoint, "sub")
	os.Mkdir(sub, 0o755)
	if err := mountOptions(map[string]string{"o": "bind", "device": host}, sub); err != nil {
		t.Fatal(err)
	}
	err := s.Remove("vol")
	if !errdefs.IsConflict(err) || !strings.Contains(err.Error(), "is mounted") {
		t.Errorf("remove: %v", err)
	}
	if err := unmountIfMounted(sub); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(host, "precious")); err != nil {
		t.Fatalf("host file: %v", err)
	}
	if err := s.Remove("vol"); err != nil {
		t.Fatal(err)
	}
}

func TestConcurrent(t *testing.T) {
	s := newStore(t)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("v%d", i%3)
			for j := range 20 {
				if _, err := s.Create(CreateRequest{Name: name}); err != nil {
					t.Error(err)
					return
				}
				ref := fmt.Sprintf("c%d-%d", i, j)
				if _, err := s.Mount(name, ref); err != nil {
					t.Error(err)
					return
				}
				s.List()
				if _, err := s.Usage(name); err != nil {
					t.Error(err)
				}
				if err := s.Unmount(name, ref); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	for _, v := range s.List() {
		if err := s.Remove(v.Name); err != nil {
			t.Error(err)
		}
	}
}
