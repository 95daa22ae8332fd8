// Command volbench is the helper of bench/volumes/run.sh (standard library
// only). Built static (CGO_ENABLED=0), the same binary runs in the busybox
// image, bind-mounted read-only, and on the host, so every figure comes from
// the same code timed from inside the process that does the I/O:
//
//	volbench write-large -dir D -mb N          write D/large.bin, 1 MiB writes, then fsync (dd bs=1M conv=fsync)
//	volbench read-large  -dir D -mb N          read D/large.bin back, 1 MiB reads; its size must be N MiB
//	volbench write-small -dir D -n N -kb K     create D/small/ with N files of K KiB each, then sync(2)
//	volbench read-small  -dir D -n N -kb K     list D/small/ and read every file; N files of K KiB must be there
//	volbench clean       -dir D                remove large.bin and small/ (not timed)
//	volbench report      -runs F -label K=TEXT...  the markdown tables
//
// Each workload prints one JSON line: the operation, the directory's file
// system (from statfs, so that a run can check that a volume is not on the
// overlay and the container's directory is), the bytes and files moved, the
// seconds from before the first open to after the last close (or sync), and
// the seconds of that spent in fsync / sync. Caches are the caller's: it
// drops them between a write and its read.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/berth-dev/berth/bench/internal/stats"
)

var commands = map[string]func(args []string) error{
	"write-large": cmdWriteLarge,
	"read-large":  cmdReadLarge,
	"write-small": cmdWriteSmall,
	"read-small":  cmdReadSmall,
	"clean":       cmdClean,
	"report":      cmdReport,
}

func main() {
	log.SetFlags(0)
	log.SetPrefix("volbench: ")
	if len(os.Args) < 2 || commands[os.Args[1]] == nil {
		log.Fatal("usage: volbench write-large|read-large|write-small|read-small|clean|report [flags]")
	}
	if err := commands[os.Args[1]](os.Args[2:]); err != nil {
		log.Fatalf("%s: %v", os.Args[1], err)
	}
}

const (
	largeName = "large.bin"
	smallDir  = "small"
	chunk     = 1 << 20 // bytes per read and write of the large file
)

// result is one workload's JSON line.
type result struct {
	Op          string  `json:"op"`
	Dir         string  `json:"dir"`
	FS          string  `json:"fs"`
	Bytes       int64   `json:"bytes"`
	Files       int     `json:"files"`
	Seconds     float64 `json:"seconds"`
	SyncSeconds float64 `json:"sync_seconds"`
}

func emit(r result) error {
	fsType, err := fsName(r.Dir)
	if err != nil {
		return err
	}
	r.FS = fsType
	return json.NewEncoder(os.Stdout).Encode(r)
}

// fsName names the file system dir is on, from its statfs magic number.
func fsName(dir string) (string, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return "", fmt.Errorf("statfs %s: %w", dir, err)
	}
	switch uint32(st.Type) {
	case 0xef53:
		return "ext4", nil // ext2, ext3 and ext4 share it
	case 0x794c7630:
		return "overlay", nil
	case 0x58465342:
		return "xfs", nil
	case 0x9123683e:
		return "btrfs", nil
	case 0x01021994:
		return "tmpfs", nil
	}
	return fmt.Sprintf("0x%x", uint32(st.Type)), nil
}

// pattern is the bytes written: not zeros, so that nothing on the way can
// tell them apart from real data.
func pattern(n int) []byte {
	b := make([]byte, n)
	x := uint64(0x9e3779b97f4a7c15)
	for i := range b {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b[i] = byte(x)
	}
	return b
}

func workloadFlags(name string, args []string) (dir *string, mb *int64, n, kb *int) {
	fs := flag.NewFlagSet(name, flag.ExitOnError)
	dir = fs.String("dir", "", "directory to work in (made if missing)")
	mb = fs.Int64("mb", 1024, "MiB in the large file")
	n = fs.Int("n", 5000, "number of small files")
	kb = fs.Int("kb", 4, "KiB per small file")
	fs.Parse(args)
	if *dir == "" || *mb <= 0 || *n <= 0 || *kb <= 0 {
		log.Fatalf("%s: need -dir, and -mb, -n and -kb > 0", name)
	}
	return dir, mb, n, kb
}

// ---------------------------------------------------------------- large file

func cmdWriteLarge(args []string) error {
	dir, mb, _, _ := workloadFlags("write-large", args)
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		return err
	}
	buf := pattern(chunk)
	total := *mb << 20
	t0 := time.Now()
	f, err := os.OpenFile(filepath.Join(*dir, largeName), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	for left := total; left > 0; left -= chunk {
		if _, err := f.Write(buf[:min(left, chunk)]); err != nil {
			f.Close()
			return err
		}
	}
	t1 := time.Now()
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	t2 := time.Now()
	return emit(result{Op: "write-large", Dir: *dir, Bytes: total, Files: 1,
		Seconds: t2.Sub(t0).Seconds(), SyncSeconds: t2.Sub(t1).Seconds()})
}

func cmdReadLarge(args []string) error {
	dir, mb, _, _ := workloadFlags("read-large", args)
	buf := make([]byte, chunk)
	t0 := time.Now()
	f, err := os.Open(filepath.Join(*dir, largeName))
	if err != nil {
		return err
	}
	n, err := io.CopyBuffer(io.Discard, onlyReader{f}, buf)
	f.Close()
	t1 := time.Now()
	if err != nil {
		return err
	}
	if n != *mb<<20 {
		return fmt.Errorf("read %d bytes of %s, want %d", n, largeName, *mb<<20)
	}
	return emit(result{Op: "read-large", Dir: *dir, Bytes: n, Files: 1, Seconds: t1.Sub(t0).Seconds()})
}

// onlyReader hides the file's WriterTo, so that io.CopyBuffer reads into the
// buffer given to it (1 MiB reads).
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

// ---------------------------------------------------------------- small files

func smallName(i int) string { return fmt.Sprintf("f%06d", i) }

// cmdWriteSmall creates the files one after the other, each opened, written
// in one write and closed, then calls sync(2), as `sync` after a copy would:
// the time includes the sync, which is when the data reaches the disk.
func cmdWriteSmall(args []string) error {
	dir, _, n, kb := workloadFlags("write-small", args)
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		return err
	}
	buf := pattern(*kb << 10)
	d := filepath.Join(*dir, smallDir)
	t0 := time.Now()
	if err := os.Mkdir(d, 0o755); err != nil {
		return err
	}
	for i := 0; i < *n; i++ {
		f, err := os.OpenFile(filepath.Join(d, smallName(i)), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return err
		}
		_, err = f.Write(buf)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	t1 := time.Now()
	syscall.Sync()
	t2 := time.Now()
	return emit(result{Op: "write-small", Dir: *dir, Bytes: int64(*n) * int64(len(buf)), Files: *n,
		Seconds: t2.Sub(t0).Seconds(), SyncSeconds: t2.Sub(t1).Seconds()})
}

// cmdReadSmall lists the directory and reads every file in name order (the
// order they were written in), each opened, read to EOF and closed.
func cmdReadSmall(args []string) error {
	dir, _, n, kb := workloadFlags("read-small", args)
	d := filepath.Join(*dir, smallDir)
	buf := make([]byte, 64<<10)
	var total int64
	t0 := time.Now()
	ents, err := os.ReadDir(d)
	if err != nil {
		return err
	}
	for _, e := range ents {
		f, err := os.Open(filepath.Join(d, e.Name()))
		if err != nil {
			return err
		}
		m, err := io.CopyBuffer(io.Discard, onlyReader{f}, buf)
		f.Close()
		if err != nil {
			return err
		}
		total += m
	}
	t1 := time.Now()
	if len(ents) != *n || total != int64(*n)*int64(*kb<<10) {
		return fmt.Errorf("found %d files, %d bytes in %s; want %d files of %d KiB", len(ents), total, d, *n, *kb)
	}
	return emit(result{Op: "read-small", Dir: *dir, Bytes: total, Files: len(ents), Seconds: t1.Sub(t0).Seconds()})
}

func cmdClean(args []string) error {
	fs := flag.NewFlagSet("clean", flag.ExitOnError)
	dir := fs.String("dir", "", "directory the workloads used")
	fs.Parse(args)
	if *dir == "" {
		return errors.New("need -dir")
	}
	if err := os.Remove(filepath.Join(*dir, largeName)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return os.RemoveAll(filepath.Join(*dir, smallDir))
}

// ---------------------------------------------------------------- report

// line is one workload run, as run.sh records it: the helper's result plus
// where it ran.
type line struct {
	result
	Engine string `json:"engine"` // "host", or an engine
	Loc    string `json:"loc"`    // "host", "volume" or "overlay"
	Round  int    `json:"round"`
	Err    string `json:"err,omitempty"`
	Load   string `json:"loadavg"`
}

// ops are the figures in the order of the tables' columns: the four
// workloads, and the fsync of write-large alone (the part of the write that
// goes to the disk, steadier than the whole on a VM: see the README).
var ops = []string{"write-large", "fsync-large", "read-large", "write-small", "read-small"}

// files/s for the small files, MB/s (10⁶ bytes/s) for the large one.
func (l line) rate() float64 {
	if strings.HasSuffix(l.Op, "-small") {
		return float64(l.Files) / l.Seconds
	}
	return float64(l.Bytes) / l.Seconds / 1e6
}

// series is one place: an engine's volume or overlay, or the host.
type series struct{ engine, loc string }

func cmdReport(args []string) error {
	fs := flag.NewFlagSet("report", flag.ExitOnError)
	runs := fs.String("runs", "", "JSON lines of the workload runs")
	engines := fs.String("engines", "berth docker podman", "engines, in the tables' order")
	target := fs.Float64("target", 0.95, "the least berth's volume ÷ host may be")
	label := labels{}
	fs.Var(label, "label", "ENGINE=TEXT (repeatable): an engine's name in the tables")
	fs.Parse(args)
	b, err := os.ReadFile(*runs)
	if err != nil {
		return err
	}
	rates := map[series]map[string][]float64{}         // series → figure → one per round
	byRound := map[series]map[string]map[int]float64{} // the same, by round, for the paired ratios
	add := func(s series, op string, round int, rate float64) {
		if rates[s] == nil {
			rates[s], byRound[s] = map[string][]float64{}, map[string]map[int]float64{}
		}
		if byRound[s][op] == nil {
			byRound[s][op] = map[int]float64{}
		}
		rates[s][op] = append(rates[s][op], rate)
		byRound[s][op][round] = rate
	}
	fails := map[series][]string{}
	fsOf := map[series]string{}
	rounds := map[int]bool{}
	var loads []string
	var largeMB int64
	var files, kb int
	for _, ln := range strings.Split(string(b), "\n") {
		if strings.TrimSpace(ln) == "" {
			continue
		}
		var l line
		if err := json.Unmarshal([]byte(ln), &l); err != nil {
			return fmt.Errorf("%s: %w", *runs, err)
		}
		loads = append(loads, l.Load)
		s := series{l.Engine, l.Loc}
		if l.Err != "" || l.Seconds <= 0 {
			fails[s] = append(fails[s], l.Op+": "+l.Err)
			continue
		}
		rounds[l.Round] = true
		fsOf[s] = l.FS
		add(s, l.Op, l.Round, l.rate())
		switch l.Op {
		case "write-large":
			largeMB = l.Bytes >> 20
			if l.SyncSeconds > 0 {
				add(s, "fsync-large", l.Round, float64(l.Bytes)/l.SyncSeconds/1e6)
			}
		case "write-small":
			files, kb = l.Files, int(l.Bytes/int64(l.Files))>>10
		}
	}
	host := series{"host", "host"}
	var rows []series
	rows = append(rows, host)
	var engs []string
	for _, e := range strings.Fields(*engines) {
		if rates[series{e, "volume"}] == nil && rates[series{e, "overlay"}] == nil && len(fails[series{e, "volume"}])+len(fails[series{e, "overlay"}]) == 0 {
			continue
		}
		engs = append(engs, e)
		rows = append(rows, series{e, "volume"}, series{e, "overlay"})
	}
	name := func(s series) string {
		switch s.loc {
		case "host":
			return "host directory, no container"
		case "volume":
			return label.of(s.engine) + ", named volume (`-v NAME:/data`)"
		}
		return label.of(s.engine) + ", container's overlay layer (/work)"
	}
	heads := map[string]string{
		"write-large": fmt.Sprintf("%d MiB file: write + fsync (MB/s)", largeMB),
		"fsync-large": fmt.Sprintf("%d MiB file: the fsync alone (MB/s)", largeMB),
		"read-large":  fmt.Sprintf("%d MiB file: read, cold cache (MB/s)", largeMB),
		"write-small": fmt.Sprintf("%d × %d KiB files: write + sync (files/s)", files, kb),
		"read-small":  fmt.Sprintf("%d × %d KiB files: read, cold cache (files/s)", files, kb),
	}
	w := os.Stdout
	fmt.Fprintf(w, "**Throughput**, median (min–max) of %d rounds; MB/s = 10⁶ bytes/s. Load average (1, 5, 15 min) at the first and the last workload: %s; the 1-minute figure over the rounds: %s.\n\n",
		len(rounds), firstLast(loads), loadRange(loads))
	fmt.Fprint(w, "| where | file system |")
	for _, op := range ops {
		fmt.Fprintf(w, " %s |", heads[op])
	}
	fmt.Fprint(w, " failed |\n| --- | --- |")
	for range ops {
		fmt.Fprint(w, " ---: |")
	}
	fmt.Fprintln(w, " ---: |")
	for _, s := range rows {
		fsType := fsOf[s]
		if s.loc == "overlay" && fsType == "overlay" && fsOf[host] != "" {
			fsType = "overlay on " + fsOf[host]
		}
		fmt.Fprintf(w, "| %s | %s |", name(s), orDash(fsType))
		for _, op := range ops {
			fmt.Fprintf(w, " %s |", spread(rates[s][op]))
		}
		failed := fmt.Sprint(len(fails[s]))
		if len(fails[s]) > 0 {
			failed += ": " + strings.ReplaceAll(trunc(fails[s][0], 100), "|", "\\|")
		}
		fmt.Fprintf(w, " %s |\n", failed)
	}
	fmt.Fprintln(w)

	// opsHead is the head of a table with a column per figure (its name without the unit).
	opsHead := func(title string) {
		fmt.Fprintf(w, "| %s |", title)
		for _, op := range ops {
			fmt.Fprintf(w, " %s |", strings.SplitN(heads[op], " (", 2)[0])
		}
		fmt.Fprint(w, "\n| --- |")
		for range ops {
			fmt.Fprint(w, " ---: |")
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w, "**Ratios of the medians** (in brackets: the median of the per-round ratios; each round measures every location back to back):")
	fmt.Fprintln(w)
	opsHead("ratio")
	ratioRow := func(title string, a, b series) {
		fmt.Fprintf(w, "| %s |", title)
		for _, op := range ops {
			fmt.Fprintf(w, " %s |", ratio(rates[a][op], rates[b][op], byRound[a][op], byRound[b][op]))
		}
		fmt.Fprintln(w)
	}
	for _, e := range engs {
		ratioRow(label.of(e)+", volume ÷ host", series{e, "volume"}, host)
		ratioRow(label.of(e)+", overlay ÷ host", series{e, "overlay"}, host)
	}
	if slices.Contains(engs, "berth") {
		for _, e := range engs {
			if e == "berth" {
				continue
			}
			for _, loc := range []string{"volume", "overlay"} {
				ratioRow(fmt.Sprintf("berth ÷ %s, %s", e, loc), series{"berth", loc}, series{e, loc})
			}
		}
	}
	fmt.Fprintln(w)

	if vol := (series{"berth", "volume"}); len(rates[vol]) > 0 {
		fmt.Fprintf(w, "**Target**: berth's volume within %.0f %% of the host (volume ÷ host ≥ %.2f). The interval is where 90 %% of the ratios of medians fall when each place's rounds are resampled (bootstrap): a ratio below the target whose interval reaches above it is within this run's noise.\n\n", (1-*target)*100, *target)
		opsHead("berth, volume ÷ host")
		cells := map[string][]string{}
		for _, op := range ops {
			a, h := rates[vol][op], rates[host][op]
			r := stats.Median(a) / stats.Median(h)
			lo, hi := bootstrap(a, h)
			verdict := "met"
			switch {
			case math.IsNaN(r):
				verdict = "—"
			case r < *target && hi >= *target:
				verdict = "not met, within the noise"
			case r < *target:
				verdict = "**not met**"
			}
			cells["ratio of the medians"] = append(cells["ratio of the medians"], fmt.Sprintf("%.2f", r))
			cells["90 % interval"] = append(cells["90 % interval"], fmt.Sprintf("%.2f–%.2f", lo, hi))
			cells["median of the per-round ratios"] = append(cells["median of the per-round ratios"], fmt.Sprintf("%.2f", stats.Median(perRound(byRound[vol][op], byRound[host][op]))))
			cells["verdict"] = append(cells["verdict"], verdict)
		}
		for _, row := range []string{"ratio of the medians", "90 % interval", "median of the per-round ratios", "verdict"} {
			fmt.Fprintf(w, "| %s | %s |\n", row, strings.Join(cells[row], " | "))
		}
	}
	fmt.Fprintln(w)
	return nil
}

// labels are the names engines are shown with (-label ENGINE=TEXT).
type labels map[string]string

func (l labels) String() string { return fmt.Sprint(map[string]string(l)) }

func (l labels) Set(v string) error {
	k, text, ok := strings.Cut(v, "=")
	if !ok {
		return fmt.Errorf("want ENGINE=TEXT, not %q", v)
	}
	l[k] = text
	return nil
}

func (l labels) of(k string) string {
	if text, ok := l[k]; ok {
		return text
	}
	return k
}

// ratio is median(a) ÷ median(b), and the median of a[r] ÷ b[r] over the
// rounds both have.
func ratio(a, b []float64, ar, br map[int]float64) string {
	ma, mb := stats.Median(a), stats.Median(b)
	if math.IsNaN(ma) || math.IsNaN(mb) || mb == 0 {
		return "—"
	}
	per := perRound(ar, br)
	if len(per) == 0 {
		return fmt.Sprintf("%.2f", ma/mb)
	}
	return fmt.Sprintf("%.2f (%.2f)", ma/mb, stats.Median(per))
}

// bootstrap is the 5th and 95th percentiles of median(a′) ÷ median(b′)
// over resamples a′ of a and b′ of b (with replacement, fixed seed, so a
// report is reproducible).
func bootstrap(a, b []float64) (lo, hi float64) {
	if len(a) == 0 || len(b) == 0 {
		return math.NaN(), math.NaN()
	}
	const n = 4000
	rng := rand.New(rand.NewPCG(1, 2))
	resample := func(v []float64) float64 {
		s := make([]float64, len(v))
		for i := range s {
			s[i] = v[rng.IntN(len(v))]
		}
		return stats.Median(s)
	}
	rs := make([]float64, n)
	for i := range rs {
		rs[i] = resample(a) / resample(b)
	}
	sort.Float64s(rs)
	return rs[n/20], rs[n-1-n/20]
}

// perRound is a[r] ÷ b[r] for the rounds both have.
func perRound(a, b map[int]float64) []float64 {
	var per []float64
	for r, x := range a {
		if y, ok := b[r]; ok && y > 0 {
			per = append(per, x/y)
		}
	}
	return per
}

// spread is "median (min–max)", with as many digits as the median needs.
func spread(v []float64) string {
	if len(v) == 0 {
		return "—"
	}
	lo, hi := stats.MinMax(v)
	return fmt.Sprintf("%s (%s–%s)", num(stats.Median(v)), num(lo), num(hi))
}

func num(x float64) string {
	if x >= 100 {
		return fmt.Sprintf("%.0f", x)
	}
	return fmt.Sprintf("%.1f", x)
}

// firstLast is "FIRST → LAST".
func firstLast(v []string) string {
	if len(v) == 0 {
		return "—"
	}
	return v[0] + " → " + v[len(v)-1]
}

// loadRange is the least and the most 1-minute load average seen.
func loadRange(loads []string) string {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, l := range loads {
		var x float64
		if _, err := fmt.Sscan(l, &x); err == nil {
			lo, hi = min(lo, x), max(hi, x)
		}
	}
	if math.IsInf(lo, 0) {
		return "—"
	}
	return fmt.Sprintf("%.2f–%.2f", lo, hi)
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

func trunc(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
