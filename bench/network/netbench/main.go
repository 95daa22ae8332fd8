// Command netbench is the helper of bench/network/run.sh (standard library
// only). Built static (CGO_ENABLED=0), the same binary runs in the busybox
// image as the two ends of a TCP stream, and on the host as the reporter:
//
//	netbench serve  -addr :5001                    receive streams, one after the other; reply with the byte count
//	netbench send   -addr IP:5001 -mb N [-chunk K]  send N MiB of zeros, print {"bytes":B,"seconds":S} once the server has them all
//	netbench report -runs F -tcp F -label K=TEXT... the markdown tables of the bridge's cost and of the throughput
//
// busybox nc moves data 1 KiB per system call, which caps it well below what
// the kernel can do over loopback or a bridge; send writes 128 KiB at a time
// and serve reads 256 KiB at a time, so the path, not the tool, is measured.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/berth-dev/berth/bench/internal/stats"
)

var commands = map[string]func(args []string) error{
	"serve":  cmdServe,
	"send":   cmdSend,
	"report": cmdReport,
}

func main() {
	log.SetFlags(0)
	log.SetPrefix("netbench: ")
	if len(os.Args) < 2 || commands[os.Args[1]] == nil {
		log.Fatal("usage: netbench serve|send|report [flags]")
	}
	if err := commands[os.Args[1]](os.Args[2:]); err != nil {
		log.Fatalf("%s: %v", os.Args[1], err)
	}
}

// streamTimeout bounds one stream, at either end.
const streamTimeout = 5 * time.Minute

// ---------------------------------------------------------------- serve

// cmdServe accepts connections one at a time, reads each to EOF and writes
// back the number of bytes read, as a decimal line.
func cmdServe(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	addr := fs.String("addr", ":5001", "address to listen on")
	fs.Parse(args)
	l, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	buf := make([]byte, 256<<10)
	for {
		c, err := l.Accept()
		if err != nil {
			return err
		}
		c.SetDeadline(time.Now().Add(streamTimeout))
		n, err := io.CopyBuffer(io.Discard, onlyReader{c}, buf)
		if err != nil {
			log.Printf("serve: %s: %v", c.RemoteAddr(), err)
		}
		// A sender that does not wait for the reply (busybox nc) has gone: ignore the error.
		fmt.Fprintf(c, "%d\n", n)
		c.Close()
	}
}

// onlyReader hides the connection's WriterTo/ReaderFrom, so that io.CopyBuffer
// uses the buffer given to it (256 KiB reads).
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

// ---------------------------------------------------------------- send

type sendResult struct {
	Bytes   int64   `json:"bytes"`
	Seconds float64 `json:"seconds"`
}

// cmdSend connects, writes the stream, half-closes, and waits for the
// server's count: the time runs from before the connect to the count's
// arrival, so it covers every byte delivered to the receiving process.
func cmdSend(args []string) error {
	fs := flag.NewFlagSet("send", flag.ExitOnError)
	addr := fs.String("addr", "", "server address, IP:PORT")
	mb := fs.Int64("mb", 1024, "MiB to send")
	chunk := fs.Int("chunk", 128<<10, "bytes per write")
	fs.Parse(args)
	if *addr == "" || *mb <= 0 || *chunk <= 0 {
		return errors.New("need -addr, -mb > 0 and -chunk > 0")
	}
	total := *mb << 20
	buf := make([]byte, *chunk)
	t0 := time.Now()
	c, err := net.DialTimeout("tcp", *addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(t0.Add(streamTimeout))
	for left := total; left > 0; {
		b := buf
		if int64(len(b)) > left {
			b = b[:left]
		}
		n, err := c.Write(b)
		if err != nil {
			return fmt.Errorf("after %d bytes: %w", total-left, err)
		}
		left -= int64(n)
	}
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	secs := time.Since(t0).Seconds()
	if err != nil {
		return fmt.Errorf("no count from the server: %w", err)
	}
	got, err := strconv.ParseInt(strings.TrimSpace(line), 10, 64)
	if err != nil || got != total {
		return fmt.Errorf("the server counted %q bytes, %d were sent", strings.TrimSpace(line), total)
	}
	return json.NewEncoder(os.Stdout).Encode(sendResult{Bytes: total, Seconds: secs})
}

// ---------------------------------------------------------------- report

// runsFile is the part of bench/containers/ctrbench's `time` output read here.
type runsFile struct {
	Series []struct {
		Name     string    `json:"name"`
		Wall     []float64 `json:"wall_ms"`
		Failures int       `json:"failures"`
	} `json:"series"`
}

// tcpLine is one stream, as run.sh records it.
type tcpLine struct {
	Engine  string  `json:"engine"`
	Path    string  `json:"path"` // "bridge" or "loopback"
	Tool    string  `json:"tool"` // "netbench" or "nc"
	Bytes   int64   `json:"bytes"`
	Seconds float64 `json:"seconds"`
	Err     string  `json:"err,omitempty"`
	Load    string  `json:"loadavg"`
}

func cmdReport(args []string) error {
	fs := flag.NewFlagSet("report", flag.ExitOnError)
	runs := fs.String("runs", "", "ctrbench time JSON, series NAME-bridge and NAME-none")
	tcp := fs.String("tcp", "", "JSON lines of the streams")
	target := fs.Float64("target", 5, "the most the bridge may add to berth's run, ms")
	ref := fs.String("ref", "docker", "the series the others are compared with")
	label := labels{}
	fs.Var(label, "label", "key=text (repeatable): the name of a series prefix, its short name (s:NAME), an engine's (eng:NAME) or a sender's")
	fs.Parse(args)
	if *runs != "" {
		if err := reportCost(*runs, *ref, *target, label); err != nil {
			return err
		}
	}
	if *tcp != "" {
		return reportTCP(*tcp, label)
	}
	return nil
}

// labels are the names rows are shown with (-label KEY=TEXT); a key
// without one shows as itself, less the prefix it was looked up with.
type labels map[string]string

func (l labels) String() string { return fmt.Sprint(map[string]string(l)) }

func (l labels) Set(v string) error {
	k, text, ok := strings.Cut(v, "=")
	if !ok {
		return fmt.Errorf("want KEY=TEXT, not %q", v)
	}
	l[k] = text
	return nil
}

func (l labels) of(prefix, k string) string {
	if text, ok := l[prefix+k]; ok {
		return text
	}
	return k
}

// reportCost prints, per contender, median(bridge) − median(none), and the
// median of the per-round differences (the rounds interleave both, so a
// round's pair shares the machine's state; only when neither series failed,
// or the pairs would not line up).
func reportCost(path, ref string, target float64, label labels) error {
	var rf runsFile
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, &rf); err != nil {
		return err
	}
	walls := map[string][]float64{}
	failed := map[string]int{}
	var names []string
	for _, s := range rf.Series {
		walls[s.Name], failed[s.Name] = s.Wall, s.Failures
		if base, ok := strings.CutSuffix(s.Name, "-bridge"); ok {
			names = append(names, base)
		}
	}
	cost := func(n string) (float64, bool) {
		br, no := walls[n+"-bridge"], walls[n+"-none"]
		return stats.Median(br) - stats.Median(no), len(br) > 0 && len(no) > 0
	}
	w := os.Stdout
	fmt.Fprintln(w, "**What the default bridge adds to `run --rm busybox true`** (from the rounds above):")
	fmt.Fprintln(w)
	fmt.Fprintf(w, "| contender | default network (bridge) | `--network none` | bridge cost (difference of medians) | paired: median of per-round differences (p25–p75) | cost ÷ %s's |\n", label.of("s:", ref))
	fmt.Fprintln(w, "| --- | ---: | ---: | ---: | ---: | ---: |")
	for _, n := range names {
		br, no := walls[n+"-bridge"], walls[n+"-none"]
		if len(br) == 0 || len(no) == 0 {
			fmt.Fprintf(w, "| %s | — | — | — | — | — |\n", label.of("", n))
			continue
		}
		paired := "—"
		if failed[n+"-bridge"] == 0 && failed[n+"-none"] == 0 && len(br) == len(no) {
			d := make([]float64, len(br))
			for i := range br {
				d[i] = br[i] - no[i]
			}
			sort.Float64s(d)
			paired = fmt.Sprintf("%s (%s – %s)", fms(stats.Median(d)), fms(d[len(d)/4]), fms(d[(3*len(d))/4]))
		}
		c, _ := cost(n)
		ratio := "—"
		if r, ok := cost(ref); ok && r > 0 && n != ref {
			ratio = fmt.Sprintf("%.2f×", c/r)
		}
		fmt.Fprintf(w, "| %s | %s | %s | **%s** | %s | %s |\n", label.of("", n), fms(stats.Median(br)), fms(stats.Median(no)), fms(c), paired, ratio)
	}
	fmt.Fprintln(w)
	for _, n := range names {
		c, ok := cost(n)
		if !strings.HasPrefix(n, "berth") || !ok {
			continue
		}
		verdict := "met"
		if c > target {
			verdict = "not met"
		}
		fmt.Fprintf(w, "- Target (the bridge adds at most %.0f ms): %s for %s (%s).\n", target, verdict, label.of("", n), fms(c))
	}
	fmt.Fprintln(w)
	return nil
}

func reportTCP(path string, label labels) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	type key struct{ engine, tool, path string }
	rates := map[key][]float64{}
	fails := map[key][]string{}
	var engines, tools []string
	seen := map[string]bool{}
	loads := []string{}
	for _, ln := range strings.Split(string(b), "\n") {
		if strings.TrimSpace(ln) == "" {
			continue
		}
		var t tcpLine
		if err := json.Unmarshal([]byte(ln), &t); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		for _, s := range []string{"e:" + t.Engine, "t:" + t.Tool} {
			if !seen[s] {
				seen[s] = true
				if s[0] == 'e' {
					engines = append(engines, t.Engine)
				} else {
					tools = append(tools, t.Tool)
				}
			}
		}
		if len(loads) == 0 || t.Load != loads[len(loads)-1] {
			loads = append(loads, t.Load)
		}
		k := key{t.Engine, t.Tool, t.Path}
		if t.Err != "" || t.Seconds <= 0 {
			fails[k] = append(fails[k], t.Err)
			continue
		}
		rates[k] = append(rates[k], float64(t.Bytes)/t.Seconds/1e6)
	}
	if len(loads) > 1 {
		loads = []string{loads[0], loads[len(loads)-1]}
	}
	w := os.Stdout
	fmt.Fprintf(w, "**TCP throughput, container to container** over the engine's default bridge (a second container sends to the first one's bridge address) against loopback (both ends in the first container, 127.0.0.1); MB/s = 10⁶ bytes per second: median (min–max, number of streams). Load average at the first and the last stream: %s.\n\n", strings.Join(loads, " → "))
	fmt.Fprintln(w, "| engine | sender | bridge | loopback | bridge ÷ loopback | failed |")
	fmt.Fprintln(w, "| --- | --- | ---: | ---: | ---: | --- |")
	for _, e := range engines {
		for _, tool := range tools {
			br, lo := rates[key{e, tool, "bridge"}], rates[key{e, tool, "loopback"}]
			f := append(fails[key{e, tool, "bridge"}], fails[key{e, tool, "loopback"}]...)
			if len(br)+len(lo)+len(f) == 0 {
				continue
			}
			ratio := "—"
			if len(br) > 0 && len(lo) > 0 {
				ratio = fmt.Sprintf("%.2f", stats.Median(br)/stats.Median(lo))
			}
			failed := strconv.Itoa(len(f))
			if len(f) > 0 {
				failed += ": " + strings.ReplaceAll(trunc(f[0], 100), "|", "\\|")
			}
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", label.of("eng:", e), label.of("", tool), rate(br), rate(lo), ratio, failed)
		}
	}
	fmt.Fprintln(w)
	return nil
}

func rate(v []float64) string {
	if len(v) == 0 {
		return "—"
	}
	lo, hi := stats.MinMax(v)
	return fmt.Sprintf("%.0f MB/s (%.0f–%.0f, %d)", stats.Median(v), lo, hi, len(v))
}

func fms(v float64) string {
	if v < 10 && v > -10 {
		return fmt.Sprintf("%.1f ms", v)
	}
	return fmt.Sprintf("%.0f ms", v)
}

func trunc(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
