package runtime

import (
	"os"
	"regexp"
	"strconv"
	"syscall"
	"testing"
)

// TestErrtabMatchesGo: errtab.c, the C code's errno texts, says what Go says
// for every errno (go generate ./runtime rewrites it).
func TestErrtabMatchesGo(t *testing.T) {
	b, err := os.ReadFile("errtab.c")
	if err != nil {
		t.Fatal(err)
	}
	want := map[int]string{}
	for e := 1; e < 4096; e++ {
		if s := syscall.Errno(e).Error(); s != "errno "+strconv.Itoa(e) {
			want[e] = s
		}
	}
	got := map[int]string{}
	for _, m := range regexp.MustCompile(`(?m)^\t\[(\d+)\] = ("(?:[^"\\]|\\.)*"),$`).FindAllStringSubmatch(string(b), -1) {
		n, _ := strconv.Atoi(m[1])
		s, err := strconv.Unquote(m[2])
		if err != nil {
			t.Fatalf("errtab.c entry %d: %v", n, err)
		}
		got[n] = s
	}
	if len(got) != len(want) {
		t.Errorf("errtab.c has %d entries, Go knows %d errnos: run go generate ./runtime", len(got), len(want))
	}
	for n, s := range want {
		if got[n] != s {
			t.Errorf("errtab.c errno %d = %q, Go says %q: run go generate ./runtime", n, got[n], s)
		}
	}
}
