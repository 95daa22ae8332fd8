package cli

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/cobra"
)

// TestMain lets a test run this test binary as the berth CLI (a real
// process, with its own stdio and exit status), as cmd/berth does.
func TestMain(m *testing.M) {
	if os.Getenv("BERTH_CLI_TEST_MAIN") == "1" {
		root := &cobra.Command{Use: "berth", SilenceUsage: true, SilenceErrors: true}
		RegisterFor(root, os.Args[1:])
		root.SetArgs(os.Args[1:])
		if err := root.Execute(); err != nil {
			code, reported := ExitCode(err)
			if !reported && err.Error() != "" {
				fmt.Fprintln(os.Stderr, err)
			}
			os.Exit(code)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// request is one API call the fake daemon saw.
type request struct {
	Method, Path string // path without the /vX.Y prefix
	Query        url.Values
	Body         []byte
	Upgrade      bool
	Version      string // the API version in the path ("" without one)
}

func (r request) String() string {
	return fmt.Sprintf("%s %s?%s %s", r.Method, r.Path, r.Query.Encode(), r.Body)
}

// frame is one chunk of a multiplexed stream: 1 stdout, 2 stderr.
type frame struct {
	stream byte
	data   string
}

// fakeDaemon answers the Docker Engine API on a unix socket with canned
// responses and records every request but /_ping.
type fakeDaemon struct {
	sock string
	// canned behaviour
	createStatus int    // 201 unless set
	createMsg    string // message of a failed create
	startErr     string // start fails with this 400 message
	waitCode     int
	frames       []frame // attach and exec output
	tty          bool    // the container has a tty: output is raw
	echoStdin    bool    // attach echoes stdin back on stdout before the frames
	execExit     int
	inspect      string // GET /containers/{id}/json body; a default if empty
	responses    map[string]string
	notFound     bool   // every GET of an object answers 404
	archiveRoot  string // the container's root for /containers/{id}/archive (cp_test.go)
	maxVersion   string // refuses newer requests as dockerd does ("" accepts any)
	pings        int

	mu   sync.Mutex
	reqs []request
	srv  *http.Server
}

const fakeID = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

var versionPrefix = regexp.MustCompile(`^/v[0-9.]+`)

func (f *fakeDaemon) start(t *testing.T) {
	dir, err := os.MkdirTemp("", "bfd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	f.sock = dir + "/d.sock"
	l, err := net.Listen("unix", f.sock)
	if err != nil {
		t.Fatal(err)
	}
	f.srv = &http.Server{Handler: f}
	go f.srv.Serve(l)
	t.Cleanup(func() { f.srv.Close() })
}

func (f *fakeDaemon) requests() []request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]request(nil), f.reqs...)
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	io.WriteString(w, body)
}

func (f *fakeDaemon) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("API-Version", "1.51")
	w.Header().Set("OSType", "linux")
	path := versionPrefix.ReplaceAllString(r.URL.Path, "")
	version := strings.TrimPrefix(versionPrefix.FindString(r.URL.Path), "/v")
	if f.maxVersion != "" {
		w.Header().Set("API-Version", f.maxVersion)
	}
	if path == "/_ping" {
		f.mu.Lock()
		f.pings++
		f.mu.Unlock()
		io.WriteString(w, "OK")
		return
	}
	if f.maxVersion != "" && version != "" && versionLess(f.maxVersion, version) {
		writeJSON(w, 400, fmt.Sprintf(`{"message":"client version %s is too new. Maximum supported API version is %s"}`, version, f.maxVersion))
		return
	}
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.reqs = append(f.reqs, request{Method: r.Method, Path: path, Query: r.URL.Query(), Body: body,
		Upgrade: r.Header.Get("Upgrade") == "tcp", Version: version})
	f.mu.Unlock()
	if resp, ok := f.responses[r.Method+" "+path]; ok {
		status, b, _ := strings.Cut(resp, " ")
		var code int
		fmt.Sscan(status, &code)
		writeJSON(w, code, b)
		return
	}
	if f.notFound && r.Method == "GET" && path != "/info" {
		writeJSON(w, 404, fmt.Sprintf(`{"message":"No such object: %s"}`, path))
		return
	}
	switch {
	case f.archiveRoot != "" && strings.HasSuffix(path, "/archive"):
		f.serveArchive(w, r, path)
	case path == "/info":
		writeJSON(w, 200, `{"OSType":"linux"}`)
	case path == "/containers/create":
		if f.createStatus != 0 && f.createStatus != 201 {
			writeJSON(w, f.createStatus, fmt.Sprintf(`{"message":%q}`, f.createMsg))
			return
		}
		writeJSON(w, 201, `{"Id":"`+fakeID+`","Warnings":[]}`)
	case strings.HasSuffix(path, "/attach") || strings.HasPrefix(path, "/exec/") && strings.HasSuffix(path, "/start") && r.Header.Get("Upgrade") != "":
		f.hijack(w)
	case strings.HasSuffix(path, "/wait"):
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		time.Sleep(50 * time.Millisecond)
		fmt.Fprintf(w, `{"StatusCode":%d}`, f.waitCode)
	case strings.HasPrefix(path, "/containers/") && strings.HasSuffix(path, "/start"):
		if f.startErr != "" {
			writeJSON(w, 400, fmt.Sprintf(`{"message":%q}`, f.startErr))
			return
		}
		w.WriteHeader(204)
	case strings.HasSuffix(path, "/exec"):
		writeJSON(w, 201, `{"Id":"e1e1"}`)
	case strings.HasPrefix(path, "/exec/") && strings.HasSuffix(path, "/json"):
		writeJSON(w, 200, fmt.Sprintf(`{"ID":"e1e1","Running":false,"ExitCode":%d}`, f.execExit))
	case strings.HasPrefix(path, "/containers/") && strings.HasSuffix(path, "/json"):
		b := f.inspect
		if b == "" {
			b = fmt.Sprintf(`{"Id":"%s","Name":"/c1","State":{"Status":"running","Running":true},"Config":{"Tty":%v,"OpenStdin":true},"HostConfig":{}}`, fakeID, f.tty)
		}
		writeJSON(w, 200, b)
	case strings.HasSuffix(path, "/logs"):
		w.Header().Set("Content-Type", "application/vnd.docker.multiplexed-stream")
		w.WriteHeader(200)
		f.writeFrames(w)
	default:
		w.WriteHeader(204)
	}
}

func (f *fakeDaemon) writeFrames(w io.Writer) {
	for _, fr := range f.frames {
		if f.tty {
			io.WriteString(w, fr.data)
			continue
		}
		var h [8]byte
		h[0] = fr.stream
		binary.BigEndian.PutUint32(h[4:], uint32(len(fr.data)))
		w.Write(h[:])
		io.WriteString(w, fr.data)
	}
}

func (f *fakeDaemon) hijack(w http.ResponseWriter) {
	conn, buf, err := w.(http.Hijacker).Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	ct := "application/vnd.docker.multiplexed-stream"
	if f.tty {
		ct = "application/vnd.docker.raw-stream"
	}
	fmt.Fprintf(buf, "HTTP/1.1 101 UPGRADED\r\nContent-Type: %s\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n", ct)
	buf.Flush()
	if f.echoStdin {
		in, _ := io.ReadAll(bufio.NewReader(io.LimitReader(buf, 1<<20)))
		fr := f.frames
		f.frames = append([]frame{{1, string(in)}}, fr...)
		defer func() { f.frames = fr }()
	}
	var out bytes.Buffer
	f.writeFrames(&out)
	conn.Write(out.Bytes())
	conn.(*net.UnixConn).CloseWrite()
	conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	io.Copy(io.Discard, buf)
}

// result is what one CLI run did.
type result struct {
	stdout, stderr string
	code           int
	reqs           []request
}

// runCLI runs argv[0] (docker, or this binary as berth) against a fresh
// fake daemon configured by setup.
func runCLI(t *testing.T, dir string, berth bool, args []string, stdin string, setup func(*fakeDaemon)) result {
	t.Helper()
	f := &fakeDaemon{}
	if setup != nil {
		setup(f)
	}
	f.start(t)
	cfgDir := t.TempDir()
	if dir == "" {
		dir = cfgDir
	}
	var cmd *exec.Cmd
	if berth {
		cmd = exec.Command(os.Args[0], args...)
		cmd.Env = append(os.Environ(), "BERTH_CLI_TEST_MAIN=1")
	} else {
		cmd = exec.Command("docker", args...)
		cmd.Env = os.Environ()
	}
	cmd.Env = append(cmd.Env, "DOCKER_HOST=unix://"+f.sock, "BERTH_HOST=unix://"+f.sock, "DOCKER_CONFIG="+cfgDir,
		"DOCKER_CLI_HINTS=false", "TZ=UTC")
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("%v: timed out; stderr: %s", args, stderr.String())
	}
	return result{stdout: stdout.String(), stderr: stderr.String(), code: cmd.ProcessState.ExitCode(), reqs: f.requests()}
}

func haveDocker(t *testing.T) {
	if _, err := exec.LookPath("docker"); err != nil {
		t.Skip("docker CLI not on PATH: the conformance tests compare berth with it")
	}
}
