package cli

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/archive"
)

func TestSplitCpArg(t *testing.T) {
	for _, c := range []struct{ arg, ctr, path string }{
		{"c1:/etc/hosts", "c1", "/etc/hosts"},
		{"c1:", "c1", ""},
		{"c1:rel", "c1", "rel"},
		{"ns/c1:/x", "ns/c1", "/x"},
		{"/abs:colon", "", "/abs:colon"},
		{"./x:y", "", "./x:y"},
		{".hidden:y", "", ".hidden:y"},
		{"plain", "", "plain"},
		{"-", "", "-"},
	} {
		if ctr, p := splitCpArg(c.arg); ctr != c.ctr || p != c.path {
			t.Errorf("splitCpArg(%q) = %q, %q; want %q, %q", c.arg, ctr, p, c.ctr, c.path)
		}
	}
}

func TestCpPaths(t *testing.T) {
	for _, c := range []struct{ p, dir, base string }{
		{"/etc/hosts", "/etc", "hosts"},
		{"/etc/", "/", "etc"},
		{"/etc/.", "/etc", "."},
		{"/etc/./", "/etc", "."},
		{"/", "/", "/"},
		{"/.", "/", "."},
		{"rel", ".", "rel"},
		{"a/b/../c", "a", "c"},
	} {
		if dir, base := splitPathDirEntry(c.p); dir != c.dir || base != c.base {
			t.Errorf("splitPathDirEntry(%q) = %q, %q; want %q, %q", c.p, dir, base, c.dir, c.base)
		}
	}
	for _, c := range []struct{ cleaned, orig, want string }{
		{"/h/d", "d/", "/h/d/"},
		{"/h/d", "d/.", "/h/d/."},
		{"/h/d", "d/./", "/h/d/./"},
		{"/", "/.", "/."},
		{"/", "/", "/"},
		{"/h/d", "d", "/h/d"},
	} {
		if got := preserveTrailingDotOrSeparator(c.cleaned, c.orig); got != c.want {
			t.Errorf("preserveTrailingDotOrSeparator(%q, %q) = %q, want %q", c.cleaned, c.orig, got, c.want)
		}
	}
	for _, c := range []struct{ p, resolved, wantPath, wantRebase string }{
		{"/etclink", "/etc", "/etc", "etclink"},
		{"/etclink/", "/etc", "/etc/", "etclink"},
		{"/etclink/.", "/etc", "/etc/.", ""},
		{"/etc", "/etc", "/etc", ""},
		{"/a/hosts", "/b/hosts", "/b/hosts", ""},
	} {
		if p, r := rebaseName(c.p, c.resolved); p != c.wantPath || r != c.wantRebase {
			t.Errorf("rebaseName(%q, %q) = %q, %q; want %q, %q", c.p, c.resolved, p, r, c.wantPath, c.wantRebase)
		}
	}
	for p, want := range map[string]bool{"/x/": true, "/x/.": true, "x": false, "/": true, ".": true, "/x": false} {
		if assertsDirectory(p) != want {
			t.Errorf("assertsDirectory(%q) = %v", p, !want)
		}
	}
}

func TestPlanCopy(t *testing.T) {
	for _, c := range []struct {
		name     string
		srcIsDir bool
		rebase   string
		dst      cpInfo
		dir, to  string
		err      error
	}{
		{"file into dir", false, "", cpInfo{"/h/d", true, true}, "/h/d", "", nil},
		{"dir into dir", true, "", cpInfo{"/h/d", true, true}, "/h/d", "", nil},
		{"link into dir keeps its name", true, "lk", cpInfo{"/h/d", true, true}, "/h/d", "lk", nil},
		{"file over file", false, "", cpInfo{"/h/f", true, false}, "/h", "f", nil},
		{"file as new name", false, "lk", cpInfo{"/h/new", false, false}, "/h", "new", nil},
		{"dir as new name", true, "", cpInfo{"/h/new", false, false}, "/h", "new", nil},
		{"dir as new dir/", true, "", cpInfo{"/h/new/", false, false}, "/h", "new", nil},
		{"dir over file", true, "", cpInfo{"/h/f", true, false}, "", "", errCpCopyDir},
		{"file as new dir/", false, "", cpInfo{"/h/new/", false, false}, "", "", errCpDirNotExists},
		{"file as new dir/.", false, "", cpInfo{"/h/new/.", false, false}, "", "", errCpDirNotExists},
	} {
		dir, to, err := planCopy(c.srcIsDir, c.rebase, c.dst)
		if dir != c.dir || to != c.to || err != c.err {
			t.Errorf("%s: planCopy = %q, %q, %v; want %q, %q, %v", c.name, dir, to, err, c.dir, c.to, c.err)
		}
	}
}

func TestRebaseEntry(t *testing.T) {
	for _, c := range []struct{ name, from, to, want string }{
		{"etc/", "etc", "new", "new"},
		{"etc/passwd", "etc", "new", "new/passwd"},
		{"etc/sub/f", "etc", "new", "new/sub/f"},
		{"hosts", "hosts", "h2", "h2"},
		{"./", ".", "new", "new"},
		{"./x", ".", "new", "new/x"},
		{".", ".", "new", "new"},
		{"//", "/", "root", "root"},
		{"//bin/sh", "/", "root", "root/bin/sh"},
		{"/etc/x", "etc", "new", "new/x"},  // a leading slash is dropped, as tar does
		{"./../../x", ".", "new", "new/x"}, // cleaned as if rooted: never above
		{"etc/../etc/x", "etc", "new", "new/x"},
	} {
		got, err := rebaseEntry(c.name, c.from, c.to)
		if err != nil || got != c.want {
			t.Errorf("rebaseEntry(%q, %q, %q) = %q, %v; want %q", c.name, c.from, c.to, got, err, c.want)
		}
	}
	// A hostile daemon's entries beside the top one are refused: they would
	// land next to the destination (in the user's home, say).
	for _, name := range []string{".bashrc", "etcx/y", "etc/../.bashrc", "x/etc", "../x"} {
		if got, err := rebaseEntry(name, "etc", "new"); err == nil {
			t.Errorf("rebaseEntry(%q, etc, new) = %q, want an error", name, got)
		}
	}
}

// tarOf makes a tar of headers; a regular file's content is its Linkname
// field if Typeflag is TypeReg (then cleared).
func tarOf(t *testing.T, hdrs ...tar.Header) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, h := range hdrs {
		var data string
		if h.Typeflag == tar.TypeReg {
			data, h.Linkname = h.Linkname, ""
			h.Size = int64(len(data))
		}
		if h.Mode == 0 {
			h.Mode = 0o644
			if h.Typeflag == tar.TypeDir {
				h.Mode = 0o755
			}
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		io.WriteString(tw, data)
	}
	tw.Close()
	return b.Bytes()
}

func TestRenameEntries(t *testing.T) {
	in := tarOf(t,
		tar.Header{Name: "etc/", Typeflag: tar.TypeDir},
		tar.Header{Name: "etc/hosts", Typeflag: tar.TypeReg, Linkname: "127.0.0.1 localhost\n"},
		tar.Header{Name: "etc/hl", Typeflag: tar.TypeLink, Linkname: "etc/hosts"},
		tar.Header{Name: "etc/sl", Typeflag: tar.TypeSymlink, Linkname: "/etc/hosts"},
		tar.Header{Name: "etc/" + strings.Repeat("n", 99), Typeflag: tar.TypeReg},
	)
	var out bytes.Buffer
	if err := renameEntries(bytes.NewReader(in), &out, "etc", strings.Repeat("d", 10), nil); err != nil {
		t.Fatal(err)
	}
	got := tarEntries(t, out.Bytes())
	want := []string{
		"dddddddddd 5 755 0:0 0 mtime=0",
		"dddddddddd/hosts 0 644 0:0 20 data=\"127.0.0.1 localhost\\n\" mtime=0",
		"dddddddddd/hl 1 644 0:0 0 link=\"dddddddddd/hosts\" mtime=0",
		"dddddddddd/sl 2 644 0:0 0 link=\"/etc/hosts\" mtime=0", // a symlink's target is the container's business
		"dddddddddd/" + strings.Repeat("n", 99) + " 0 644 0:0 0 mtime=0",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("renamed:\n%s", lineDiff(strings.Join(want, "\n"), strings.Join(got, "\n")))
	}

	hostile := tarOf(t,
		tar.Header{Name: "etc/", Typeflag: tar.TypeDir},
		tar.Header{Name: "etc/hl", Typeflag: tar.TypeLink, Linkname: ".bashrc"},
	)
	if err := renameEntries(bytes.NewReader(hostile), io.Discard, "etc", "new", nil); err == nil {
		t.Error("a hard link to a file beside the top entry was renamed, want an error")
	}
}

// tarEntries lists a tar's entries for comparison: name, type, mode,
// owner, size, link target and (short) contents, PAX records but times.
func tarEntries(t *testing.T, b []byte) []string {
	t.Helper()
	var out []string
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("tar: %v", err)
		}
		data, _ := io.ReadAll(tr)
		s := fmt.Sprintf("%s %c %o %d:%d %d", strings.TrimSuffix(h.Name, "/"), h.Typeflag, h.Mode, h.Uid, h.Gid, h.Size)
		if h.Name == "./" || h.Name == "//" {
			s = h.Name + s[len(strings.TrimSuffix(h.Name, "/")):]
		}
		if h.Linkname != "" {
			s += fmt.Sprintf(" link=%q", h.Linkname)
		}
		if len(data) > 0 {
			s += fmt.Sprintf(" data=%q", data)
		}
		if h.Uname != "" || h.Gname != "" {
			s += fmt.Sprintf(" owner=%s:%s", h.Uname, h.Gname)
		}
		if !h.ModTime.IsZero() {
			s += fmt.Sprintf(" mtime=%d", h.ModTime.Unix())
		}
		var pax []string
		for k, v := range h.PAXRecords {
			if k != "mtime" && k != "atime" && k != "ctime" {
				pax = append(pax, k+"="+v)
			}
		}
		sort.Strings(pax)
		if len(pax) > 0 {
			s += " pax=" + strings.Join(pax, ",")
		}
		out = append(out, s)
	}
}

// TestUnpackCopyHostile feeds unpackCopy what a hostile container could
// send: nothing may land outside the destination.
func TestUnpackCopyHostile(t *testing.T) {
	for _, c := range []struct {
		name    string
		tar     []byte
		src     string
		srcDir  bool
		dst     string // below the scratch directory
		wantErr int    // 0 no, 1 yes, 2 either
	}{
		{"entry beside the renamed top", tarOf(t,
			tar.Header{Name: "hosts", Typeflag: tar.TypeReg, Linkname: "x"},
			tar.Header{Name: "evil", Typeflag: tar.TypeReg, Linkname: "pwned"}), "/etc/hosts", false, "home/out", 1},
		{"dot-dot entry", tarOf(t,
			tar.Header{Name: "etc/", Typeflag: tar.TypeDir},
			tar.Header{Name: "etc/../../evil", Typeflag: tar.TypeReg, Linkname: "pwned"}), "/etc", true, "home/out", 1},
		{"dot-dot into an existing dir", tarOf(t,
			tar.Header{Name: "../evil", Typeflag: tar.TypeReg, Linkname: "pwned"}), "/etc/hosts", false, "home", 1},
		{"symlink then write through it", tarOf(t,
			tar.Header{Name: "etc/", Typeflag: tar.TypeDir},
			tar.Header{Name: "etc/l", Typeflag: tar.TypeSymlink, Linkname: "../../outside"},
			tar.Header{Name: "etc/l/evil", Typeflag: tar.TypeReg, Linkname: "pwned"}), "/etc", true, "home/out", 2},
		{"hard link to a host file", tarOf(t,
			tar.Header{Name: "etc/", Typeflag: tar.TypeDir},
			tar.Header{Name: "etc/hl", Typeflag: tar.TypeLink, Linkname: "/outside/secret"}), "/etc", true, "home/out", 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			scratch := t.TempDir()
			for _, d := range []string{"home", "outside"} {
				if err := os.Mkdir(filepath.Join(scratch, d), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			os.WriteFile(filepath.Join(scratch, "outside/secret"), []byte("s"), 0o600)
			before := treeListing(t, scratch, "outside")
			err := unpackCopy(context.Background(), bytes.NewReader(c.tar), c.src, c.srcDir, "", filepath.Join(scratch, c.dst))
			if c.wantErr != 2 && (err != nil) != (c.wantErr == 1) {
				t.Errorf("unpackCopy: %v, want error: %v", err, c.wantErr)
			}
			if after := treeListing(t, scratch, "outside"); after != before {
				t.Errorf("outside changed:\n%s", lineDiff(before, after))
			}
			if _, err := os.Lstat(filepath.Join(scratch, "evil")); err == nil {
				t.Error("evil written above home")
			}
			if _, err := os.Lstat(filepath.Join(scratch, "home/evil")); err == nil && c.dst != "home" {
				t.Error("evil written beside the destination")
			}
		})
	}
}

// treeListing lists the tree below dir/sub (not following symlinks): path,
// type and mode, link target, contents, modification time.
func treeListing(t *testing.T, dir, sub string) string {
	t.Helper()
	var lines []string
	root := filepath.Join(dir, sub)
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		s := fmt.Sprintf("%s %v", rel, fi.Mode())
		switch {
		case fi.Mode().IsRegular():
			b, _ := os.ReadFile(p)
			s += fmt.Sprintf(" %q", b)
		case fi.Mode()&os.ModeSymlink != 0:
			l, _ := os.Readlink(p)
			s += " -> " + l
		}
		if p != root {
			// A time set from a tar, or "now" (the second varies between runs).
			if mt := fi.ModTime(); time.Since(mt) < time.Hour {
				s += " now"
			} else {
				s += " " + mt.UTC().Format(time.RFC3339)
			}
		}
		lines = append(lines, s)
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return strings.Join(lines, "\n")
}

// The fake daemon's side of the archive API: a host directory is the
// container's root file system; HEAD and GET answer as berth's daemon
// does (archive.WriteEntry), PUT takes the tar (the harness compares it).
// Container "missing" does not exist, and "ro" has a read-only root.
func (f *fakeDaemon) serveArchive(w http.ResponseWriter, r *http.Request, path string) {
	ctr := strings.TrimSuffix(strings.TrimPrefix(path, "/containers/"), "/archive")
	switch ctr {
	case "missing":
		writeJSON(w, 404, `{"message":"No such container: missing"}`)
		return
	case "ro":
		if r.Method == "PUT" {
			writeJSON(w, 403, `{"message":"container rootfs is marked read-only"}`)
			return
		}
	}
	p := r.URL.Query().Get("path")
	if r.Method == "PUT" {
		w.WriteHeader(200)
		return
	}
	full := filepath.Join(f.archiveRoot, p)
	name := filepath.Base(p)
	switch {
	case p == "/":
		name = "/"
	case strings.HasSuffix(p, "/."):
		name = "."
	}
	follow := strings.HasSuffix(p, "/") || strings.HasSuffix(p, "/.")
	if follow {
		if real, err := filepath.EvalSymlinks(full); err == nil {
			full = real
		}
	}
	fi, err := os.Lstat(full)
	if err != nil {
		writeJSON(w, 404, fmt.Sprintf(`{"message":"Could not find the file %s in container %s"}`, p, ctr))
		return
	}
	st := container.PathStat{Name: name, Size: fi.Size(), Mode: fi.Mode(), Mtime: fi.ModTime()}
	if fi.Mode()&os.ModeSymlink != 0 {
		st.LinkTarget, _ = os.Readlink(full)
	}
	b, _ := json.Marshal(st)
	w.Header().Set("X-Docker-Container-Path-Stat", base64.URLEncoding.EncodeToString(b))
	if r.Method == "HEAD" {
		w.WriteHeader(200)
		return
	}
	dir, base := filepath.Dir(full), filepath.Base(full)
	if full == f.archiveRoot {
		dir, base = full, "."
	}
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		writeJSON(w, 500, fmt.Sprintf(`{"message":%q}`, err))
		return
	}
	defer unix.Close(fd)
	var tb bytes.Buffer
	if err := archive.WriteEntry(r.Context(), &tb, fd, base, name, archive.WriteOptions{}); err != nil {
		writeJSON(w, 500, fmt.Sprintf(`{"message":%q}`, err))
		return
	}
	w.Header().Set("Content-Type", "application/x-tar")
	w.Write(tb.Bytes())
}

// fixedTime is every test file's modification time, so that two runs'
// trees and tars compare equal.
var fixedTime = time.Unix(1700000000, 0)

// mkTree makes files below dir: "d/" a directory, "l -> target" a
// symlink, "f=content" a file, "name!" a fifo, each with fixedTime.
func mkTree(t *testing.T, dir string, spec ...string) {
	t.Helper()
	for _, s := range spec {
		var err error
		switch {
		case strings.HasSuffix(s, "/"):
			err = os.MkdirAll(filepath.Join(dir, s), 0o755)
		case strings.Contains(s, " -> "):
			name, target, _ := strings.Cut(s, " -> ")
			err = os.Symlink(target, filepath.Join(dir, name))
		case strings.HasSuffix(s, "!"):
			err = unix.Mkfifo(filepath.Join(dir, strings.TrimSuffix(s, "!")), 0o644)
		default:
			name, content, _ := strings.Cut(s, "=")
			err = os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	// Times last, deepest first, so that making a file does not change its
	// directory's time afterwards.
	ts := []unix.Timespec{unix.NsecToTimespec(fixedTime.UnixNano()), unix.NsecToTimespec(fixedTime.UnixNano())}
	for i := len(spec) - 1; i >= 0; i-- {
		name, _, _ := strings.Cut(spec[i], " -> ")
		name, _, _ = strings.Cut(name, "=")
		name = strings.TrimSuffix(strings.TrimSuffix(name, "!"), "/")
		if err := unix.UtimesNanoAt(unix.AT_FDCWD, filepath.Join(dir, name), ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			t.Fatal(err)
		}
	}
}

// containerRoot is the fake container's file system for the cp cases.
func containerRoot(t *testing.T) string {
	root := t.TempDir()
	mkTree(t, root, "etc/", "etc/hosts=127.0.0.1 localhost\n", "etc/passwd=root:x:0:0::/root:/bin/sh\n",
		"etc/sub/", "etc/sub/f=f\n", "etclink -> etc", "hostslink -> /etc/hosts", "tmp/", "tmplink -> tmp",
		"dangling -> /nowhere", "fifo!")
	if err := os.Link(filepath.Join(root, "etc/hosts"), filepath.Join(root, "etc/sub/hl")); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mknod(filepath.Join(root, "null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
		t.Fatal(err)
	}
	ts := []unix.Timespec{unix.NsecToTimespec(fixedTime.UnixNano()), unix.NsecToTimespec(fixedTime.UnixNano())}
	for _, p := range []string{"etc/sub", "etc", "."} {
		unix.UtimesNanoAt(unix.AT_FDCWD, filepath.Join(root, p), ts, 0)
	}
	return root
}

// TestConformanceCp runs docker cp and berth cp against the same fake
// container and the same host files: the requests (PUT tars entry by
// entry), the output, the exit status and the host tree left must match.
func TestConformanceCp(t *testing.T) {
	haveDocker(t)
	root := containerRoot(t)
	fake := func(f *fakeDaemon) { f.archiveRoot = root }
	host := func(spec ...string) func(*testing.T, string) {
		return func(t *testing.T, dir string) { mkTree(t, dir, spec...) }
	}
	std := host("existdir/", "existfile=old\n", "src/", "src/d/", "src/d/a=a\n", "src/d/e/", "src/d/e/b=b\n",
		"src/file=f\n", "src/dlink -> d", "src/flink -> file", "dlink -> nowhere-target", "x:y=colon\n")
	var stdinTar bytes.Buffer
	tw := tar.NewWriter(&stdinTar)
	tw.WriteHeader(&tar.Header{Name: "in/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: fixedTime})
	tw.WriteHeader(&tar.Header{Name: "in/x", Typeflag: tar.TypeReg, Mode: 0o600, Size: 2, ModTime: fixedTime})
	io.WriteString(tw, "x\n")
	tw.Close()

	cases := []cliCase{
		// container to host
		{args: []string{"cp", "c1:/etc/hosts", "out"}},
		{args: []string{"cp", "c1:/etc/hosts", "existdir"}},
		{args: []string{"cp", "c1:/etc/hosts", "existfile"}},
		{args: []string{"cp", "c1:/etc/hosts", "existdir/"}},
		{args: []string{"cp", "c1:/etc", "newdir"}},
		{args: []string{"cp", "c1:/etc/", "newdir/"}},
		{args: []string{"cp", "c1:/etc", "existdir"}},
		{args: []string{"cp", "c1:/etc/.", "existdir"}},
		{args: []string{"cp", "c1:/etc/.", "newdir"}},
		{args: []string{"cp", "c1:/etc/sub", "."}},
		{args: []string{"cp", "c1:/", "rootcopy"}},
		{args: []string{"cp", "c1:/", "existdir"}},
		{args: []string{"cp", "c1:/.", "existdir"}},
		{args: []string{"cp", "c1:/etc", "existfile"}},
		{args: []string{"cp", "c1:/etc/hosts", "newdir/"}},
		{args: []string{"cp", "c1:/etc/hosts", "newdir/."}},
		{args: []string{"cp", "c1:/etc", "newdir/."}},
		{args: []string{"cp", "c1:/etc/hosts", "nodir/x"}},
		{args: []string{"cp", "c1:/etc/hosts", "existfile/x"}},
		{args: []string{"cp", "c1:/etc/hosts", "/dev/null"}},
		{args: []string{"cp", "c1:/etc/hosts", "-"}},
		{args: []string{"cp", "c1:/etc", "-"}},
		{args: []string{"cp", "-L", "c1:/etclink", "lk"}},
		{args: []string{"cp", "-L", "c1:/etclink", "existdir"}},
		{args: []string{"cp", "-L", "c1:/etclink/", "lk"}},
		{args: []string{"cp", "-L", "c1:/hostslink", "hl"}},
		{args: []string{"cp", "-L", "c1:/etclink", "-"}},
		{args: []string{"cp", "-L", "c1:/nope", "x"}},
		{args: []string{"cp", "c1:/hostslink", "hl"}},
		{args: []string{"cp", "c1:/etc/hosts", "dlink"}},
		{args: []string{"cp", "c1:/etc/hosts", "./a:b"}},
		{args: []string{"cp", "c1:/nope", "x"}},
		{args: []string{"cp", "missing:/etc/hosts", "x"}},
		{args: []string{"cp", "-q=false", "c1:/etc/hosts", "out"}},
		{args: []string{"cp", "-q=false", "c1:/etc/.", "newdir"}},
		{args: []string{"cp", "-q=false", "c1:/etc", "existfile"}},
		{args: []string{"container", "cp", "c1:/etc/passwd", "existdir"}},
		{args: []string{"cp", "c1:/etc/sub", "."}, files: host("sub=a file\n")},
		{args: []string{"cp", "c1:/etc/hosts", "."}, files: host("hosts/", "hosts/x=x\n")},
		{args: []string{"cp", "c1:/etc/.", "."}, files: host("sub=a file\n", "hosts/")},
		// host to container
		{args: []string{"cp", "src/file", "c1:/tmp"}},
		{args: []string{"cp", "src/file", "c1:/tmp/"}},
		{args: []string{"cp", "src/file", "c1:/tmp/newname"}},
		{args: []string{"cp", "src/file", "c1:/etc/hosts"}},
		{args: []string{"cp", "src/d", "c1:/tmp"}},
		{args: []string{"cp", "src/d", "c1:/tmp/nd"}},
		{args: []string{"cp", "src/d/", "c1:/tmp/nd"}},
		{args: []string{"cp", "src/d/.", "c1:/tmp/nd"}},
		{args: []string{"cp", "src/d/.", "c1:/tmp"}},
		{args: []string{"cp", "src/d", "c1:/etc/hosts"}, noOutput: true},
		{args: []string{"cp", "-a", "src/file", "c1:/tmp"}},
		{args: []string{"cp", "--archive", "src/d", "c1:/tmp/nd"}},
		{args: []string{"cp", "src/nope", "c1:/tmp"}},
		{args: []string{"cp", "nodir/nope", "c1:/tmp"}},
		{args: []string{"cp", "src/file", "c1:/tmplink"}},
		{args: []string{"cp", "src/file", "c1:/dangling"}},
		{args: []string{"cp", "src/file", "c1:/null"}},
		{args: []string{"cp", "src/file", "c1:/fifo"}},
		{args: []string{"cp", "src/dlink", "c1:/tmp"}},
		{args: []string{"cp", "-L", "src/dlink", "c1:/tmp"}},
		{args: []string{"cp", "-L", "src/flink", "c1:/tmp/x"}},
		{args: []string{"cp", "src/dlink/", "c1:/tmp"}},
		{args: []string{"cp", "src/dlink/", "c1:/tmp/nd"}},
		{args: []string{"cp", "src/file", "c1:tmp"}},
		{args: []string{"cp", "src/file", "c1:/tmp/nodir/x"}},
		{args: []string{"cp", "./x:y", "c1:/tmp"}},
		{args: []string{"cp", "src/file", "missing:/tmp"}},
		{args: []string{"cp", "src/file", "ro:/tmp"}},
		{args: []string{"cp", "-", "c1:/tmp"}, stdin: stdinTar.String()},
		{args: []string{"cp", "-", "c1:/tmplink"}, stdin: stdinTar.String()},
		{args: []string{"cp", "-", "c1:/etc/hosts"}, stdin: stdinTar.String()},
		{args: []string{"cp", "-", "c1:/nope"}, stdin: stdinTar.String()},
		{args: []string{"cp", "-q=false", "src/file", "c1:/tmp/x"}},
		{args: []string{"cp", "-q=false", "src/d", "c1:/tmplink"}},
		{args: []string{"cp", "-q=false", "-", "c1:/tmp"}, stdin: stdinTar.String()},
		{args: []string{"cp", "-q=false", "src/nope", "c1:/tmp"}},
		{args: []string{"cp", "src/file", "c1:/tmp/new/"}, noOutput: true},
		// errors before any request
		{args: []string{"cp", "a", "b"}},
		{args: []string{"cp", "a:/x", "b:/y"}},
		{args: []string{"cp", "", "c1:/x"}},
		{args: []string{"cp", "c1:/x", ""}},
		{args: []string{"cp", "a"}},
		{args: []string{"cp", "a", "b", "c"}},
		{args: []string{"cp", "--bogus", "a", "b"}},
		{args: []string{"container", "cp", "a"}},
	}
	// (Where noOutput is set, docker may also log "Can't add file ... to
	// tar: io: read/write on closed pipe": TestCpErrorMessages checks
	// berth's output.)
	for _, c := range cases {
		c.setup = fake
		if c.files == nil {
			c.files = std
		}
		t.Run(strings.Join(c.args, " "), func(t *testing.T) { compare(t, c) })
	}
}

// TestCpErrorMessages checks the messages of the cases whose output the
// conformance test cannot compare (docker logs noise of its own there).
func TestCpErrorMessages(t *testing.T) {
	root := containerRoot(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"cp", "file", "c1:/tmp/new/"}, "no such directory\n"},
		{[]string{"cp", "d", "c1:/etc/hosts"}, "cannot copy directory\n"},
	} {
		dir := t.TempDir()
		mkTree(t, dir, "file=f\n", "d/")
		r := runCLI(t, dir, true, c.args, "", func(f *fakeDaemon) { f.archiveRoot = root })
		if r.code != 1 || r.stderr != c.want || len(r.reqs) != 1 || r.reqs[0].Method != "HEAD" {
			t.Errorf("%v: exit %d, stderr %q, requests %v", c.args, r.code, r.stderr, r.reqs)
		}
	}
}

// TestCpRoundTrip copies a tree into the fake container and checks that the
// PUT carries it whole: file modes, a hard link, a symlink, an empty dir.
func TestCpRoundTrip(t *testing.T) {
	dir := t.TempDir()
	mkTree(t, dir, "d/", "d/x=x\n", "d/empty/", "d/sl -> x")
	if err := unix.Chmod(filepath.Join(dir, "d/x"), 0o4750); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(filepath.Join(dir, "d/x"), filepath.Join(dir, "d/hl")); err != nil {
		t.Fatal(err)
	}
	os.Chtimes(filepath.Join(dir, "d"), fixedTime, fixedTime)
	root := containerRoot(t)
	r := runCLI(t, dir, true, []string{"cp", "d", "c1:/tmp/new"}, "", func(f *fakeDaemon) { f.archiveRoot = root })
	if r.code != 0 || len(r.reqs) != 2 {
		t.Fatalf("exit %d, stderr %q, requests %v", r.code, r.stderr, r.reqs)
	}
	got := strings.Join(tarEntries(t, r.reqs[1].Body), "\n")
	want := strings.Join([]string{
		"new 5 755 0:0 0 mtime=1700000000",
		"new/empty 5 755 0:0 0 mtime=1700000000",
		"new/hl 0 4750 0:0 2 data=\"x\\n\" mtime=1700000000",
		"new/sl 2 777 0:0 0 link=\"x\" mtime=1700000000",
		"new/x 1 4750 0:0 0 link=\"new/hl\" mtime=1700000000",
	}, "\n")
	if got != want {
		t.Errorf("PUT tar:\n%s", lineDiff(want, got))
	}
	if q := r.reqs[1].Query.Encode(); q != "noOverwriteDirNonDir=true&path=%2Ftmp" {
		t.Errorf("PUT query %s", q)
	}
}

func TestDecodePathStat(t *testing.T) {
	st := container.PathStat{Name: "x", Size: 3, Mode: os.ModeDir | os.ModeSymlink | 0o755, LinkTarget: "/a?>>~"}
	b, _ := json.Marshal(st)
	for _, enc := range []*base64.Encoding{base64.URLEncoding, base64.StdEncoding, base64.RawURLEncoding} {
		got, err := decodePathStat(enc.EncodeToString(b))
		if err != nil || got.Name != "x" || got.Mode != st.Mode || got.LinkTarget != st.LinkTarget {
			t.Errorf("decode: %+v, %v", got, err)
		}
	}
	if _, err := decodePathStat("!!"); err == nil || !strings.HasPrefix(err.Error(), "unable to decode container path stat header") {
		t.Errorf("bad header: %v", err)
	}
}
