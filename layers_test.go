package berth_test

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/berth-dev/berth"

// level of each top-level package, after docs/architecture.md: a package may
// import only packages of a lower level (and its own subpackages).
var level = map[string]int{
	// L0
	"errdefs": 0, "reference": 0, "ids": 0, "mount": 0, "atomicfile": 0, "trash": 0,
	// L1, lower row: formats, blobs, the registry client, the OCI runtime
	"archive": 1, "content": 1, "remote": 1, "runtime": 1, "logs": 1, "events": 1,
	// L1, lower row, built on archive
	"snapshot": 2,
	// L1, upper row
	"image": 3, "network": 3, "volume": 3, "shim": 3, "specgen": 3,
	// L2
	"engine": 4, "build": 4,
	// L3 front doors
	"cli": 5, "compose": 5, "server": 5, "cri": 5, "registry": 5, "runtimecli": 5,
	// L3 wiring
	"daemon": 6,
	// L4
	"cmd": 7,
	// tools that measure berth from outside (bench/, conformance/), test support
	"bench": 8, "conformance": 8, "berthtest": 8,
}

// Extra rules beyond "down only".
var (
	// cli and compose work against a remote daemon: berth's L0 and the API client only,
	// and archive, for the tars of the user's own files that docker cp sends and unpacks
	// (archive imports only errdefs).
	clientOnly    = map[string]bool{"cli": true, "compose": true}
	clientAllowed = map[string]bool{"archive": true}
	// engine decides; it must not know the wire.
	forbiddenExternal = map[string][]string{
		"engine":  {"net/http", "google.golang.org/grpc", "github.com/moby/moby/api"},
		"runtime": {"net/http", "google.golang.org/grpc", "github.com/moby/moby"},
	}
)

type pkg struct {
	ImportPath string
	Imports    []string
}

func component(path string) string {
	rel := strings.TrimPrefix(strings.TrimPrefix(path, module), "/")
	if rel == "" {
		return ""
	}
	return strings.SplitN(rel, "/", 2)[0]
}

func TestLayering(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-json", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	checked := 0
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(p.ImportPath, module+"/") {
			continue
		}
		from := component(p.ImportPath)
		lf, ok := level[from]
		if !ok {
			t.Errorf("package %s: top-level %q has no layer: add it to docs/architecture.md and this test", p.ImportPath, from)
			continue
		}
		checked++
		for _, imp := range p.Imports {
			for _, bad := range forbiddenExternal[from] {
				if imp == bad || strings.HasPrefix(imp, bad+"/") {
					t.Errorf("%s imports %s: %s must not depend on it", p.ImportPath, imp, from)
				}
			}
			if !strings.HasPrefix(imp, module+"/") {
				continue
			}
			to := component(imp)
			if to == from {
				continue
			}
			lt, ok := level[to]
			if !ok {
				t.Errorf("%s imports %s, whose top-level %q has no layer", p.ImportPath, imp, to)
				continue
			}
			if lt >= lf {
				t.Errorf("%s (level %d) imports %s (level %d): imports must point down", p.ImportPath, lf, imp, lt)
			}
			if clientOnly[from] && lt != 0 && !clientAllowed[to] {
				t.Errorf("%s imports %s: %s talks to the daemon through its API only", p.ImportPath, imp, from)
			}
		}
	}
	if checked == 0 {
		t.Fatal("go list found no berth packages")
	}
}

// The checker itself must catch a bad edge.
func TestLayeringRuleCatchesUpwardImport(t *testing.T) {
	if level[component(module+"/runtime/cgroup")] >= level[component(module+"/runtimecli")] {
		t.Fatal("runtime must sit below runtimecli")
	}
	if component(module+"/runtime/cgroup") != "runtime" {
		t.Fatal("subpackages belong to their top-level component")
	}
}
