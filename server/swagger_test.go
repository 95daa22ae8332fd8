package server

import (
	"bufio"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Every route the server registers must be a path of the Docker Engine API
// as the moby/moby/api module's swagger.yaml defines it.
func TestRoutesAreInSwagger(t *testing.T) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/moby/moby/api").Output()
	if err != nil {
		t.Fatalf("find the moby/moby/api module: %v", err)
	}
	f, err := os.Open(filepath.Join(strings.TrimSpace(string(out)), "swagger.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	paths := map[string]bool{}
	sc := bufio.NewScanner(f)
	pathLine := regexp.MustCompile(`^  (/[^:]*):\s*$`)
	for sc.Scan() {
		if m := pathLine.FindStringSubmatch(sc.Text()); m != nil {
			// "{name}" and "{id}" are wildcards.
			paths[regexp.MustCompile(`\{[^}]+\}`).ReplaceAllString(m[1], "*")] = true
		}
	}
	if len(paths) < 50 {
		t.Fatalf("read only %d paths from swagger.yaml", len(paths))
	}
	// The routes, with {rest...} expanded to the sub-resources served.
	routes := []string{"/_ping", "/version", "/info", "/system/df", "/images/json", "/images/create", "/images/prune",
		"/images/load", "/images/get", "/images/*/json", "/images/*/history", "/images/*/tag", "/images/*/get", "/images/*",
		"/networks", "/networks/create", "/networks/prune", "/networks/*", "/networks/*/connect", "/networks/*/disconnect"}
	s := New(Config{}, nil, nil, nil)
	for _, r := range routes {
		if !paths[r] {
			t.Errorf("route %s is not in swagger.yaml", r)
		}
		probe := strings.ReplaceAll(r, "*", "x")
		for _, method := range []string{"GET", "POST", "DELETE", "HEAD"} {
			req, _ := newRequest(method, probe)
			if _, pattern := s.mux.Handler(req); pattern != "" {
				goto found
			}
		}
		t.Errorf("route %s is not served", r)
	found:
	}
}

func newRequest(method, path string) (*http.Request, error) {
	return http.NewRequest(method, path, nil)
}
