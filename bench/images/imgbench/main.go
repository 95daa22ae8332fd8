// Command imgbench is the helper of bench/images/run.sh.
//
//	imgbench mkimage -dir DIR [-scale 1] [-tag NAME]
//	    writes DIR/image.tar (a "docker save" archive of about 500 MB in 10
//	    layers of random bytes), DIR/image.tar.gz (the same archive
//	    gzipped, as `docker save | gzip` gives) and DIR/image-gzlayers.tar
//	    (the same image with gzip-compressed layer tars inside), plus
//	    DIR/image.json describing them.
//	imgbench run -out FILE -engine NAME -variant V -iter I [-watch PIDS] [-hwm PIDS] [-sync] -- CMD ARGS...
//	    runs CMD once and appends one JSON line to FILE: wall time, exit
//	    status, the command's own rusage, the CPU time the watched processes
//	    (and the children they reaped) used meanwhile, their peak RSS
//	    (VmHWM, reset through /proc/PID/clear_refs before the run) and the
//	    peak of the summed VmRSS of the watched processes and all their
//	    descendants, sampled every -interval. With -sync it calls sync(2)
//	    before the command (not timed: no dirty pages of an earlier run are
//	    written back during this one) and again after it, timed: the time
//	    the engine's unsynced writes take to reach the disk. It also records
//	    the CPU time the whole machine used meanwhile (/proc/stat), so that
//	    the work of other processes during a run can be told apart.
//	imgbench mem -out FILE -engine NAME -when WHEN -pids PIDS
//	    appends the RSS and PSS of the given processes (one JSON line).
//	imgbench report -runs FILE -mem FILE -image DIR/image.json [-label engine=text ...] [-order a,b,c]
//	        [-unavail engine=why ...] [-unsupported engine/variant=why ...] [-disk engine=bytes ...]
//	    prints a line describing the image and the markdown table.
//
// The only dependency is the standard library.
package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/berth-dev/berth/bench/internal/stats"
)

type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(s string) error { *m = append(*m, s); return nil }

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: imgbench mkimage|run|mem|report ...")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "mkimage":
		err = mkimage(os.Args[2:])
	case "run":
		err = run(os.Args[2:])
	case "mem":
		err = mem(os.Args[2:])
	case "report":
		err = report(os.Args[2:])
	default:
		err = fmt.Errorf("unknown subcommand %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "imgbench:", err)
		os.Exit(1)
	}
}

// ---------------------------------------------------------------- mkimage

const mib = 1 << 20

// layerSpec is one layer: some big files and/or many small ones.
type layerSpec struct {
	What      string  // for the description
	Big       []int64 // sizes of big files, bytes
	Small     int     // number of small files
	SmallMin  int64   // their size range, bytes
	SmallMax  int64
	Whiteouts bool // delete some files of layer 3 and make one directory opaque
}

// spec is the image: about 500 MB in 10 layers, a mix of layers of one big
// file and layers of thousands of small files.
var spec = []layerSpec{
	{What: "3000 files of 1-16 KiB in 60 dirs, symlinks", Small: 3000, SmallMin: 1 << 10, SmallMax: 16 << 10},
	{What: "one 120 MiB file", Big: []int64{120 * mib}},
	{What: "8000 files of 0.5-8 KiB", Small: 8000, SmallMin: 512, SmallMax: 8 << 10},
	{What: "one 80 MiB file", Big: []int64{80 * mib}},
	{What: "40 files of 1 MiB", Big: repeat(40, mib)},
	{What: "one 60 MiB file", Big: []int64{60 * mib}},
	{What: "5000 files of 1-7 KiB, whiteouts, an opaque dir", Small: 5000, SmallMin: 1 << 10, SmallMax: 7 << 10, Whiteouts: true},
	{What: "two 30 MiB files", Big: []int64{30 * mib, 30 * mib}},
	{What: "200 files of 100 KiB", Big: repeat(200, 100<<10)},
	{What: "one 40 MiB file and a few small ones", Big: []int64{40 * mib}, Small: 20, SmallMin: 100, SmallMax: 4 << 10},
}

func repeat(n int, size int64) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = size
	}
	return out
}

// LayerInfo describes one layer written.
type LayerInfo struct {
	What      string `json:"what"`
	Files     int    `json:"files"`
	FileBytes int64  `json:"file_bytes"`
	TarBytes  int64  `json:"tar_bytes"`
	GzBytes   int64  `json:"gz_bytes"`
	DiffID    string `json:"diff_id"`
	GzDigest  string `json:"gz_digest"`
}

// ImageInfo is DIR/image.json.
type ImageInfo struct {
	Tag          string      `json:"tag"`
	Scale        float64     `json:"scale"`
	Layers       []LayerInfo `json:"layers"`
	Files        int         `json:"files"`
	FileBytes    int64       `json:"file_bytes"`
	TarBytes     int64       `json:"archive_bytes"`
	TarGzBytes   int64       `json:"archive_gz_bytes"`
	GzLayerBytes int64       `json:"archive_gzlayers_bytes"`
	ConfigDigest string      `json:"config_digest"`
}

func mkimage(args []string) error {
	fs := flag.NewFlagSet("mkimage", flag.ExitOnError)
	dir := fs.String("dir", "", "output directory")
	scale := fs.Float64("scale", 1, "scale every size and count by this (0.05 for a quick try)")
	tag := fs.String("tag", "berth-bench/images:latest", "image name")
	_ = fs.Parse(args)
	if *dir == "" {
		return errors.New("-dir is needed")
	}
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		return err
	}
	stage, err := os.MkdirTemp(*dir, "stage-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(stage)

	info := ImageInfo{Tag: *tag, Scale: *scale}
	smallNames := []string{} // files of layer 3, for the whiteouts of layer 7
	for i, ls := range spec {
		li, names, err := writeLayer(stage, i, ls, *scale, smallNames)
		if err != nil {
			return fmt.Errorf("layer %d: %w", i+1, err)
		}
		if i == 2 {
			smallNames = names
		}
		info.Layers = append(info.Layers, li)
		info.Files += li.Files
		info.FileBytes += li.FileBytes
		fmt.Fprintf(os.Stderr, "imgbench: layer %2d: %5d files, %7.1f MB tar  (%s)\n", i+1, li.Files, float64(li.TarBytes)/1e6, li.What)
	}

	// The config, as docker build would write it (trimmed).
	type hist struct {
		Created   string `json:"created"`
		CreatedBy string `json:"created_by"`
	}
	var diffIDs []string
	var history []hist
	for i, l := range info.Layers {
		diffIDs = append(diffIDs, l.DiffID)
		history = append(history, hist{"2026-01-01T00:00:00Z", fmt.Sprintf("/bin/sh -c #(nop) layer %d: %s", i+1, l.What)})
	}
	cfg := map[string]any{
		"architecture": "amd64",
		"os":           "linux",
		"created":      "2026-01-01T00:00:00Z",
		"config": map[string]any{
			"Env":        []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
			"Cmd":        []string{"/bin/sh"},
			"WorkingDir": "/",
		},
		"rootfs":  map[string]any{"type": "layers", "diff_ids": diffIDs},
		"history": history,
	}
	cfgJSON, err := json.Marshal(cfg)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(cfgJSON)
	cfgHex := hex.EncodeToString(sum[:])
	info.ConfigDigest = "sha256:" + cfgHex

	for _, v := range []struct {
		name string
		gz   bool
	}{{"image.tar", false}, {"image-gzlayers.tar", true}} {
		n, err := writeArchive(filepath.Join(*dir, v.name), stage, info, cfgHex, cfgJSON, v.gz)
		if err != nil {
			return err
		}
		if v.gz {
			info.GzLayerBytes = n
		} else {
			info.TarBytes = n
		}
	}
	n, err := gzipFile(filepath.Join(*dir, "image.tar"), filepath.Join(*dir, "image.tar.gz"))
	if err != nil {
		return err
	}
	info.TarGzBytes = n
	b, _ := json.MarshalIndent(info, "", "  ")
	return os.WriteFile(filepath.Join(*dir, "image.json"), append(b, '\n'), 0o644)
}

// randFile streams n random bytes (from the kernel's getrandom, as
// /dev/urandom gives them).
func randBytes(w io.Writer, n int64, buf []byte) error {
	for n > 0 {
		b := buf[:min(int64(len(buf)), n)]
		if _, err := rand.Read(b); err != nil {
			return err
		}
		if _, err := w.Write(b); err != nil {
			return err
		}
		n -= int64(len(b))
	}
	return nil
}

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// writeLayer writes stage/layerN.tar and stage/layerN.tar.gz.
func writeLayer(stage string, idx int, ls layerSpec, scale float64, prev []string) (LayerInfo, []string, error) {
	li := LayerInfo{What: ls.What}
	tarPath := filepath.Join(stage, fmt.Sprintf("layer%d.tar", idx+1))
	f, err := os.Create(tarPath)
	if err != nil {
		return li, nil, err
	}
	defer f.Close()
	h := sha256.New()
	cw := &countWriter{w: io.MultiWriter(f, h)}
	bw := bufio.NewWriterSize(cw, 1<<20)
	tw := tar.NewWriter(bw)
	buf := make([]byte, 1<<20)
	rng := mrand.New(mrand.NewPCG(uint64(idx+1), 42)) // sizes and names only

	dirs := map[string]bool{}
	mkdirs := func(p string) error {
		var parts []string
		for d := filepath.Dir(p); d != "." && d != "/"; d = filepath.Dir(d) {
			parts = append(parts, d)
		}
		for i := len(parts) - 1; i >= 0; i-- {
			if dirs[parts[i]] {
				continue
			}
			dirs[parts[i]] = true
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: parts[i] + "/", Mode: 0o755, ModTime: epoch, Format: tar.FormatPAX}); err != nil {
				return err
			}
		}
		return nil
	}
	file := func(name string, size int64, mode int64) error {
		if err := mkdirs(name); err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Size: size, Mode: mode, ModTime: epoch, Format: tar.FormatPAX}); err != nil {
			return err
		}
		li.Files++
		li.FileBytes += size
		return randBytes(tw, size, buf)
	}
	top := fmt.Sprintf("layer%02d", idx+1)

	if ls.Whiteouts && len(prev) > 0 {
		// Delete every 50th file of layer 3, and make one of its
		// directories opaque (overlay: trusted.overlay.opaque).
		for i := 0; i < len(prev); i += 50 {
			d, b := filepath.Split(prev[i])
			wh := filepath.Join(d, ".wh."+b)
			if err := mkdirs(wh); err != nil {
				return li, nil, err
			}
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: wh, Mode: 0o644, ModTime: epoch, Format: tar.FormatPAX}); err != nil {
				return li, nil, err
			}
		}
		od := filepath.Dir(prev[len(prev)-1])
		if err := mkdirs(filepath.Join(od, "x")); err != nil {
			return li, nil, err
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: filepath.Join(od, ".wh..wh..opq"), Mode: 0o644, ModTime: epoch, Format: tar.FormatPAX}); err != nil {
			return li, nil, err
		}
	}
	for i, sz := range ls.Big {
		n := int64(math.Max(1, float64(sz)*scale))
		if err := file(fmt.Sprintf("opt/%s/big-%03d.bin", top, i), n, 0o644); err != nil {
			return li, nil, err
		}
	}
	nsmall := int(math.Round(float64(ls.Small) * scale))
	if ls.Small > 0 && nsmall == 0 {
		nsmall = 1
	}
	var names []string
	ndirs := max(1, nsmall/50)
	for i := 0; i < nsmall; i++ {
		size := ls.SmallMin + rng.Int64N(ls.SmallMax-ls.SmallMin+1)
		name := fmt.Sprintf("usr/share/%s/d%03d/s%02d/f%05d.dat", top, i%ndirs, (i/ndirs)%8, i)
		mode := int64(0o644)
		if i%17 == 0 {
			mode = 0o755
		}
		if err := file(name, size, mode); err != nil {
			return li, nil, err
		}
		names = append(names, name)
		if idx == 0 && i%100 == 0 { // some symlinks and hard links, as a base layer has
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: name + ".lnk", Linkname: filepath.Base(name), Mode: 0o777, ModTime: epoch, Format: tar.FormatPAX}); err != nil {
				return li, nil, err
			}
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeLink, Name: name + ".hard", Linkname: name, Mode: 0o644, ModTime: epoch, Format: tar.FormatPAX}); err != nil {
				return li, nil, err
			}
		}
	}
	if err := tw.Close(); err != nil {
		return li, nil, err
	}
	if err := bw.Flush(); err != nil {
		return li, nil, err
	}
	if err := f.Close(); err != nil {
		return li, nil, err
	}
	li.TarBytes = cw.n
	li.DiffID = "sha256:" + hex.EncodeToString(h.Sum(nil))

	n, err := gzipFile(tarPath, tarPath+".gz")
	if err != nil {
		return li, nil, err
	}
	li.GzBytes = n
	gf, err := os.Open(tarPath + ".gz")
	if err != nil {
		return li, nil, err
	}
	gh := sha256.New()
	_, err = io.Copy(gh, gf)
	gf.Close()
	if err != nil {
		return li, nil, err
	}
	li.GzDigest = "sha256:" + hex.EncodeToString(gh.Sum(nil))
	return li, names, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// gzipFile gzips src to dst (level 1, as a quick `gzip -1`) and returns the
// size written.
func gzipFile(src, dst string) (int64, error) {
	in, err := os.Open(src)
	if err != nil {
		return 0, err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return 0, err
	}
	defer out.Close()
	cw := &countWriter{w: out}
	bw := bufio.NewWriterSize(cw, 1<<20)
	zw, _ := gzip.NewWriterLevel(bw, gzip.BestSpeed)
	if _, err := io.Copy(zw, in); err != nil {
		return 0, err
	}
	if err := zw.Close(); err != nil {
		return 0, err
	}
	if err := bw.Flush(); err != nil {
		return 0, err
	}
	return cw.n, out.Close()
}

// writeArchive writes a "docker save" archive as Docker before 25 wrote
// them: <id>/layer.tar (+ json, VERSION), <config hex>.json, manifest.json,
// repositories. With gz, the layer.tar files are the gzipped layers.
func writeArchive(path, stage string, info ImageInfo, cfgHex string, cfgJSON []byte, gz bool) (int64, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	cw := &countWriter{w: f}
	bw := bufio.NewWriterSize(cw, 1<<20)
	tw := tar.NewWriter(bw)
	put := func(name string, data []byte) error {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Size: int64(len(data)), Mode: 0o644, ModTime: epoch}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	var layerPaths []string
	parent := ""
	for i, l := range info.Layers {
		id := sha256.Sum256([]byte(parent + l.DiffID))
		idHex := hex.EncodeToString(id[:])
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: idHex + "/", Mode: 0o755, ModTime: epoch}); err != nil {
			return 0, err
		}
		if err := put(idHex+"/VERSION", []byte("1.0")); err != nil {
			return 0, err
		}
		v1 := map[string]any{"id": idHex, "created": "2026-01-01T00:00:00Z"}
		if parent != "" {
			v1["parent"] = parent
		}
		v1JSON, _ := json.Marshal(v1)
		if err := put(idHex+"/json", v1JSON); err != nil {
			return 0, err
		}
		src := filepath.Join(stage, fmt.Sprintf("layer%d.tar", i+1))
		if gz {
			src += ".gz"
		}
		st, err := os.Stat(src)
		if err != nil {
			return 0, err
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: idHex + "/layer.tar", Size: st.Size(), Mode: 0o644, ModTime: epoch}); err != nil {
			return 0, err
		}
		lf, err := os.Open(src)
		if err != nil {
			return 0, err
		}
		_, err = io.Copy(tw, lf)
		lf.Close()
		if err != nil {
			return 0, err
		}
		layerPaths = append(layerPaths, idHex+"/layer.tar")
		parent = idHex
	}
	if err := put(cfgHex+".json", cfgJSON); err != nil {
		return 0, err
	}
	manifest, _ := json.Marshal([]map[string]any{{
		"Config":   cfgHex + ".json",
		"RepoTags": []string{info.Tag},
		"Layers":   layerPaths,
	}})
	if err := put("manifest.json", manifest); err != nil {
		return 0, err
	}
	repo, tagName, _ := strings.Cut(info.Tag, ":")
	repos, _ := json.Marshal(map[string]map[string]string{repo: {tagName: parent}})
	if err := put("repositories", repos); err != nil {
		return 0, err
	}
	if err := tw.Close(); err != nil {
		return 0, err
	}
	if err := bw.Flush(); err != nil {
		return 0, err
	}
	return cw.n, f.Close()
}

// ---------------------------------------------------------------- /proc

var clkTck = 100.0 // USER_HZ; 100 on every Linux architecture berth runs on

// cpuTicks returns utime+stime+cutime+cstime of pid, in clock ticks.
func cpuTicks(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("bad /proc/%d/stat", pid)
	}
	f := strings.Fields(s[i+1:]) // f[0] is field 3 (state)
	var sum int64
	for _, k := range []int{14, 15, 16, 17} {
		v, err := strconv.ParseInt(f[k-3], 10, 64)
		if err != nil {
			return 0, err
		}
		sum += v
	}
	return sum, nil
}

// statusKB returns a "kB" field of /proc/PID/status.
func statusKB(pid int, field string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			v = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB"))
			return strconv.ParseInt(v, 10, 64)
		}
	}
	return 0, nil // kernel threads, zombies
}

// pssKB returns the Pss of /proc/PID/smaps_rollup.
func pssKB(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Pss:"); ok {
			v = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB"))
			return strconv.ParseInt(v, 10, 64)
		}
	}
	return 0, nil
}

// tree returns roots and all their descendants.
func tree(roots []int) []int {
	children := map[int][]int{}
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
		if len(f) < 2 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		children[ppid] = append(children[ppid], pid)
	}
	var out []int
	seen := map[int]bool{}
	var walk func(int)
	walk = func(p int) {
		if seen[p] {
			return
		}
		seen[p] = true
		out = append(out, p)
		for _, c := range children[p] {
			walk(c)
		}
	}
	for _, r := range roots {
		walk(r)
	}
	return out
}

func parsePIDs(s string) ([]int, error) {
	var out []int
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		p, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("bad pid %q", f)
		}
		out = append(out, p)
	}
	return out, nil
}

// ---------------------------------------------------------------- run

// Run is one measured command (one JSON line of the runs file).
type Run struct {
	Engine    string  `json:"engine"`
	Variant   string  `json:"variant"`
	Iter      int     `json:"iter"`
	Exit      int     `json:"exit"`
	Signal    string  `json:"signal,omitempty"`
	Stderr    string  `json:"stderr,omitempty"`
	Stdout    string  `json:"stdout,omitempty"`
	WallMS    float64 `json:"wall_ms"`
	CmdCPUMS  float64 `json:"cmd_cpu_ms"`    // the command and the children it reaped
	CmdRSSKB  int64   `json:"cmd_maxrss_kb"` // ru_maxrss of the command
	DaemonCPU float64 `json:"daemon_cpu_ms"` // watched processes, incl. children they reaped
	HWMKB     int64   `json:"daemon_hwm_kb"` // sum of VmHWM of the -hwm processes
	TreePeak  int64   `json:"tree_peak_kb"`  // peak of sum(VmRSS) over watched trees, sampled
	Samples   int     `json:"samples"`
	SyncMS    float64 `json:"sync_ms,omitempty"` // sync(2) after the command (-sync)
	HostMS    float64 `json:"host_busy_ms"`      // CPU time of the whole machine (all but idle, iowait, steal)
	StealMS   float64 `json:"host_steal_ms"`     // time the hypervisor ran something else
}

// hostCPU returns the busy and steal time of all CPUs so far, in clock
// ticks, from the first line of /proc/stat.
func hostCPU() (busy, steal int64, err error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal ...
	if len(f) < 9 || f[0] != "cpu" {
		return 0, 0, errors.New("unexpected /proc/stat")
	}
	v := make([]int64, 9)
	for i := 1; i < 9; i++ {
		if v[i], err = strconv.ParseInt(f[i], 10, 64); err != nil {
			return 0, 0, err
		}
	}
	return v[1] + v[2] + v[3] + v[6] + v[7], v[8], nil
}

func run(args []string) error {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	out := fs.String("out", "", "append the JSON line here")
	engine := fs.String("engine", "", "engine name")
	variant := fs.String("variant", "", "archive variant")
	iter := fs.Int("iter", 0, "iteration")
	watchS := fs.String("watch", "", "pids whose CPU and tree RSS to follow (comma separated)")
	hwmS := fs.String("hwm", "", "pids whose VmHWM to reset and read")
	interval := fs.Duration("interval", 50*time.Millisecond, "RSS sampling interval")
	doSync := fs.Bool("sync", false, "sync(2) before the command (untimed) and after it (timed)")
	_ = fs.Parse(args)
	argv := fs.Args()
	if len(argv) == 0 || *out == "" {
		return errors.New("usage: run -out FILE ... -- CMD ARGS")
	}
	watch, err := parsePIDs(*watchS)
	if err != nil {
		return err
	}
	hwm, err := parsePIDs(*hwmS)
	if err != nil {
		return err
	}
	for _, p := range hwm {
		if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", p), []byte("5"), 0); err != nil {
			return fmt.Errorf("resetting the peak RSS of %d: %w", p, err)
		}
	}
	cpu0 := map[int]int64{}
	for _, p := range watch {
		if cpu0[p], err = cpuTicks(p); err != nil {
			return err
		}
	}

	r := Run{Engine: *engine, Variant: *variant, Iter: *iter}
	var peak int64
	var samples int
	stop := make(chan struct{})
	var wg sync.WaitGroup
	if len(watch) > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.NewTicker(*interval)
			defer t.Stop()
			for {
				var sum int64
				for _, p := range tree(watch) {
					v, _ := statusKB(p, "VmRSS")
					sum += v
				}
				peak = max(peak, sum)
				samples++
				select {
				case <-stop:
					return
				case <-t.C:
				}
			}
		}()
	}

	if *doSync {
		syscall.Sync()
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	busy0, steal0, err := hostCPU()
	if err != nil {
		return err
	}
	t0 := time.Now()
	err = cmd.Run()
	r.WallMS = ms(time.Since(t0))
	busy1, steal1, herr := hostCPU()
	if herr != nil {
		return herr
	}
	r.HostMS = float64(busy1-busy0) / clkTck * 1000
	r.StealMS = float64(steal1-steal0) / clkTck * 1000
	close(stop)
	wg.Wait()
	if *doSync {
		t1 := time.Now()
		syscall.Sync()
		r.SyncMS = ms(time.Since(t1))
	}
	r.TreePeak, r.Samples = peak, samples
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		return err
	}
	ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if ws.Signaled() {
		r.Signal = ws.Signal().String()
	}
	r.Exit = ws.ExitStatus()
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.CmdRSSKB = ru.Maxrss
		r.CmdCPUMS = float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e6
	}
	for _, p := range watch {
		c, err := cpuTicks(p)
		if err != nil {
			return err
		}
		r.DaemonCPU += float64(c-cpu0[p]) / clkTck * 1000
	}
	for _, p := range hwm {
		v, err := statusKB(p, "VmHWM")
		if err != nil {
			return err
		}
		r.HWMKB += v
	}
	r.Stdout = lastLine(stdout.String())
	if r.Exit != 0 || r.Signal != "" {
		r.Stderr = strings.TrimSpace(stderr.String())
		if len(r.Stderr) > 2000 {
			r.Stderr = r.Stderr[:2000]
		}
	}
	if err := appendJSON(*out, r); err != nil {
		return err
	}
	status := "ok"
	if r.Exit != 0 || r.Signal != "" {
		status = fmt.Sprintf("FAILED (exit %d %s): %s", r.Exit, r.Signal, firstLine(r.Stderr))
	}
	syncNote := ""
	if *doSync {
		syncNote = fmt.Sprintf(" (+ sync %.2f s)", r.SyncMS/1000)
	}
	fmt.Fprintf(os.Stderr, "[bench]   %-7s %-9s #%d  %7.2f s%s  %s\n", r.Engine, r.Variant, r.Iter, r.WallMS/1000, syncNote, status)
	return nil
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return s
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}

func ms(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }

func appendJSON(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// ---------------------------------------------------------------- mem

// Mem is one memory reading of an engine's daemons.
type Mem struct {
	Engine string           `json:"engine"`
	When   string           `json:"when"`
	RSSKB  int64            `json:"rss_kb"`
	PSSKB  int64            `json:"pss_kb"`
	Procs  map[string]int64 `json:"procs_rss_kb"` // comm -> RSS
}

func mem(args []string) error {
	fs := flag.NewFlagSet("mem", flag.ExitOnError)
	out := fs.String("out", "", "append the JSON line here")
	engine := fs.String("engine", "", "engine name")
	when := fs.String("when", "", "label of the moment")
	pidsS := fs.String("pids", "", "daemon pids (their descendants are counted too)")
	_ = fs.Parse(args)
	pids, err := parsePIDs(*pidsS)
	if err != nil {
		return err
	}
	m := Mem{Engine: *engine, When: *when, Procs: map[string]int64{}}
	for _, p := range tree(pids) {
		rss, err := statusKB(p, "VmRSS")
		if err != nil {
			return err
		}
		pss, _ := pssKB(p)
		comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", p))
		m.RSSKB += rss
		m.PSSKB += pss
		m.Procs[strings.TrimSpace(string(comm))] += rss
	}
	return appendJSON(*out, m)
}

// ---------------------------------------------------------------- report

func readLines[T any](path string) ([]T, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []T
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var v T
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		out = append(out, v)
	}
	return out, sc.Err()
}

func report(args []string) error {
	fs := flag.NewFlagSet("report", flag.ExitOnError)
	runsPath := fs.String("runs", "", "runs JSON lines")
	memPath := fs.String("mem", "", "memory JSON lines")
	imgPath := fs.String("image", "", "image.json")
	order := fs.String("order", "berth,docker,podman", "engine columns")
	variants := fs.String("variants", "tar,tar.gz,gzlayers", "variants, in order")
	var labels, unavail, unsupported, disk multi
	fs.Var(&labels, "label", "engine=column heading (repeatable)")
	fs.Var(&unavail, "unavail", "engine=reason it was not measured (repeatable)")
	fs.Var(&unsupported, "unsupported", "engine/variant=reason that variant was not measured (repeatable)")
	fs.Var(&disk, "disk", "engine=bytes its store took after one load (repeatable)")
	_ = fs.Parse(args)

	runs, err := readLines[Run](*runsPath)
	if err != nil {
		return err
	}
	var mems []Mem
	if *memPath != "" {
		if mems, err = readLines[Mem](*memPath); err != nil && !os.IsNotExist(err) {
			return err
		}
	}
	var img ImageInfo
	if *imgPath != "" {
		b, err := os.ReadFile(*imgPath)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(b, &img); err != nil {
			return err
		}
	}
	engines := strings.Split(*order, ",")
	label := map[string]string{}
	for _, e := range engines {
		label[e] = e
	}
	for _, l := range labels {
		k, v, _ := strings.Cut(l, "=")
		label[k] = v
	}
	why := map[string]string{}
	for _, l := range unavail {
		k, v, _ := strings.Cut(l, "=")
		why[k] = v
	}
	peers := []string{}
	for _, e := range engines[1:] {
		peers = append(peers, e)
	}
	type key struct{ e, v string }
	unsup := map[key]string{}
	for _, l := range unsupported {
		k, v, _ := strings.Cut(l, "=")
		e, vr, _ := strings.Cut(k, "/")
		unsup[key{e, vr}] = v
	}
	diskMB := map[string]float64{}
	for _, l := range disk {
		k, v, _ := strings.Cut(l, "=")
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			diskMB[k] = float64(n) / 1e6
		}
	}
	if img.Tag != "" {
		fmt.Printf("Image: %s, %d layers, %d files, %.0f MB of file data (random bytes); archives: plain %.0f MB, gzipped %.0f MB, with gzip layers %.0f MB.\n\n",
			img.Tag, len(img.Layers), img.Files, float64(img.FileBytes)/1e6,
			float64(img.TarBytes)/1e6, float64(img.TarGzBytes)/1e6, float64(img.GzLayerBytes)/1e6)
	}

	// Per engine and variant: the successful runs' figures.
	ok := map[key][]Run{}
	fails := map[key]int{}
	total := map[key]int{}
	for _, r := range runs {
		k := key{r.Engine, r.Variant}
		total[k]++
		if r.Exit != 0 || r.Signal != "" {
			fails[k]++
			continue
		}
		ok[k] = append(ok[k], r)
	}
	col := func(f func(rs []Run) (float64, bool), format string, e, v string) string {
		if why[e] != "" || unsup[key{e, v}] != "" {
			return "—"
		}
		rs := ok[key{e, v}]
		if len(rs) == 0 {
			return "—"
		}
		x, good := f(rs)
		if !good || math.IsNaN(x) {
			return "—"
		}
		return fmt.Sprintf(format, x)
	}
	ratio := func(f func(rs []Run) (float64, bool), a, b, v string) string {
		ra, rb := ok[key{a, v}], ok[key{b, v}]
		if len(ra) == 0 || len(rb) == 0 || why[a] != "" || why[b] != "" || unsup[key{a, v}] != "" || unsup[key{b, v}] != "" {
			return "—"
		}
		x, g1 := f(ra)
		y, g2 := f(rb)
		if !g1 || !g2 || y == 0 {
			return "—"
		}
		return fmt.Sprintf("%.2f", x/y)
	}
	pick := func(get func(Run) float64, agg func([]float64) float64) func([]Run) (float64, bool) {
		return func(rs []Run) (float64, bool) {
			var xs []float64
			for _, r := range rs {
				xs = append(xs, get(r))
			}
			return agg(xs), true
		}
	}
	minOf := func(xs []float64) float64 { lo, _ := stats.MinMax(xs); return lo }
	wall := func(r Run) float64 { return r.WallMS / 1000 }
	wallSync := func(r Run) float64 { return (r.WallMS + r.SyncMS) / 1000 }
	synced := false
	for _, r := range runs {
		synced = synced || r.SyncMS > 0
	}
	// CPU of the whole engine: the daemon(s) plus the CLI.
	cpu := func(r Run) float64 { return (r.DaemonCPU + r.CmdCPUMS) / 1000 }
	// The machine's CPU time less the engine's: other processes, the
	// helper's sampling and the kernel's threads (writeback among them).
	others := func(r Run) float64 { return max(0, r.HostMS-r.DaemonCPU-r.CmdCPUMS) / 1000 }
	// Peak RSS of the engine during the load: the daemon's VmHWM (berth),
	// the sampled tree of dockerd + containerd (docker), the CLI's own
	// maxrss (podman, which has no daemon).
	peak := func(r Run) float64 {
		switch {
		case r.HWMKB > 0 && r.Engine == "berth":
			return float64(r.HWMKB) / 1024
		case r.TreePeak > 0:
			return float64(r.TreePeak) / 1024
		}
		return float64(r.CmdRSSKB) / 1024
	}

	var hdr strings.Builder
	hdr.WriteString("| figure |")
	sep := "|---|"
	for _, e := range engines {
		hdr.WriteString(" " + label[e] + " |")
		sep += "---:|"
	}
	for _, p := range peers {
		hdr.WriteString(fmt.Sprintf(" %s ÷ %s |", engines[0], p))
		sep += "---:|"
	}
	fmt.Println(hdr.String())
	fmt.Println(sep)
	row := func(name string, f func([]Run) (float64, bool), format, v string, withRatio bool) {
		var b strings.Builder
		b.WriteString("| " + name + " |")
		for _, e := range engines {
			b.WriteString(" " + col(f, format, e, v) + " |")
		}
		for _, p := range peers {
			if withRatio {
				b.WriteString(" " + ratio(f, engines[0], p, v) + " |")
			} else {
				b.WriteString(" — |")
			}
		}
		fmt.Println(b.String())
	}
	vdesc := map[string]string{
		"tar":      "plain `docker save` archive",
		"tar.gz":   "the archive gzipped",
		"gzlayers": "gzip-compressed layer tars",
	}
	for _, v := range strings.Split(*variants, ",") {
		present := false
		for k := range total {
			if k.v == v {
				present = true
			}
		}
		if !present {
			continue
		}
		d := vdesc[v]
		row(fmt.Sprintf("`load` %s: median wall (s)", d), pick(wall, stats.Median), "%.2f", v, true)
		{
			var b strings.Builder
			b.WriteString(fmt.Sprintf("| `load` %s: min / max wall (s) |", d))
			for _, e := range engines {
				rs := ok[key{e, v}]
				if why[e] != "" || unsup[key{e, v}] != "" || len(rs) == 0 {
					b.WriteString(" — |")
					continue
				}
				var xs []float64
				for _, r := range rs {
					xs = append(xs, wall(r))
				}
				lo, hi := stats.MinMax(xs)
				b.WriteString(fmt.Sprintf(" %.2f / %.2f |", lo, hi))
			}
			for _, p := range peers {
				x := ratio(pick(wall, minOf), engines[0], p, v)
				if x != "—" {
					x += " (min)"
				}
				b.WriteString(" " + x + " |")
			}
			fmt.Println(b.String())
		}
		if synced {
			row(fmt.Sprintf("`load` %s, then `sync`: median wall (s)", d), pick(wallSync, stats.Median), "%.2f", v, true)
		}
		row(fmt.Sprintf("`load` %s: engine CPU user+sys, median (s)", d), pick(cpu, stats.Median), "%.2f", v, true)
		row(fmt.Sprintf("`load` %s: engine peak RSS, median (MB)", d), pick(peak, stats.Median), "%.0f", v, true)
		row(fmt.Sprintf("`load` %s: CPU of everything else on the machine meanwhile, median (s)", d), pick(others, stats.Median), "%.2f", v, false)
		var b strings.Builder
		b.WriteString(fmt.Sprintf("| `load` %s: failures / runs |", d))
		for _, e := range engines {
			if why[e] != "" {
				b.WriteString(" " + why[e] + " |")
				continue
			}
			if unsup[key{e, v}] != "" {
				b.WriteString(" cannot load it |")
				continue
			}
			b.WriteString(fmt.Sprintf(" %d / %d |", fails[key{e, v}], total[key{e, v}]))
		}
		for range peers {
			b.WriteString(" — |")
		}
		fmt.Println(b.String())
	}

	if len(diskMB) > 0 {
		var b strings.Builder
		b.WriteString("| store on disk after one load of the plain archive (MB) |")
		for _, e := range engines {
			if x, okd := diskMB[e]; okd && why[e] == "" {
				b.WriteString(fmt.Sprintf(" %.0f |", x))
			} else {
				b.WriteString(" — |")
			}
		}
		for _, p := range peers {
			x, ok1 := diskMB[engines[0]]
			y, ok2 := diskMB[p]
			if ok1 && ok2 && y > 0 && why[engines[0]] == "" && why[p] == "" {
				b.WriteString(fmt.Sprintf(" %.2f |", x/y))
			} else {
				b.WriteString(" — |")
			}
		}
		fmt.Println(b.String())
	}

	defer func() {
		var ks []key
		for k := range unsup {
			ks = append(ks, k)
		}
		sort.Slice(ks, func(i, j int) bool { return ks[i].e+ks[i].v < ks[j].e+ks[j].v })
		if len(ks) > 0 {
			fmt.Println()
		}
		for _, k := range ks {
			fmt.Printf("- %s, %s: %s\n", label[k.e], vdesc[k.v], unsup[k])
		}
	}()

	// Memory of the idle daemons.
	whens := []string{}
	seenWhen := map[string]bool{}
	memBy := map[key]Mem{}
	for _, m := range mems {
		if !seenWhen[m.When] {
			seenWhen[m.When] = true
			whens = append(whens, m.When)
		}
		memBy[key{m.Engine, m.When}] = m
	}
	for _, w := range whens {
		for _, kind := range []string{"RSS", "PSS"} {
			var b strings.Builder
			b.WriteString(fmt.Sprintf("| idle daemons %s, %s (MB) |", w, kind))
			vals := map[string]float64{}
			for _, e := range engines {
				m, okm := memBy[key{e, w}]
				if !okm || why[e] != "" {
					if e == "podman" {
						b.WriteString(" no daemon |")
					} else {
						b.WriteString(" — |")
					}
					continue
				}
				v := float64(m.RSSKB) / 1024
				if kind == "PSS" {
					v = float64(m.PSSKB) / 1024
				}
				vals[e] = v
				if kind == "RSS" && len(m.Procs) > 1 {
					var parts []string
					names := make([]string, 0, len(m.Procs))
					for n := range m.Procs {
						names = append(names, n)
					}
					sort.Strings(names)
					for _, n := range names {
						parts = append(parts, fmt.Sprintf("%s %.0f", n, float64(m.Procs[n])/1024))
					}
					b.WriteString(fmt.Sprintf(" %.0f (%s) |", v, strings.Join(parts, " + ")))
				} else {
					b.WriteString(fmt.Sprintf(" %.0f |", v))
				}
			}
			for _, p := range peers {
				x, ok1 := vals[engines[0]]
				y, ok2 := vals[p]
				if ok1 && ok2 && y > 0 {
					b.WriteString(fmt.Sprintf(" %.2f |", x/y))
				} else {
					b.WriteString(" — |")
				}
			}
			fmt.Println(b.String())
		}
	}
	return nil
}
