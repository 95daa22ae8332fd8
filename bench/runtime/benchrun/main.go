// Command benchrun is the measuring half of bench/runtime/run.sh.
//
// It runs several commands round-robin (interleaved: iteration i runs every
// runtime once, in an order rotated by i) and records, for each run, the wall
// time from fork to reap, the exit status, the peak RSS and the user+sys CPU
// time of the process tree it reaped. It makes itself a child subreaper so that
// processes a runtime leaves behind are reparented to it: their rusage is
// folded into the run that spawned them, and any still alive once the runtime
// has exited are counted as strays and killed.
//
//	benchrun measure -iter N -warmup W -prefix P -ids FILE -out FILE -rt 'name=/abs/cmd arg {id}' ...
//	benchrun report -run run.json -version version.json [-label name=text] [-unavail name=reason] [-order a,b,c]
//
// The only dependency is the standard library.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/berth-dev/berth/bench/internal/stats"
)

type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(s string) error { *m = append(*m, s); return nil }

type failure struct {
	ID     string `json:"id"`
	Iter   int    `json:"iter"`
	Exit   int    `json:"exit"`
	Signal string `json:"signal,omitempty"`
	Stderr string `json:"stderr,omitempty"`
}

type summary struct {
	Runs       int     `json:"runs"`
	Failures   int     `json:"failures"`
	Strays     int     `json:"strays"`
	MedianMS   float64 `json:"median_ms"`
	P90MS      float64 `json:"p90_ms"`
	MinMS      float64 `json:"min_ms"`
	MeanMS     float64 `json:"mean_ms"`
	CPUMedMS   float64 `json:"cpu_median_ms"`
	RSSMedKB   float64 `json:"rss_median_kb"`
	RSSMaxKB   int64   `json:"rss_max_kb"`
	WarmupFail int     `json:"warmup_failures"`
}

type runtimeResult struct {
	Name     string    `json:"name"`
	Cmd      []string  `json:"cmd"`
	WallMS   []float64 `json:"wall_ms"` // successful runs only, as are CPUMS and RSSKB
	CPUMS    []float64 `json:"cpu_ms"`
	RSSKB    []int64   `json:"rss_kb"`
	Failures []failure `json:"failures"`
	Summary  summary   `json:"summary"`
}

type result struct {
	Iterations int              `json:"iterations"`
	Warmup     int              `json:"warmup"`
	Runtimes   []*runtimeResult `json:"runtimes"`
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: benchrun measure|report ...")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "measure":
		err = measure(os.Args[2:])
	case "report":
		err = report(os.Args[2:])
	default:
		err = fmt.Errorf("unknown subcommand %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchrun:", err)
		os.Exit(1)
	}
}

// ---------------------------------------------------------------- measure

type one struct {
	wall   time.Duration
	cpu    time.Duration
	rssKB  int64
	exit   int
	signal string
	strays int
}

func measure(args []string) error {
	fs := flag.NewFlagSet("measure", flag.ExitOnError)
	iter := fs.Int("iter", 50, "measured iterations per runtime")
	warmup := fs.Int("warmup", 3, "unmeasured iterations per runtime")
	prefix := fs.String("prefix", fmt.Sprintf("bench-%d", os.Getpid()), "container id prefix")
	idsPath := fs.String("ids", "", "append 'name id' here before each run (for cleanup)")
	out := fs.String("out", "", "write JSON results here (default stdout)")
	quiet := fs.Bool("q", false, "no progress on stderr")
	var rts multi
	fs.Var(&rts, "rt", "name=command template; {id} is replaced by a fresh container id (repeatable)")
	_ = fs.Parse(args)
	if len(rts) == 0 {
		return errors.New("no -rt given")
	}

	var res result
	res.Iterations, res.Warmup = *iter, *warmup
	for _, r := range rts {
		name, tmpl, ok := strings.Cut(r, "=")
		if !ok || name == "" {
			return fmt.Errorf("bad -rt %q, want name=command", r)
		}
		argv := strings.Fields(tmpl)
		if len(argv) == 0 {
			return fmt.Errorf("empty command for %s", name)
		}
		p, err := exec.LookPath(argv[0])
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		argv[0] = p
		res.Runtimes = append(res.Runtimes, &runtimeResult{Name: name, Cmd: argv, Failures: []failure{}})
	}

	var ids *os.File
	if *idsPath != "" {
		f, err := os.OpenFile(*idsPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return err
		}
		defer f.Close()
		ids = f
	}
	// Orphans of the runtimes are reparented to us, so we see (and reap) them.
	if _, _, e := syscall.RawSyscall(syscall.SYS_PRCTL, 36 /* PR_SET_CHILD_SUBREAPER */, 1, 0); e != 0 {
		fmt.Fprintln(os.Stderr, "benchrun: PR_SET_CHILD_SUBREAPER:", e)
	}
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	errf, err := os.CreateTemp("", "benchrun-stderr-")
	if err != nil {
		return err
	}
	defer os.Remove(errf.Name())

	k := len(res.Runtimes)
	total := *warmup + *iter
	for i := 0; i < total; i++ {
		measured := i >= *warmup
		for j := 0; j < k; j++ {
			rt := res.Runtimes[(i+j)%k] // rotate who goes first
			var id string
			if measured {
				id = fmt.Sprintf("%s-%s-%d", *prefix, rt.Name, i-*warmup)
			} else {
				id = fmt.Sprintf("%s-%s-w%d", *prefix, rt.Name, i)
			}
			argv := make([]string, len(rt.Cmd))
			for n, a := range rt.Cmd {
				argv[n] = strings.ReplaceAll(a, "{id}", id)
			}
			if ids != nil {
				fmt.Fprintf(ids, "%s %s\n", rt.Name, id)
			}
			_ = errf.Truncate(0)
			_, _ = errf.Seek(0, 0)
			o, err := runOnce(argv, devnull, errf)
			if err != nil {
				return fmt.Errorf("%s: %w", rt.Name, err)
			}
			failed := o.exit != 0 || o.signal != ""
			if !measured {
				if failed {
					rt.Summary.WarmupFail++
				}
				continue
			}
			rt.Summary.Runs++
			rt.Summary.Strays += o.strays
			if !failed { // figures only from runs that did the job
				rt.WallMS = append(rt.WallMS, ms(o.wall))
				rt.CPUMS = append(rt.CPUMS, ms(o.cpu))
				rt.RSSKB = append(rt.RSSKB, o.rssKB)
			} else {
				rt.Summary.Failures++
				b, _ := os.ReadFile(errf.Name())
				s := strings.TrimSpace(string(b))
				if len(s) > 600 {
					s = s[:600] + "..."
				}
				rt.Failures = append(rt.Failures, failure{ID: id, Iter: i - *warmup, Exit: o.exit, Signal: o.signal, Stderr: s})
			}
		}
		if !*quiet && measured && ((i-*warmup+1)%10 == 0 || i == total-1) {
			fmt.Fprintf(os.Stderr, "  %d/%d iterations\n", i-*warmup+1, *iter)
		}
	}

	for _, rt := range res.Runtimes {
		s := &rt.Summary
		w := append([]float64(nil), rt.WallMS...)
		sort.Float64s(w)
		s.MedianMS, s.P90MS = stats.Median(w), pct(w, 0.90)
		if len(w) > 0 {
			s.MinMS = w[0]
			var sum float64
			for _, v := range w {
				sum += v
			}
			s.MeanMS = sum / float64(len(w))
		}
		c := append([]float64(nil), rt.CPUMS...)
		sort.Float64s(c)
		s.CPUMedMS = stats.Median(c)
		r := make([]float64, len(rt.RSSKB))
		for n, v := range rt.RSSKB {
			r[n] = float64(v)
			if v > s.RSSMaxKB {
				s.RSSMaxKB = v
			}
		}
		sort.Float64s(r)
		s.RSSMedKB = stats.Median(r)
	}

	b, _ := json.MarshalIndent(res, "", "  ")
	if *out == "" {
		_, err = os.Stdout.Write(append(b, '\n'))
		return err
	}
	return os.WriteFile(*out, append(b, '\n'), 0o644)
}

// runOnce forks argv with stdin/stdout on /dev/null and stderr on errf, and
// reaps until argv's process is gone. Rusage of every process reaped meanwhile
// (the runtime itself, which includes its own reaped children, plus orphans
// reparented to us) is folded in: max of maxrss, sum of CPU time.
func runOnce(argv []string, devnull, errf *os.File) (one, error) {
	var o one
	attr := &syscall.ProcAttr{
		Env:   os.Environ(),
		Files: []uintptr{devnull.Fd(), devnull.Fd(), errf.Fd()},
	}
	start := time.Now()
	pid, err := syscall.ForkExec(argv[0], argv, attr)
	if err != nil {
		return o, err
	}
	fold := func(ru *syscall.Rusage) {
		if ru.Maxrss > o.rssKB {
			o.rssKB = ru.Maxrss
		}
		o.cpu += time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	for {
		var ws syscall.WaitStatus
		var ru syscall.Rusage
		wp, err := syscall.Wait4(-1, &ws, 0, &ru)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return o, fmt.Errorf("wait4: %w", err)
		}
		fold(&ru)
		if wp == pid {
			o.wall = time.Since(start)
			switch {
			case ws.Exited():
				o.exit = ws.ExitStatus()
			case ws.Signaled():
				o.exit = -1
				o.signal = ws.Signal().String()
			}
			break
		}
	}
	// Anything still around now was left behind by the runtime.
	deadline := time.Now().Add(5 * time.Second)
	for {
		var ws syscall.WaitStatus
		var ru syscall.Rusage
		wp, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, &ru)
		if err == syscall.EINTR {
			continue
		}
		if errors.Is(err, syscall.ECHILD) {
			return o, nil
		}
		if err != nil {
			return o, fmt.Errorf("wait4: %w", err)
		}
		if wp > 0 {
			fold(&ru)
			o.strays++
			continue
		}
		if time.Now().After(deadline) {
			for _, c := range ourChildren() {
				_ = syscall.Kill(c, syscall.SIGKILL)
			}
			deadline = time.Now().Add(time.Hour)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// ourChildren lists the PIDs whose parent is this process.
func ourChildren() []int {
	var pids []int
	me := os.Getpid()
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) > 1 {
			if pp, _ := strconv.Atoi(f[1]); pp == me {
				pids = append(pids, pid)
			}
		}
	}
	return pids
}

func ms(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }

// pct is the nearest-rank percentile of sorted s.
func pct(s []float64, p float64) float64 {
	if len(s) == 0 {
		return math.NaN()
	}
	i := int(math.Ceil(p*float64(len(s)))) - 1
	if i < 0 {
		i = 0
	}
	return s[i]
}

// ---------------------------------------------------------------- report

func load(path string) (map[string]*runtimeResult, error) {
	m := map[string]*runtimeResult{}
	if path == "" {
		return m, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r result
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for _, rt := range r.Runtimes {
		m[rt.Name] = rt
	}
	return m, nil
}

func report(args []string) error {
	fs := flag.NewFlagSet("report", flag.ExitOnError)
	runPath := fs.String("run", "", "JSON of the run measurement")
	verPath := fs.String("version", "", "JSON of the --version measurement")
	order := fs.String("order", "berth,crun,runc", "columns")
	ref := fs.String("ref", "berth", "runtime the ratio columns divide by the others")
	var labels, unavail multi
	fs.Var(&labels, "label", "name=column heading (repeatable)")
	fs.Var(&unavail, "unavail", "name=why it has no figures (repeatable)")
	_ = fs.Parse(args)

	run, err := load(*runPath)
	if err != nil {
		return err
	}
	ver, err := load(*verPath)
	if err != nil {
		return err
	}
	label := map[string]string{}
	for _, l := range labels {
		k, v, _ := strings.Cut(l, "=")
		label[k] = v
	}
	why := map[string]string{}
	for _, u := range unavail {
		k, v, _ := strings.Cut(u, "=")
		why[k] = v
	}
	cols := strings.Split(*order, ",")
	var others []string
	for _, c := range cols {
		if c != *ref {
			others = append(others, c)
		}
	}

	type row struct {
		name  string
		src   map[string]*runtimeResult
		get   func(*runtimeResult) float64
		fmt   func(float64) string
		ratio bool
	}
	f1 := func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }
	f2 := func(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }
	mb := func(v float64) string { return strconv.FormatFloat(v/1024, 'f', 1, 64) }
	rows := []row{
		{"`run` /bin/true, median wall (ms)", run, func(r *runtimeResult) float64 { return r.Summary.MedianMS }, f1, true},
		{"`run` /bin/true, p90 wall (ms)", run, func(r *runtimeResult) float64 { return r.Summary.P90MS }, f1, true},
		{"`run` /bin/true, median CPU user+sys (ms)", run, func(r *runtimeResult) float64 { return r.Summary.CPUMedMS }, f1, true},
		{"`run` peak RSS of the process tree, median (MB)", run, func(r *runtimeResult) float64 { return r.Summary.RSSMedKB }, mb, true},
		{"`run` peak RSS of the process tree, max (MB)", run, func(r *runtimeResult) float64 { return float64(r.Summary.RSSMaxKB) }, mb, true},
		{"`run` failures / runs", run, nil, nil, false},
		{"`--version`, median wall (ms)", ver, func(r *runtimeResult) float64 { return r.Summary.MedianMS }, f2, true},
		{"`--version`, peak RSS, median (MB)", ver, func(r *runtimeResult) float64 { return r.Summary.RSSMedKB }, mb, true},
	}

	var b strings.Builder
	b.WriteString("| figure |")
	for _, c := range cols {
		h := label[c]
		if h == "" {
			h = c
		}
		b.WriteString(" " + h + " |")
	}
	for _, o := range others {
		fmt.Fprintf(&b, " %s ÷ %s |", *ref, o)
	}
	b.WriteString("\n|---|")
	for range cols {
		b.WriteString("---:|")
	}
	for range others {
		b.WriteString("---:|")
	}
	b.WriteString("\n")
	for ri, r := range rows {
		first := ri == 0
		b.WriteString("| " + r.name + " |")
		for _, c := range cols {
			rt := r.src[c]
			switch {
			case rt == nil && why[c] != "" && first:
				b.WriteString(" " + why[c] + " |")
			case rt == nil:
				b.WriteString(" — |")
			case r.get == nil:
				fmt.Fprintf(&b, " %d / %d |", rt.Summary.Failures, rt.Summary.Runs)
			default:
				b.WriteString(" " + r.fmt(r.get(rt)) + " |")
			}
		}
		for _, o := range others {
			a, z := r.src[*ref], r.src[o]
			if !r.ratio || a == nil || z == nil || r.get(z) == 0 {
				b.WriteString(" — |")
				continue
			}
			fmt.Fprintf(&b, " %.2f× |", r.get(a)/r.get(z))
		}
		b.WriteString("\n")
	}
	fmt.Print(b.String())

	// Failures and strays, after the table.
	for _, c := range cols {
		rt := run[c]
		if rt == nil {
			continue
		}
		if rt.Summary.Strays > 0 {
			fmt.Printf("\n%s: %d process(es) outlived `run` and were reaped or killed by the harness.\n", c, rt.Summary.Strays)
		}
		if rt.Summary.WarmupFail > 0 {
			fmt.Printf("\n%s: %d warm-up run(s) failed.\n", c, rt.Summary.WarmupFail)
		}
		for i, f := range rt.Failures {
			if i == 3 {
				fmt.Printf("  ... %d more\n", len(rt.Failures)-3)
				break
			}
			how := fmt.Sprintf("exit %d", f.Exit)
			if f.Signal != "" {
				how = "killed by " + f.Signal
			}
			fmt.Printf("\n%s failed (%s, %s): %s\n", c, f.ID, how, f.Stderr)
		}
	}
	return nil
}
