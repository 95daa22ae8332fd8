package daemon_test

import (
	"archive/tar"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// docker cp and the archive API end to end: both directions, running and
// stopped containers, volumes, and paths a container planted to lead a
// copy out of it.

func writeFile(t *testing.T, p, body string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), mode); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Errorf("%v", err)
	}
	return string(b)
}

func TestCopyRunningAndStopped(t *testing.T) {
	e := newCtrEnv(t)
	host := t.TempDir()
	writeFile(t, filepath.Join(host, "f.txt"), "file\n", 0o640)
	writeFile(t, filepath.Join(host, "tree", "a"), "a\n", 0o644)
	writeFile(t, filepath.Join(host, "tree", "sub", "b"), "b\n", 0o600)
	if err := os.Symlink("a", filepath.Join(host, "tree", "link")); err != nil {
		t.Fatal(err)
	}

	e.must("run", "-d", "--name", "run", "-v", "data:/data", "busybox", "sleep", "600")
	e.must("create", "--name", "stopped", "-v", "data2:/data", "busybox", "sleep", "600")
	for _, c := range []string{"run", "stopped"} {
		// Into the container's own layer and into its volume; a file to a
		// new name, a file into a directory, a directory.
		e.must("cp", filepath.Join(host, "f.txt"), c+":/etc/renamed")
		e.must("cp", filepath.Join(host, "f.txt"), c+":/data/")
		e.must("cp", filepath.Join(host, "tree"), c+":/data/")
		e.must("cp", filepath.Join(host, "tree")+"/.", c+":/root/")

		// Out again, each shape.
		out := t.TempDir()
		e.must("cp", c+":/etc/renamed", filepath.Join(out, "renamed"))
		e.must("cp", c+":/data/tree", filepath.Join(out, "tree"))
		e.must("cp", c+":/data/tree/.", filepath.Join(out, "contents"))
		e.must("cp", c+":/data", out)
		if got := readFile(t, filepath.Join(out, "renamed")); got != "file\n" {
			t.Errorf("%s: /etc/renamed: %q", c, got)
		}
		for _, p := range []string{"tree/sub/b", "contents/sub/b", "data/tree/sub/b"} {
			if got := readFile(t, filepath.Join(out, p)); got != "b\n" {
				t.Errorf("%s: %s: %q", c, p, got)
			}
			if fi, err := os.Stat(filepath.Join(out, p)); err == nil && fi.Mode().Perm() != 0o600 {
				t.Errorf("%s: %s: mode %v, want 0600", c, p, fi.Mode())
			}
		}
		if l, err := os.Readlink(filepath.Join(out, "tree", "link")); err != nil || l != "a" {
			t.Errorf("%s: symlink: %q %v", c, l, err)
		}
		if got := readFile(t, filepath.Join(out, "data", "f.txt")); got != "file\n" {
			t.Errorf("%s: data/f.txt: %q", c, got)
		}
		// "-": a tar on stdout, named by the path's last element.
		r := e.dk("cp", c+":/data/tree", "-")
		if r.Code != 0 {
			t.Fatalf("cp to -: %v", r)
		}
		if got := tarEntryNames(t, []byte(r.Stdout)); !slices.Equal(got, []string{"tree/", "tree/a", "tree/link", "tree/sub/", "tree/sub/b"}) {
			t.Errorf("%s: tar entries %q", c, got)
		}
	}
	// What was copied into the stopped container is there when it runs,
	// and the copies into its volume went into the volume.
	e.must("start", "stopped")
	if got := e.mustT("exec", "stopped", "sh", "-c", "cat /etc/renamed /data/f.txt /root/a; stat -c %a /etc/renamed"); got != "file\nfile\na\n640" {
		t.Errorf("the stopped container's copies: %q", got)
	}
	if got := e.mustT("run", "--rm", "-v", "data2:/v", "busybox", "cat", "/v/tree/sub/b"); got != "b" {
		t.Errorf("the stopped container's volume: %q", got)
	}
	// A copy from a stopped container leaves nothing mounted.
	e.must("stop", "-t", "0", "stopped")
	e.must("cp", "stopped:/data/f.txt", t.TempDir())
	for _, m := range mountsUnder(e.d.Dir) {
		if !strings.Contains(m, "/containers/") || strings.Contains(m, "/fs-") {
			t.Errorf("mount left after a copy from a stopped container: %s", m)
		}
	}

	// Paths that do not exist, and a stat through HEAD.
	if r := e.dk("cp", "run:/nonexistent", t.TempDir()); r.Code == 0 || !strings.Contains(r.Stderr, "Could not find the file /nonexistent in container run") {
		t.Errorf("cp of a missing path: %v", r)
	}
	if r := e.dk("cp", filepath.Join(host, "f.txt"), "run:/nodir/x"); r.Code == 0 {
		t.Errorf("cp into a missing directory: %v", r)
	}
	st := pathStat(t, e, "run", "/etc/renamed")
	if st.Name != "renamed" || st.Size != 5 || st.Mode != 0o640 {
		t.Errorf("path stat: %+v", st)
	}
	// berth's own cp, both ways, against the same containers.
	for _, c := range []string{"run", "stopped"} {
		if r := e.bt("cp", filepath.Join(host, "tree"), c+":/etc/bt"); r.Code != 0 {
			t.Fatalf("berth cp into %s: %v", c, r)
		}
		out := t.TempDir()
		if r := e.bt("cp", c+":/etc/bt/.", filepath.Join(out, "x")); r.Code != 0 {
			t.Fatalf("berth cp from %s: %v", c, r)
		}
		if got := readFile(t, filepath.Join(out, "x", "sub", "b")); got != "b\n" {
			t.Errorf("berth cp round trip through %s: %q", c, got)
		}
		if r := e.bt("cp", c+":/nonexistent", out); r.Code == 0 || !strings.Contains(r.Stderr, "Could not find the file /nonexistent") {
			t.Errorf("berth cp of a missing path: %v", r)
		}
	}
	// -a: owned by the container's user.
	e.must("run", "-d", "--name", "user", "--user", "nobody", "busybox", "sleep", "600")
	e.must("cp", "-a", filepath.Join(host, "f.txt"), "user:/home/")
	e.must("cp", filepath.Join(host, "f.txt"), "user:/tmp/")
	if got := e.mustT("exec", "user", "stat", "-c", "%u:%g", "/home/f.txt", "/tmp/f.txt"); got != "65534:65534\n0:0" {
		t.Errorf("owners with and without -a: %q", got)
	}
}

// tarEntryNames lists a tar's entry names.
func tarEntryNames(t *testing.T, b []byte) []string {
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
		out = append(out, h.Name)
	}
}

type pathStatJSON struct {
	Name       string      `json:"name"`
	Size       int64       `json:"size"`
	Mode       os.FileMode `json:"mode"`
	LinkTarget string      `json:"linkTarget"`
}

// pathStat is HEAD /containers/{c}/archive.
func pathStat(t *testing.T, e *ctrEnv, c, p string) pathStatJSON {
	t.Helper()
	resp := archiveReq(t, e, http.MethodHead, c, p, nil)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("HEAD %s:%s: %s", c, p, resp.Status)
	}
	b, err := base64.URLEncoding.DecodeString(resp.Header.Get("X-Docker-Container-Path-Stat"))
	if err != nil {
		t.Fatal(err)
	}
	var st pathStatJSON
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

func archiveReq(t *testing.T, e *ctrEnv, method, c, p string, body []byte, query ...string) *http.Response {
	t.Helper()
	u := "http://berth/containers/" + c + "/archive?path=" + url.QueryEscape(p) + strings.Join(query, "")
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := e.d.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// mkTarEntries builds a tar; a body of "->x" makes a symlink to x, "=>x" a
// hard link to x, a name ending in "/" a directory.
func mkTarEntries(t *testing.T, entries ...[2]string) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, en := range entries {
		h := &tar.Header{Name: en[0], Mode: 0o644, Typeflag: tar.TypeReg, Size: int64(len(en[1]))}
		switch {
		case strings.HasSuffix(en[0], "/"):
			h.Typeflag, h.Mode, h.Size = tar.TypeDir, 0o755, 0
		case strings.HasPrefix(en[1], "->"):
			h.Typeflag, h.Linkname, h.Size = tar.TypeSymlink, en[1][2:], 0
		case strings.HasPrefix(en[1], "=>"):
			h.Typeflag, h.Linkname, h.Size = tar.TypeLink, en[1][2:], 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			_, _ = tw.Write([]byte(en[1]))
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestCopyStaysInsideTheContainer(t *testing.T) {
	e := newCtrEnv(t)
	// A host directory the container must not reach, named by absolute
	// and relative symlinks the container plants.
	secret := t.TempDir()
	writeFile(t, filepath.Join(secret, "secret"), "host secret\n", 0o600)
	hostEntries := func() []string {
		ents, _ := os.ReadDir(secret)
		var n []string
		for _, e := range ents {
			n = append(n, e.Name())
		}
		return n
	}
	e.must("run", "-d", "--name", "planter", "busybox", "sleep", "600")
	e.must("exec", "planter", "sh", "-c", "mkdir -p /box && ln -s "+secret+" /abs && ln -s ../../../../../../../.."+secret+" /rel && ln -s / /box/root")
	for _, c := range []string{"planter", "stopped"} {
		if c == "stopped" {
			e.must("commit", "planter", "planted")
			e.must("create", "--name", "stopped", "planted")
		}
		for _, p := range []string{"/abs/secret", "/rel/secret", "/abs/", "/rel/."} {
			out := t.TempDir()
			if r := e.dk("cp", c+":"+p, out); r.Code == 0 {
				t.Errorf("%s: cp %s succeeded", c, p)
			}
			if ents, _ := os.ReadDir(out); len(ents) != 0 {
				t.Errorf("%s: cp %s copied %d entries", c, p, len(ents))
			}
		}
		for _, p := range []string{"/abs/", "/rel/", "/abs/x", "/rel/x"} {
			e.dk("cp", filepath.Join(secret, "secret"), c+":"+p)
		}
		if got := hostEntries(); !slices.Equal(got, []string{"secret"}) {
			t.Errorf("%s: the host directory now holds %q", c, got)
		}
		// Following a symlink to "/" stays in the container.
		out := t.TempDir()
		e.must("cp", c+":/box/root/etc/passwd", out)
		if got := readFile(t, filepath.Join(out, "passwd")); !strings.Contains(got, "nobody:x:65534") || strings.Count(got, "\n") != 2 {
			t.Errorf("%s: /box/root/etc/passwd is not the container's: %q", c, got)
		}
		if st := pathStat(t, e, c, "/abs"); st.LinkTarget != secret || st.Mode&os.ModeSymlink == 0 {
			t.Errorf("%s: stat of a symlink: %+v", c, st)
		}

		// Hostile tars: refused with 400 and nothing written outside.
		for _, tc := range []struct {
			name string
			tar  []byte
		}{
			{"dotdot", mkTarEntries(t, [2]string{"../../../../../../.." + secret + "/pwn", "x"})},
			{"dotdot-inner", mkTarEntries(t, [2]string{"a/../../pwn", "x"})},
			{"hardlink-out", mkTarEntries(t, [2]string{"h", "=>../../../../../../.." + secret + "/secret"})},
		} {
			resp := archiveReq(t, e, http.MethodPut, c, "/box", tc.tar)
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "escapes") {
				t.Errorf("%s: %s: %s %s", c, tc.name, resp.Status, body)
			}
		}
		// Symlinks in the tar, then entries through them: resolved inside
		// the target directory (a dangling one is refused).
		for _, tc := range [][][2]string{
			{{"s", "->" + secret}, {"s/pwn", "x"}},
			{{"r", "->../../../../../../.." + secret}, {"r/pwn", "x"}},
			{{"root", "->/"}, {"root/" + secret + "/pwn", "x"}},
		} {
			resp := archiveReq(t, e, http.MethodPut, c, "/box", mkTarEntries(t, tc...))
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK && (resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "dangling")) {
				t.Errorf("%s: put %q: %s %s", c, tc[0][0], resp.Status, body)
			}
		}
		if got := hostEntries(); !slices.Equal(got, []string{"secret"}) {
			t.Errorf("%s: hostile tars wrote into the host directory: %q", c, got)
		}
		// Into a directory through the container's own symlink: inside.
		resp := archiveReq(t, e, http.MethodPut, c, "/abs", mkTarEntries(t, [2]string{"pwn", "x"}))
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s: put into a symlink to a host path: %s", c, resp.Status)
		}
		if got := hostEntries(); !slices.Equal(got, []string{"secret"}) {
			t.Errorf("%s: a put wrote into the host directory: %q", c, got)
		}
		// Bad requests.
		for _, tc := range []struct {
			p, want string
			status  int
		}{
			{"/etc/passwd", "not a directory", http.StatusBadRequest},
			{"/missing", "Could not find the file /missing", http.StatusNotFound},
			{"", "path is required", http.StatusBadRequest},
		} {
			resp := archiveReq(t, e, http.MethodPut, c, tc.p, mkTarEntries(t, [2]string{"a", "a"}))
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status || !strings.Contains(string(body), tc.want) {
				t.Errorf("%s: put to %q: %s %s", c, tc.p, resp.Status, body)
			}
		}
		resp = archiveReq(t, e, http.MethodPut, c, "/box", []byte("not a tar at all, just text that is long enough to be a header block?"))
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: put of garbage: %s", c, resp.Status)
		}
	}
	if r := e.dk("cp", "nosuch:/etc", t.TempDir()); r.Code == 0 || !strings.Contains(r.Stderr, "No such container") {
		t.Errorf("cp from a missing container: %v", r)
	}
}

func TestCopyReadOnly(t *testing.T) {
	e := newCtrEnv(t)
	f := filepath.Join(t.TempDir(), "f")
	writeFile(t, f, "x", 0o644)
	e.must("run", "-d", "--name", "ro", "--read-only", "-v", "rov:/ro:ro", "-v", "rwv:/rw", "busybox", "sleep", "600")
	for i := 0; i < 2; i++ {
		if r := e.dk("cp", f, "ro:/etc/"); r.Code == 0 || !strings.Contains(r.Stderr, "container rootfs is marked read-only") {
			t.Errorf("cp into a read-only root: %v", r)
		}
		if r := e.dk("cp", f, "ro:/ro/"); r.Code == 0 || !strings.Contains(r.Stderr, "mounted volume /ro is marked read-only") {
			t.Errorf("cp into a read-only volume: %v", r)
		}
		e.must("cp", f, "ro:/rw/")
		e.must("stop", "-t", "0", "ro") // and again, stopped
	}
	if got := e.mustT("run", "--rm", "-v", "rwv:/v", "-v", "rov:/r", "busybox", "ls", "/v", "/r"); got != "/r:\n\n/v:\nf" {
		t.Errorf("volumes after the copies: %q", got)
	}
}
