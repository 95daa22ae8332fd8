package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/volume"
)

const anonVol = "5b2b8e5a7f0f1f7c9d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c"

// volumeList is what the fake daemon answers GET /volumes with.
var volumeList = `{"Volumes":[` +
	`{"CreatedAt":"2024-01-02T03:04:05Z","Driver":"local","Labels":{"team":"a"},"Mountpoint":"/var/lib/berth/volumes/vol10/_data","Name":"vol10","Options":null,"Scope":"local"},` +
	`{"CreatedAt":"2024-01-02T03:04:05Z","Driver":"local","Labels":null,"Mountpoint":"/var/lib/berth/volumes/db/_data","Name":"db","Options":{"type":"tmpfs","o":"size=10m"},"Scope":"local","UsageData":{"RefCount":2,"Size":123456789}},` +
	`{"CreatedAt":"2024-01-02T03:04:05Z","Driver":"local","Labels":{"com.example.anonymous":""},"Mountpoint":"/var/lib/berth/volumes/` + anonVol + `/_data","Name":"` + anonVol + `","Options":null,"Scope":"local"},` +
	`{"CreatedAt":"2024-01-02T03:04:05Z","Driver":"local","Labels":{},"Mountpoint":"/var/lib/berth/volumes/vol2/_data","Name":"vol2","Options":{},"Scope":"local","UsageData":{"RefCount":0,"Size":0}}` +
	`],"Warnings":null}`

var volumeInspect = `{"CreatedAt":"2024-01-02T03:04:05Z","Driver":"local","Labels":{"team":"a"},"Mountpoint":"/var/lib/berth/volumes/vol10/_data","Name":"vol10","Options":{"o":"size=10m","type":"tmpfs"},"Scope":"local"}`

func volResponses(kv ...string) func(*fakeDaemon) {
	return func(f *fakeDaemon) {
		f.responses = map[string]string{
			"POST /volumes/create": `201 {"Name":"vol10","Driver":"local","Mountpoint":"/var/lib/berth/volumes/vol10/_data","Scope":"local"}`,
			"GET /volumes":         "200 " + volumeList,
			"GET /volumes/vol10":   "200 " + volumeInspect,
			"POST /volumes/prune":  `200 {"VolumesDeleted":["vol10","` + anonVol + `"],"SpaceReclaimed":12345678}`,
		}
		for i := 0; i+1 < len(kv); i += 2 {
			f.responses[kv[i]] = kv[i+1]
		}
	}
}

// TestConformanceVolume checks volume's verbs against docker 28: the
// requests (create bodies as moby's type, list and prune filters, rm's
// force), the output and the exit statuses.
func TestConformanceVolume(t *testing.T) {
	haveDocker(t)
	std := volResponses()
	missing := volResponses("GET /volumes/gone", `404 {"message":"get gone: no such volume"}`,
		"DELETE /volumes/gone", `404 {"message":"get gone: no such volume"}`)
	inUse := volResponses("DELETE /volumes/busy", `409 {"message":"remove busy: volume is in use - [`+fakeID+`]"}`)
	cases := []cliCase{
		// create
		{args: []string{"volume", "create"}},
		{args: []string{"volume", "create", "vol10"}},
		{args: []string{"volume", "create", "--driver", "local", "--label", "a=b", "--label", "c", "-o", "type=tmpfs", "-o", "o=size=10m,uid=1000", "--opt", "device=tmpfs", "vol10"}},
		{args: []string{"volume", "create", "-d", "nfs", "--name", "vol10"}},
		{args: []string{"volume", "create", "--name", "a", "b"}},
		// ("volume create a b": docker 28.2 says "SRun 'docker volume create --help'", a typo.)
		{args: []string{"volume", "create", "--label", "=x", "v"}},
		{args: []string{"volume", "create", "--bogus", "v"}},
		{args: []string{"volume", "create", "a/b"}, setup: volResponses("POST /volumes/create",
			`400 {"message":"create a/b: \"a/b\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path"}`)},
		// ls
		{args: []string{"volume", "ls"}},
		{args: []string{"volume", "list", "-q"}},
		{args: []string{"volume", "ls", "--format", "{{.Name}} {{.Driver}} {{.Scope}} {{.Mountpoint}} {{.Labels}} {{.Label \"team\"}} {{.Links}} {{.Size}}"}},
		{args: []string{"volume", "ls", "--format", "table {{.Name}}\t{{.Links}}\t{{.Size}}\t{{.Mountpoint}}"}},
		{args: []string{"volume", "ls", "--format", "table"}},
		{args: []string{"volume", "ls", "-q", "--format", "{{.Mountpoint}}"}},
		{args: []string{"volume", "ls", "--format", "json"}},
		{args: []string{"volume", "ls", "--filter", "dangling=true", "-f", "name=vol", "-f", "label=team=a", "--filter", "driver=local"}},
		{args: []string{"volume", "ls", "--filter", "bogus"}},
		{args: []string{"volume", "ls", "extra"}},
		{args: []string{"volume", "ls"}, setup: volResponses("GET /volumes", `500 {"message":"boom"}`)},
		{args: []string{"volume", "ls"}, setup: volResponses("GET /volumes", `200 {"Volumes":[],"Warnings":["careful"]}`)},
		// inspect
		{args: []string{"volume", "inspect", "vol10"}},
		{args: []string{"volume", "inspect", "-f", "{{.Name}} {{.Driver}} {{.Options.type}} {{json .Labels}}", "vol10"}},
		{args: []string{"volume", "inspect", "--format", "json", "vol10"}},
		{args: []string{"volume", "inspect", "vol10", "gone"}, setup: missing},
		{args: []string{"volume", "inspect", "gone"}, setup: missing},
		{args: []string{"volume", "inspect"}},
		{args: []string{"volume", "inspect", "-f", "{{.Nope", "vol10"}},
		// rm
		{args: []string{"volume", "rm", "vol10"}},
		{args: []string{"volume", "remove", "vol10", "gone", "busy"}, setup: func(f *fakeDaemon) { missing(f); inUse(f) }},
		{args: []string{"volume", "rm", "-f", "vol10", "vol2"}},
		{args: []string{"volume", "rm", "--force", "busy"}, setup: inUse},
		{args: []string{"volume", "rm"}},
		// prune
		{args: []string{"volume", "prune", "-f"}},
		{args: []string{"volume", "prune", "-a", "-f", "--filter", "label=x"}},
		{args: []string{"volume", "prune", "--all", "--force", "--filter", "label!=keep=1", "--filter", "label=a"}},
		{args: []string{"volume", "prune", "-a", "-f", "--filter", "all=true"}},
		{args: []string{"volume", "prune", "-f", "--filter", "all=1"}},
		{args: []string{"volume", "prune"}, stdin: "y\n"},
		{args: []string{"volume", "prune", "-a"}, stdin: "y\n"},
		{args: []string{"volume", "prune"}, stdin: "n\n"},
		{args: []string{"volume", "prune", "-f"}, setup: volResponses("POST /volumes/prune", `200 {"VolumesDeleted":null,"SpaceReclaimed":0}`)},
		{args: []string{"volume", "prune", "-f"}, setup: volResponses("POST /volumes/prune", `200 {"VolumesDeleted":[],"SpaceReclaimed":999}`)},
		{args: []string{"volume", "prune", "x"}},
		{args: []string{"volume", "prune", "--filter", "x"}},
		{args: []string{"volume", "bogus"}},
	}
	for _, c := range cases {
		if c.setup == nil {
			c.setup = std
		}
		t.Run(strings.Join(c.args, " "), func(t *testing.T) { compare(t, c) })
	}
}

func TestVolumeLsOutput(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"ls"}, "DRIVER    VOLUME NAME\n" +
			"local     " + anonVol + "\n" +
			"local     db\n" +
			"local     vol2\n" +
			"local     vol10\n"},
		{[]string{"ls", "-q"}, anonVol + "\ndb\nvol2\nvol10\n"},
		{[]string{"ls", "--format", "{{.Name}}:{{.Labels}}:{{.Label \"team\"}}:{{.Links}}:{{.Size}}"},
			anonVol + ":com.example.anonymous=::N/A:N/A\ndb:::2:123.5MB\nvol2:::0:0B\nvol10:team=a:a:N/A:N/A\n"},
		{[]string{"ls", "--format", "table {{.Name}}\t{{.Label \"team\"}}\t{{.Size}}"}, "VOLUME NAME                                                        TEAM      SIZE\n" +
			anonVol + "             N/A\n" +
			"db                                                                           123.5MB\n" +
			"vol2                                                                         0B\n" +
			"vol10                                                              a         N/A\n"},
	}
	for _, c := range cases {
		out, err, reqs := runBerth(t, volResponses(), "", append([]string{"volume"}, c.args...)...)
		if err != nil {
			t.Fatalf("%v: %v", c.args, err)
		}
		if out != c.want {
			t.Errorf("%v:\ngot:\n%s\nwant:\n%s", c.args, out, c.want)
		}
		if len(reqs) != 1 || reqs[0].Path != "/volumes" {
			t.Errorf("%v: requests %v", c.args, reqs)
		}
	}
	out, err, _ := runBerth(t, volResponses(), "", "volume", "ls", "--format", "json")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var row map[string]string
	if err := json.Unmarshal([]byte(lines[1]), &row); err != nil {
		t.Fatalf("json row %q: %v", lines[1], err)
	}
	if row["Name"] != "db" || row["Links"] != "2" || row["Size"] != "123.5MB" || row["Mountpoint"] != "/var/lib/berth/volumes/db/_data" || row["Status"] != "N/A" {
		t.Errorf("json row: %v", row)
	}
}

func TestVolumeRequests(t *testing.T) {
	out, err, reqs := runBerth(t, volResponses(), "", "volume", "create", "-o", "type=tmpfs", "-o", "o=size=1m", "--label", "k=v", "vol10")
	if err != nil || out != "vol10\n" {
		t.Fatalf("create: %q, %v", out, err)
	}
	var cr volume.CreateRequest
	if err := json.Unmarshal(reqs[0].Body, &cr); err != nil {
		t.Fatal(err)
	}
	if cr.Name != "vol10" || cr.Driver != "local" || cr.DriverOpts["type"] != "tmpfs" || cr.DriverOpts["o"] != "size=1m" || cr.Labels["k"] != "v" {
		t.Errorf("create request: %s", reqs[0].Body)
	}

	_, err, reqs = runBerth(t, volResponses(), "", "volume", "prune", "-af", "--filter", "label=x")
	if err != nil {
		t.Fatal(err)
	}
	var f map[string]map[string]bool
	if err := json.Unmarshal([]byte(reqs[0].Query.Get("filters")), &f); err != nil {
		t.Fatal(err)
	}
	if mustJSON(f) != `{"all":{"true":true},"label":{"x":true}}` {
		t.Errorf("prune filters %s", mustJSON(f))
	}

	_, err, reqs = runBerth(t, volResponses(), "", "volume", "create", "a", "b")
	if code, _ := ExitCode(err); code != 1 || len(reqs) != 0 || !strings.Contains(err.Error(), "'berth volume create' requires at most 1 argument") {
		t.Errorf("create a b: exit %d, %v, %d requests", code, err, len(reqs))
	}

	out, err, reqs = runBerth(t, volResponses(), "", "volume", "rm", "-f", "vol10")
	if err != nil || out != "vol10\n" || reqs[0].Method != "DELETE" || reqs[0].Path != "/volumes/vol10" || reqs[0].Query.Get("force") != "1" {
		t.Errorf("rm -f: %q, %v, %v", out, err, reqs)
	}
}

func TestVolumePruneOutput(t *testing.T) {
	out, err, _ := runBerth(t, volResponses(), "", "volume", "prune", "-f")
	if err != nil {
		t.Fatal(err)
	}
	if want := "Deleted Volumes:\nvol10\n" + anonVol + "\n\nTotal reclaimed space: 12.35MB\n"; out != want {
		t.Errorf("prune output %q, want %q", out, want)
	}
	out, err, _ = runBerth(t, volResponses("POST /volumes/prune", `200 {"VolumesDeleted":null,"SpaceReclaimed":0}`), "", "volume", "prune", "-f")
	if err != nil || out != "Total reclaimed space: 0B\n" {
		t.Errorf("nothing pruned: %q, %v", out, err)
	}
}

func TestVolumeExportImport(t *testing.T) {
	tarball := "pretend this is a tar"
	dir := t.TempDir()
	out := filepath.Join(dir, "vol.tar")
	_, err, reqs := runBerth(t, volResponses("GET /volumes/vol10/export", "200 "+tarball), "", "volume", "export", "-o", out, "vol10")
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(out); string(b) != tarball {
		t.Errorf("exported %q", b)
	}
	if len(reqs) != 1 || reqs[0].Method != "GET" || reqs[0].Path != "/volumes/vol10/export" {
		t.Errorf("export requests %v", reqs)
	}
	stdout, err, _ := runBerth(t, volResponses("GET /volumes/vol10/export", "200 "+tarball), "", "volume", "export", "vol10")
	if err != nil || stdout != tarball {
		t.Errorf("export to stdout: %q, %v", stdout, err)
	}
	_, err, _ = runBerth(t, volResponses("GET /volumes/gone/export", `404 {"message":"get gone: no such volume"}`), "", "volume", "export", "-o", filepath.Join(dir, "gone.tar"), "gone")
	if err == nil || err.Error() != "Error response from daemon: get gone: no such volume" {
		t.Errorf("export of a missing volume: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "gone.tar")); !os.IsNotExist(err) {
		t.Error("failed export left a file")
	}

	_, err, reqs = runBerth(t, volResponses(), "", "volume", "import", "vol10", out)
	if err != nil {
		t.Fatal(err)
	}
	if len(reqs) != 1 || reqs[0].Method != "PUT" || reqs[0].Path != "/volumes/vol10/import" || string(reqs[0].Body) != tarball {
		t.Errorf("import requests %v", reqs)
	}
	_, err, reqs = runBerth(t, volResponses(), "from stdin", "volume", "import", "new-vol", "-")
	if err != nil || len(reqs) != 1 || reqs[0].Path != "/volumes/new-vol/import" || string(reqs[0].Body) != "from stdin" {
		t.Errorf("import from stdin: %v, %v", err, reqs)
	}
	_, err, reqs = runBerth(t, volResponses("PUT /volumes/vol10/import", `409 {"message":"import vol10: the volume is not empty: import into a new volume"}`), "", "volume", "import", "vol10", out)
	if err == nil || !strings.Contains(err.Error(), "the volume is not empty") {
		t.Errorf("import into a full volume: %v", err)
	}
	_, err, reqs = runBerth(t, volResponses(), "", "volume", "import", "vol10", filepath.Join(dir, "nosuch.tar"))
	if err == nil || len(reqs) != 0 {
		t.Errorf("import of a missing file: %v, %v", err, reqs)
	}
	_, err, _ = runBerth(t, volResponses(), "", "volume", "import", "vol10")
	if code, _ := ExitCode(err); code != 1 || !strings.Contains(err.Error(), "requires 2 arguments") {
		t.Errorf("import with one argument: %v", err)
	}
}
