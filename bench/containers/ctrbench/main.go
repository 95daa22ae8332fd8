// Command ctrbench is the measuring helper of bench/containers/run.sh
// (standard library only, built into the bench's temp dir at each run).
//
//	ctrbench time  -rounds N -warmup W -out F -rt name=CMD... interleaved wall times
//	ctrbench batch -name E -n 50 -out F -ids F -- CMD...     N sequential runs, timed as a whole
//	ctrbench mem   -name E -what W -when T -out F (-match RE | -pids P,Q)   RSS/PSS from smaps_rollup
//	ctrbench api   -name E -sock S -n N -out F                  create/attach/start/wait timings
//	ctrbench report -runs F -batch F -mem F -api F -label E=TEXT... markdown tables
//
// CMD is split on blanks (no quoting); "{id}" in it becomes a fresh id per run.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fatalf("usage: ctrbench time|batch|mem|api|report [flags]")
	}
	var err error
	switch os.Args[1] {
	case "time":
		err = cmdTime(os.Args[2:])
	case "batch":
		err = cmdBatch(os.Args[2:])
	case "mem":
		err = cmdMem(os.Args[2:])
	case "api":
		err = cmdAPI(os.Args[2:])
	case "report":
		err = cmdReport(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fatalf("%s: %v", os.Args[1], err)
	}
}

func fatalf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "ctrbench: "+format+"\n", a...)
	os.Exit(1)
}

type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

// ---------------------------------------------------------------- running

type result struct {
	WallMS float64 `json:"wall_ms"`
	CPUMS  float64 `json:"cpu_ms"` // user+sys of the reaped child
	Exit   int     `json:"exit"`
	Stdout string  `json:"-"`
	Stderr string  `json:"stderr,omitempty"`
}

// run executes argv with a timeout and times it from fork to reap.
func run(argv []string, timeout time.Duration) result {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.Stdin = nil
	t0 := time.Now()
	err := cmd.Run()
	wall := time.Since(t0)
	r := result{WallMS: ms(wall), Stdout: out.String()}
	if cmd.ProcessState != nil {
		r.CPUMS = ms(cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime())
		r.Exit = cmd.ProcessState.ExitCode()
	}
	if err != nil {
		if r.Exit == 0 {
			r.Exit = -1
		}
		msg := strings.TrimSpace(errb.String())
		if ctx.Err() != nil {
			msg = "timed out; " + msg
		}
		if msg == "" {
			msg = err.Error()
		}
		r.Stderr = trunc(msg, 300)
	}
	return r
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func trunc(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// ---------------------------------------------------------------- time

type series struct {
	Name     string    `json:"name"`
	Cmd      string    `json:"cmd"`
	Wall     []float64 `json:"wall_ms"`
	CPU      []float64 `json:"cpu_ms"`
	Failures int       `json:"failures"`
	Errors   []string  `json:"errors,omitempty"`
}

type timeFile struct {
	Rounds  int       `json:"rounds"`
	Warmup  int       `json:"warmup"`
	Loads   []string  `json:"loadavg"`
	Series  []*series `json:"series"`
	Started time.Time `json:"started"`
	Ended   time.Time `json:"ended"`
}

func cmdTime(args []string) error {
	fs := flag.NewFlagSet("time", flag.ExitOnError)
	rounds := fs.Int("rounds", 30, "measured rounds")
	warmup := fs.Int("warmup", 3, "unmeasured rounds first")
	out := fs.String("out", "", "JSON output file")
	prefix := fs.String("prefix", "ctrbench", "prefix of the ids")
	timeout := fs.Duration("timeout", 60*time.Second, "time one run may take")
	var rts multi
	fs.Var(&rts, "rt", "name=command (repeatable)")
	fs.Parse(args)
	if len(rts) == 0 || *out == "" {
		return errors.New("need -rt and -out")
	}
	tf := &timeFile{Rounds: *rounds, Warmup: *warmup, Started: time.Now()}
	for _, rt := range rts {
		name, cmd, ok := strings.Cut(rt, "=")
		if !ok {
			return fmt.Errorf("bad -rt %q", rt)
		}
		tf.Series = append(tf.Series, &series{Name: name, Cmd: cmd})
	}
	n := len(tf.Series)
	seq := 0
	for r := -*warmup; r < *rounds; r++ {
		if r >= 0 && r%10 == 0 {
			tf.Loads = append(tf.Loads, loadavg())
			fmt.Fprintf(os.Stderr, "[ctrbench] round %d/%d (load average %s)\n", r+1, *rounds, loadavg())
		}
		for k := 0; k < n; k++ {
			s := tf.Series[((r%n+n)%n+k)%n] // order rotated by one each round
			seq++
			id := fmt.Sprintf("%s-%s-%d", *prefix, s.Name, seq)
			argv := strings.Fields(strings.ReplaceAll(s.Cmd, "{id}", id))
			res := run(argv, *timeout)
			if r < 0 {
				if res.Exit != 0 {
					fmt.Fprintf(os.Stderr, "[ctrbench] warm-up: %s failed: %s\n", s.Name, res.Stderr)
				}
				continue
			}
			if res.Exit != 0 {
				s.Failures++
				if len(s.Errors) < 3 {
					s.Errors = append(s.Errors, res.Stderr)
				}
				continue
			}
			s.Wall = append(s.Wall, res.WallMS)
			s.CPU = append(s.CPU, res.CPUMS)
		}
	}
	tf.Loads = append(tf.Loads, loadavg())
	tf.Ended = time.Now()
	return writeJSON(*out, tf)
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

func appendJSONL(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = f.Write(append(b, '\n'))
	return err
}

// ---------------------------------------------------------------- batch

type batchLine struct {
	Name     string    `json:"name"`
	N        int       `json:"n"`
	TotalMS  float64   `json:"total_ms"`
	Each     []float64 `json:"each_ms"`
	Failures int       `json:"failures"`
	Errors   []string  `json:"errors,omitempty"`
	Load     string    `json:"loadavg"`
}

func cmdBatch(args []string) error {
	fs := flag.NewFlagSet("batch", flag.ExitOnError)
	name := fs.String("name", "", "engine")
	n := fs.Int("n", 50, "containers")
	out := fs.String("out", "", "JSON lines output")
	ids := fs.String("ids", "", "file for the ids printed by the runs")
	timeout := fs.Duration("timeout", 60*time.Second, "time one run may take")
	fs.Parse(args)
	argv := fs.Args()
	if len(argv) == 0 || *out == "" || *name == "" {
		return errors.New("need -name, -out and a command")
	}
	bl := batchLine{Name: *name, N: *n, Load: loadavg()}
	var idb strings.Builder
	t0 := time.Now()
	for i := 0; i < *n; i++ {
		a := make([]string, len(argv))
		for j, s := range argv {
			a[j] = strings.ReplaceAll(s, "{i}", strconv.Itoa(i))
		}
		res := run(a, *timeout)
		bl.Each = append(bl.Each, res.WallMS)
		idb.WriteString(res.Stdout)
		if res.Exit != 0 {
			bl.Failures++
			if len(bl.Errors) < 3 {
				bl.Errors = append(bl.Errors, res.Stderr)
			}
		}
	}
	bl.TotalMS = ms(time.Since(t0))
	if *ids != "" {
		if err := os.WriteFile(*ids, []byte(idb.String()), 0o644); err != nil {
			return err
		}
	}
	return appendJSONL(*out, bl)
}

// ---------------------------------------------------------------- mem

type procMem struct {
	PID int    `json:"pid"`
	Cmd string `json:"cmd"`
	RSS int64  `json:"rss_kb"`
	PSS int64  `json:"pss_kb"`
}

type memLine struct {
	Name  string    `json:"name"`
	What  string    `json:"what"` // "shim" or "daemon"
	When  string    `json:"when"`
	Procs []procMem `json:"procs"`
}

func cmdMem(args []string) error {
	fs := flag.NewFlagSet("mem", flag.ExitOnError)
	name := fs.String("name", "", "engine")
	what := fs.String("what", "", "shim or daemon")
	when := fs.String("when", "", "label of the reading")
	out := fs.String("out", "", "JSON lines output")
	match := fs.String("match", "", "regexp on the command line (argv joined by blanks)")
	pids := fs.String("pids", "", "comma-separated pids")
	fs.Parse(args)
	if *out == "" || *name == "" {
		return errors.New("need -name and -out")
	}
	var list []int
	if *pids != "" {
		for _, p := range strings.Split(*pids, ",") {
			if p == "" {
				continue
			}
			v, err := strconv.Atoi(p)
			if err != nil {
				return err
			}
			list = append(list, v)
		}
	}
	if *match != "" {
		re, err := regexp.Compile(*match)
		if err != nil {
			return err
		}
		ents, _ := os.ReadDir("/proc")
		for _, e := range ents {
			pid, err := strconv.Atoi(e.Name())
			if err != nil || pid == os.Getpid() {
				continue
			}
			if re.MatchString(cmdline(pid)) {
				list = append(list, pid)
			}
		}
	}
	ml := memLine{Name: *name, What: *what, When: *when}
	for _, pid := range list {
		rss, pss, err := smapsRollup(pid)
		if err != nil {
			fmt.Fprintf(os.Stderr, "[ctrbench] mem: pid %d: %v\n", pid, err)
			continue
		}
		ml.Procs = append(ml.Procs, procMem{PID: pid, Cmd: trunc(cmdline(pid), 120), RSS: rss, PSS: pss})
	}
	return appendJSONL(*out, ml)
}

func cmdline(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " "))
}

// smapsRollup returns Rss and Pss in kB.
func smapsRollup(pid int) (rss, pss int64, err error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fl := strings.Fields(sc.Text())
		if len(fl) < 2 {
			continue
		}
		v, _ := strconv.ParseInt(fl[1], 10, 64)
		switch fl[0] {
		case "Rss:":
			rss = v
		case "Pss:":
			pss = v
		}
	}
	return rss, pss, sc.Err()
}

// ---------------------------------------------------------------- api

type apiLine struct {
	Name    string  `json:"name"`
	Create  float64 `json:"create_ms"`
	Attach  float64 `json:"attach_ms"`
	WaitReq float64 `json:"wait_ms"` // until the wait response's headers
	Start   float64 `json:"start_ms"`
	Exit    float64 `json:"exit_ms"` // start returned -> wait body (container exited and removed)
	Total   float64 `json:"total_ms"`
	Err     string  `json:"err,omitempty"`
}

// cmdAPI drives the API calls the docker CLI makes for
// "run --rm --network none busybox true" (create, attach, wait
// condition=removed, start, then the wait result), one at a time, and times
// each.
func cmdAPI(args []string) error {
	fs := flag.NewFlagSet("api", flag.ExitOnError)
	name := fs.String("name", "", "engine")
	sock := fs.String("sock", "", "unix socket of the daemon")
	n := fs.Int("n", 10, "runs")
	version := fs.String("version", "v1.41", "API version path prefix")
	img := fs.String("image", "busybox:latest", "image")
	out := fs.String("out", "", "JSON lines output")
	fs.Parse(args)
	if *sock == "" || *out == "" {
		return errors.New("need -sock and -out")
	}
	dial := func() (net.Conn, error) { return net.DialTimeout("unix", *sock, 5*time.Second) }
	hc := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) { return dial() },
	}}
	base := "http://berth/" + *version
	for i := 0; i < *n; i++ {
		l := apiOnce(hc, dial, base, *img)
		l.Name = *name
		if err := appendJSONL(*out, l); err != nil {
			return err
		}
	}
	return nil
}

func apiOnce(hc *http.Client, dial func() (net.Conn, error), base, img string) (l apiLine) {
	fail := func(step string, err error) apiLine {
		l.Err = step + ": " + err.Error()
		return l
	}
	body := fmt.Sprintf(`{"Image":%q,"Cmd":["true"],"AttachStdout":true,"AttachStderr":true,"HostConfig":{"AutoRemove":true,"NetworkMode":"none"}}`, img)
	t0 := time.Now()
	resp, err := hc.Post(base+"/containers/create", "application/json", strings.NewReader(body))
	if err != nil {
		return fail("create", err)
	}
	var cr struct{ Id string }
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 201 || json.Unmarshal(b, &cr) != nil {
		return fail("create", fmt.Errorf("%s: %s", resp.Status, trunc(string(b), 200)))
	}
	l.Create = ms(time.Since(t0))

	// attach: a hijacked connection, as the CLI makes it.
	t1 := time.Now()
	ac, err := dial()
	if err != nil {
		return fail("attach", err)
	}
	defer ac.Close()
	fmt.Fprintf(ac, "POST %s/containers/%s/attach?stream=1&stdout=1&stderr=1 HTTP/1.1\r\nHost: berth\r\nUpgrade: tcp\r\nConnection: Upgrade\r\nContent-Length: 0\r\n\r\n", strings.TrimPrefix(base, "http://berth"), cr.Id)
	br := bufio.NewReader(ac)
	ar, err := http.ReadResponse(br, nil)
	if err != nil {
		return fail("attach", err)
	}
	if ar.StatusCode != 101 && ar.StatusCode != 200 {
		return fail("attach", errors.New(ar.Status))
	}
	l.Attach = ms(time.Since(t1))
	attachDone := make(chan struct{})
	go func() { io.Copy(io.Discard, br); close(attachDone) }()

	// wait?condition=removed, before start (as the CLI does for --rm).
	t2 := time.Now()
	type waitRes struct {
		err error
		at  time.Time
	}
	waitHdr := make(chan error, 1)
	waitEnd := make(chan waitRes, 1)
	go func() {
		resp, err := hc.Post(base+"/containers/"+cr.Id+"/wait?condition=removed", "", nil)
		waitHdr <- err
		if err != nil {
			waitEnd <- waitRes{err: err}
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			err = fmt.Errorf("%s: %s", resp.Status, trunc(string(b), 200))
		}
		waitEnd <- waitRes{err: err, at: time.Now()}
	}()
	select {
	case err := <-waitHdr:
		if err != nil {
			return fail("wait", err)
		}
		l.WaitReq = ms(time.Since(t2))
	case <-time.After(200 * time.Millisecond):
		// Some daemons send the headers only with the result; start anyway.
		l.WaitReq = -1
	}

	t3 := time.Now()
	resp, err = hc.Post(base+"/containers/"+cr.Id+"/start", "", nil)
	if err != nil {
		return fail("start", err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 204 && resp.StatusCode != 304 {
		return fail("start", fmt.Errorf("%s: %s", resp.Status, trunc(string(b), 200)))
	}
	t4 := time.Now()
	l.Start = ms(t4.Sub(t3))
	select {
	case w := <-waitEnd:
		if w.err != nil {
			return fail("wait", w.err)
		}
		l.Exit = ms(w.at.Sub(t4))
	case <-time.After(60 * time.Second):
		return fail("wait", errors.New("no result in 60 s"))
	}
	select {
	case <-attachDone:
	case <-time.After(5 * time.Second):
	}
	l.Total = ms(time.Since(t0))
	return l
}

// ---------------------------------------------------------------- report

func cmdReport(args []string) error {
	fs := flag.NewFlagSet("report", flag.ExitOnError)
	runs := fs.String("runs", "", "time JSON")
	batch := fs.String("batch", "", "batch JSON lines")
	mem := fs.String("mem", "", "mem JSON lines")
	api := fs.String("api", "", "api JSON lines")
	var labels, unavail, rowNames multi
	fs.Var(&labels, "label", "key=text for a row (repeatable)")
	fs.Var(&unavail, "unavail", "engine=why (repeatable)")
	fs.Var(&rowNames, "ratio", "a=b: print median(a)/median(b) (repeatable)")
	fs.Parse(args)
	lab := map[string]string{}
	for _, l := range labels {
		k, v, _ := strings.Cut(l, "=")
		lab[k] = v
	}
	label := func(k string) string {
		if v, ok := lab[k]; ok {
			return v
		}
		return k
	}
	short := func(k string) string { // ratio rows
		if v, ok := lab["s:"+k]; ok {
			return v
		}
		return k
	}
	engine := func(k string) string { // batch, mem and api rows: the engine's label
		if v, ok := lab["eng:"+k]; ok {
			return v
		}
		return k
	}
	w := os.Stdout
	if *runs != "" {
		var tf timeFile
		if err := readJSON(*runs, &tf); err != nil {
			return err
		}
		fmt.Fprintf(w, "**`run --rm busybox true`**: %d rounds after %d warm-up, the contenders' order rotating each round; wall = fork to reap of the client; CPU = user+sys of the client process alone. Load average during the rounds: %s.\n\n",
			tf.Rounds, tf.Warmup, strings.Join(tf.Loads, " → "))
		fmt.Fprintln(w, "| contender | median | p90 | min | client CPU (median) | failed |")
		fmt.Fprintln(w, "| --- | ---: | ---: | ---: | ---: | ---: |")
		med := map[string]float64{}
		for _, s := range tf.Series {
			if len(s.Wall) == 0 {
				fmt.Fprintf(w, "| %s | — | — | — | — | %d of %d: %s |\n", label(s.Name), s.Failures, s.Failures, cell(strings.Join(s.Errors, "; ")))
				continue
			}
			med[s.Name] = pct(s.Wall, 50)
			failed := strconv.Itoa(s.Failures)
			if s.Failures > 0 {
				failed += ": " + cell(s.Errors[0])
			}
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", label(s.Name), fms(pct(s.Wall, 50)), fms(pct(s.Wall, 90)), fms(pct(s.Wall, 0)), fms(pct(s.CPU, 50)), failed)
		}
		for _, u := range unavail {
			k, v, _ := strings.Cut(u, "=")
			fmt.Fprintf(w, "| %s | — | — | — | — | not measured: %s |\n", label(k), cell(v))
		}
		if len(rowNames) > 0 {
			fmt.Fprintln(w)
			fmt.Fprintln(w, "| ratio of medians | value |")
			fmt.Fprintln(w, "| --- | ---: |")
			for _, r := range rowNames {
				a, b, _ := strings.Cut(r, "=")
				if med[a] > 0 && med[b] > 0 {
					fmt.Fprintf(w, "| %s ÷ %s | %.2f× |\n", short(a), short(b), med[a]/med[b])
				} else {
					fmt.Fprintf(w, "| %s ÷ %s | — |\n", short(a), short(b))
				}
			}
		}
		fmt.Fprintln(w)
	}
	if *api != "" {
		lines, err := readJSONL[apiLine](*api)
		if err != nil {
			return err
		}
		fmt.Fprintln(w, "**API calls of one `run --rm --network none busybox true`** (as the docker CLI makes them, driven one by one by the helper over the socket; medians; \"exit\" = from start's reply to the reply of `wait?condition=removed`, i.e. the container running `true`, exiting and being removed):")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "| engine | create | attach | start | exit + remove | total | failed |")
		fmt.Fprintln(w, "| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
		for _, name := range order(lines, func(l apiLine) string { return l.Name }) {
			var c, a, s, e, t []float64
			fails, why := 0, ""
			for _, l := range lines {
				if l.Name != name {
					continue
				}
				if l.Err != "" {
					fails++
					why = l.Err
					continue
				}
				c, a, s, e, t = append(c, l.Create), append(a, l.Attach), append(s, l.Start), append(e, l.Exit), append(t, l.Total)
			}
			f := strconv.Itoa(fails)
			if why != "" {
				f += ": " + cell(why)
			}
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s |\n", engine(name), fms(pct(c, 50)), fms(pct(a, 50)), fms(pct(s, 50)), fms(pct(e, 50)), fms(pct(t, 50)), f)
		}
		fmt.Fprintln(w)
	}
	if *batch != "" {
		lines, err := readJSONL[batchLine](*batch)
		if err != nil {
			return err
		}
		fmt.Fprintln(w, "**N × `run -d --network none busybox sleep 600`**, sequential, timed as a whole:")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "| engine | containers | total | per container (median) | p90 | failed | load average |")
		fmt.Fprintln(w, "| --- | ---: | ---: | ---: | ---: | ---: | --- |")
		for _, l := range lines {
			f := strconv.Itoa(l.Failures)
			if len(l.Errors) > 0 {
				f += ": " + cell(l.Errors[0])
			}
			fmt.Fprintf(w, "| %s | %d | %.2f s | %s | %s | %s | %s |\n", engine(l.Name), l.N, l.TotalMS/1000, fms(pct(l.Each, 50)), fms(pct(l.Each, 90)), f, l.Load)
		}
		fmt.Fprintln(w)
	}
	if *mem != "" {
		lines, err := readJSONL[memLine](*mem)
		if err != nil {
			return err
		}
		fmt.Fprintln(w, "**Per-container overhead** with the batch's containers running: each engine's supervisor process per container (from /proc/PID/smaps_rollup; PSS splits pages shared between the shims, so it is the cost of one more container):")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "| engine | process | count | RSS median | PSS median | PSS sum |")
		fmt.Fprintln(w, "| --- | --- | ---: | ---: | ---: | ---: |")
		for _, l := range lines {
			if l.What != "shim" {
				continue
			}
			var rss, pss []float64
			var sum int64
			for _, p := range l.Procs {
				rss, pss = append(rss, float64(p.RSS)), append(pss, float64(p.PSS))
				sum += p.PSS
			}
			fmt.Fprintf(w, "| %s | %s | %d | %s | %s | %s |\n", engine(l.Name), l.When, len(l.Procs), fmb(pct(rss, 50)), fmb(pct(pss, 50)), fmb(float64(sum)))
		}
		fmt.Fprintln(w)
		fmt.Fprintln(w, "**Daemon memory** (sum over the daemon processes):")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "| engine | when | processes | RSS | PSS |")
		fmt.Fprintln(w, "| --- | --- | --- | ---: | ---: |")
		for _, l := range lines {
			if l.What != "daemon" {
				continue
			}
			var rss, pss int64
			var names []string
			for _, p := range l.Procs {
				rss += p.RSS
				pss += p.PSS
				names = append(names, fmt.Sprintf("%s %.1f MB", filepath.Base(strings.Fields(p.Cmd + " ?")[0]), float64(p.RSS)/1024))
			}
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", engine(l.Name), l.When, strings.Join(names, " + "), fmb(float64(rss)), fmb(float64(pss)))
		}
		fmt.Fprintln(w)
	}
	return nil
}

func order[T any](ls []T, key func(T) string) []string {
	var out []string
	seen := map[string]bool{}
	for _, l := range ls {
		if k := key(l); !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

func readJSONL[T any](path string) ([]T, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, syscall.ENOENT) {
			return nil, nil
		}
		return nil, err
	}
	var out []T
	for _, line := range bytes.Split(b, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var v T
		if err := json.Unmarshal(line, &v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// pct is the p-th percentile (nearest rank; 0 = min, 50 = median).
func pct(v []float64, p float64) float64 {
	if len(v) == 0 {
		return -1
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if p <= 0 {
		return s[0]
	}
	if p == 50 && len(s)%2 == 0 {
		return (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	i := int(float64(len(s))*p/100+0.999999) - 1
	if i < 0 {
		i = 0
	}
	if i >= len(s) {
		i = len(s) - 1
	}
	return s[i]
}

func fms(v float64) string {
	switch {
	case v < 0:
		return "—"
	case v < 10:
		return fmt.Sprintf("%.1f ms", v)
	default:
		return fmt.Sprintf("%.0f ms", v)
	}
}

// fmb formats kB as MB.
func fmb(kb float64) string {
	if kb < 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f MB", kb/1024)
}

func cell(s string) string {
	s = strings.ReplaceAll(s, "|", "\\|")
	s = strings.ReplaceAll(s, "\n", " ")
	return trunc(s, 100)
}
