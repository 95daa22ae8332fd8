package server

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	volumetypes "github.com/moby/moby/api/types/volume"

	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/events"
	"github.com/berth-dev/berth/specgen"
	"github.com/berth-dev/berth/volume"
)

func TestParseBindVolumes(t *testing.T) {
	for _, c := range []struct {
		in   string
		want specgen.Mount
	}{
		{"/host:/ctr", specgen.Mount{Type: "bind", Source: "/host", Target: "/ctr", MakeSource: true}},
		{"/host/:/ctr/sub/../x:ro,rshared", specgen.Mount{Type: "bind", Source: "/host", Target: "/ctr/x", ReadOnly: true, Propagation: "rshared", MakeSource: true, Mode: "ro,rshared"}},
		{"/h:/c:z,rw,cached", specgen.Mount{Type: "bind", Source: "/h", Target: "/c", MakeSource: true, Mode: "z,rw,cached"}},
		{"data:/data", specgen.Mount{Type: "volume", Source: "data", Target: "/data", Mode: "z"}},
		{"data:/data:ro", specgen.Mount{Type: "volume", Source: "data", Target: "/data", ReadOnly: true, Mode: "ro"}},
		{"my_vol.1-x:/data:nocopy,ro,Z", specgen.Mount{Type: "volume", Source: "my_vol.1-x", Target: "/data", ReadOnly: true, NoCopy: true, Mode: "nocopy,ro,Z"}},
		{"/scratch", specgen.Mount{Type: "volume", Target: "/scratch", Mode: "z"}},
	} {
		got, err := parseBind(c.in)
		if err != nil {
			t.Errorf("parseBind(%q): %v", c.in, err)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("parseBind(%q) = %+v, want %+v", c.in, got, c.want)
		}
	}
	for _, c := range []struct{ in, want string }{
		{"", "invalid volume specification: ''"},
		{":/x", "invalid volume specification: ':/x'"},
		{"/x:ro", "invalid volume specification: '/x:ro'"},
		{"a:/b:ro:x", "invalid volume specification: 'a:/b:ro:x'"},
		{"/a:/b:bogus", "invalid mode: bogus"},
		{"/a:/b:ro,rw", "invalid mode: ro,rw"},
		{"/a:/b:shared,slave", "invalid mode: shared,slave"},
		{"/a:rel", `invalid volume specification: '/a:rel': invalid mount config for type "bind": invalid mount path: 'rel' mount path must be absolute`},
		{"rel", `invalid mount config for type "volume": invalid mount path: 'rel' mount path must be absolute`},
		{"vol:/", `invalid specification: destination can't be '/'`},
		{"/a:/b:nocopy", `invalid mount config for type "bind": field VolumeOptions must not be specified`},
		{"vol:/b:shared", `invalid mount config for type "volume": field BindOptions must not be specified`},
		{"a/b:/x", `create a/b: "a/b" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`},
		{"./data:/x", `create ./data: "./data" includes invalid characters`},
		{"_x:/x", `"_x" includes invalid characters`},
		{"x:/x", "create x: volume name is too short"},
	} {
		_, err := parseBind(c.in)
		if err == nil || !strings.Contains(err.Error(), c.want) || !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("parseBind(%q): %v, want an invalid-argument error with %q", c.in, err, c.want)
		}
	}
}

func TestConvertMountVolumes(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		in   mount.Mount
		want specgen.Mount
	}{
		{mount.Mount{Type: mount.TypeVolume, Source: "data", Target: "/data"}, specgen.Mount{Type: "volume", Source: "data", Target: "/data"}},
		{mount.Mount{Type: mount.TypeVolume, Target: "/anon/"}, specgen.Mount{Type: "volume", Target: "/anon"}},
		{mount.Mount{Type: mount.TypeVolume, Source: "data", Target: "/data", ReadOnly: true,
			VolumeOptions: &mount.VolumeOptions{NoCopy: true, Labels: map[string]string{"a": "b"}, DriverConfig: &mount.Driver{Name: "local"}}},
			specgen.Mount{Type: "volume", Source: "data", Target: "/data", ReadOnly: true, NoCopy: true}},
		{mount.Mount{Type: mount.TypeBind, Source: dir, Target: "/h", BindOptions: &mount.BindOptions{Propagation: mount.PropagationSlave}},
			specgen.Mount{Type: "bind", Source: dir, Target: "/h", Propagation: "slave"}},
		{mount.Mount{Type: mount.TypeBind, Source: dir + "/missing", Target: "/h", BindOptions: &mount.BindOptions{CreateMountpoint: true}},
			specgen.Mount{Type: "bind", Source: dir + "/missing", Target: "/h", MakeSource: true}},
		{mount.Mount{Type: mount.TypeTmpfs, Target: "/t", TmpfsOptions: &mount.TmpfsOptions{SizeBytes: 1 << 20, Mode: 0o700}},
			specgen.Mount{Type: "tmpfs", Target: "/t", TmpfsSize: 1 << 20, TmpfsMode: 0o700}},
	} {
		got, err := convertMount(c.in)
		if err != nil {
			t.Errorf("convertMount(%+v): %v", c.in, err)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("convertMount(%+v) = %+v, want %+v", c.in, got, c.want)
		}
	}
	for _, c := range []struct {
		in   mount.Mount
		want string
	}{
		{mount.Mount{Type: mount.TypeBind, Source: dir + "/missing", Target: "/h"},
			`invalid mount config for type "bind": bind source path does not exist: ` + dir + "/missing"},
		{mount.Mount{Type: mount.TypeBind, Target: "/h"}, `invalid mount config for type "bind": field Source must not be empty`},
		{mount.Mount{Type: mount.TypeBind, Source: "rel", Target: "/h"}, `invalid mount path: 'rel' mount path must be absolute`},
		{mount.Mount{Type: mount.TypeBind, Source: dir, Target: "/h", VolumeOptions: &mount.VolumeOptions{}}, "field VolumeOptions must not be specified"},
		{mount.Mount{Type: mount.TypeBind, Source: dir, Target: "/h", BindOptions: &mount.BindOptions{Propagation: "weird"}}, "invalid propagation mode: weird"},
		{mount.Mount{Type: mount.TypeVolume, Source: "x", Target: "rel"}, `invalid mount config for type "volume": invalid mount path: 'rel' mount path must be absolute`},
		{mount.Mount{Type: mount.TypeVolume, Source: "data"}, "field Target must not be empty"},
		{mount.Mount{Type: mount.TypeVolume, Source: "data", Target: "/"}, "destination can't be '/'"},
		{mount.Mount{Type: mount.TypeVolume, Source: "a b", Target: "/x"}, `"a b" includes invalid characters for a local volume name`},
		{mount.Mount{Type: mount.TypeVolume, Target: "/x", ReadOnly: true}, "must not set ReadOnly mode when using anonymous volumes"},
		{mount.Mount{Type: mount.TypeVolume, Source: "data", Target: "/x", VolumeOptions: &mount.VolumeOptions{Subpath: "sub"}}, "not supported"},
		{mount.Mount{Type: mount.TypeVolume, Source: "data", Target: "/x", VolumeOptions: &mount.VolumeOptions{DriverConfig: &mount.Driver{Name: "nfs"}}}, `volume driver "nfs" is not supported`},
		{mount.Mount{Type: mount.TypeVolume, Source: "data", Target: "/x", VolumeOptions: &mount.VolumeOptions{DriverConfig: &mount.Driver{Options: map[string]string{"type": "tmpfs"}}}}, "volume-opt"},
		{mount.Mount{Type: mount.TypeVolume, Source: "data", Target: "/x", BindOptions: &mount.BindOptions{}}, "field BindOptions must not be specified"},
		{mount.Mount{Type: mount.TypeTmpfs, Source: "x", Target: "/x"}, "field Source must not be specified"},
		{mount.Mount{Type: mount.TypeImage, Source: "busybox", Target: "/x"}, `mount type "image" is not supported`},
	} {
		_, err := convertMount(c.in)
		if err == nil || !strings.Contains(err.Error(), c.want) || !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("convertMount(%+v): %v, want an invalid-argument error with %q", c.in, err, c.want)
		}
	}
}

func TestEngineCreateVolumes(t *testing.T) {
	hc := &container.HostConfig{
		Binds:  []string{"data:/data:ro", "/h:/h"},
		Mounts: []mount.Mount{{Type: mount.TypeVolume, Target: "/anon"}},
	}
	req, err := engineCreate("", &container.Config{Image: "busybox"}, hc, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []specgen.Mount{
		{Type: "volume", Source: "data", Target: "/data", ReadOnly: true, Mode: "ro"},
		{Type: "bind", Source: "/h", Target: "/h", MakeSource: true},
		{Type: "volume", Target: "/anon"},
	}
	if !reflect.DeepEqual(req.HostConfig.Mounts, want) {
		t.Errorf("mounts = %+v, want %+v", req.HostConfig.Mounts, want)
	}
}

func TestAPIMounts(t *testing.T) {
	ms := []specgen.Mount{
		{Type: "bind", Source: "/h", Target: "/c", ReadOnly: true},
		{Type: "bind", Source: "/h2", Target: "/c2", Propagation: "rshared"},
		{Type: "volume", Source: "data", Target: "/data"},
		{Type: "volume", Source: "gone", Target: "/g", ReadOnly: true},
		{Type: "tmpfs", Target: "/t"},
	}
	got := apiMounts(ms, func(name string) string {
		if name == "data" {
			return "/var/lib/berth/volumes/data/_data"
		}
		return ""
	})
	want := []container.MountPoint{
		{Type: mount.TypeBind, Source: "/h", Destination: "/c", Propagation: "rprivate"},
		{Type: mount.TypeBind, Source: "/h2", Destination: "/c2", RW: true, Propagation: "rshared"},
		{Type: mount.TypeVolume, Name: "data", Source: "/var/lib/berth/volumes/data/_data", Destination: "/data", Driver: "local", RW: true},
		{Type: mount.TypeVolume, Name: "gone", Destination: "/g", Driver: "local"},
		{Type: mount.TypeTmpfs, Destination: "/t", RW: true},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("apiMounts:\n got %+v\nwant %+v", got, want)
	}
	if got := apiMounts(nil, nil); got == nil || len(got) != 0 {
		t.Errorf("no mounts: %#v, want []", got)
	}
}

var testVols = []*volume.Volume{
	{Name: "anon1", Driver: "local", Anonymous: true},
	{Name: "anon2", Driver: "local", Anonymous: true, Labels: map[string]string{"team": "a"}},
	{Name: "data", Driver: "local", Labels: map[string]string{"team": "a", "tier": "db"}},
	{Name: "logs", Driver: "local", Labels: map[string]string{"team": "b"}},
	{Name: "ram", Driver: "local", Options: map[string]string{"type": "tmpfs", "device": "tmpfs"}},
	{Name: "web-data", Driver: "local"},
}

// used: data and anon2 are mounted by containers.
func used(name string) bool { return name == "data" || name == "anon2" }

func selected(match func(volumetypes.Volume, bool) bool) string {
	var got []string
	for _, v := range testVols {
		if match(apiVolume(v), used(v.Name)) {
			got = append(got, v.Name)
		}
	}
	return strings.Join(got, " ")
}

func TestVolumeFilter(t *testing.T) {
	for _, c := range []struct {
		f    map[string][]string
		want string
	}{
		{nil, "anon1 anon2 data logs ram web-data"},
		{map[string][]string{"name": {"data"}}, "data web-data"}, // any part, as Docker
		{map[string][]string{"name": {"^data$"}}, "data"},
		{map[string][]string{"name": {"anon", "ram"}}, "anon1 anon2 ram"},
		{map[string][]string{"driver": {"local"}}, "anon1 anon2 data logs ram web-data"},
		{map[string][]string{"driver": {"loc"}}, ""},
		{map[string][]string{"label": {"team"}}, "anon2 data logs"},
		{map[string][]string{"label": {"team=a"}}, "anon2 data"},
		{map[string][]string{"label": {"team=a", "tier"}}, "data"},
		{map[string][]string{"label": {anonymousLabel}}, "anon1 anon2"},
		{map[string][]string{"dangling": {"true"}}, "anon1 logs ram web-data"},
		{map[string][]string{"dangling": {"1"}, "label": {"team"}}, "logs"},
		{map[string][]string{"dangling": {"false"}}, "anon2 data"},
		{map[string][]string{"dangling": {"0"}, "name": {"d"}}, "data"},
	} {
		match, err := volumeFilter(c.f)
		if err != nil {
			t.Errorf("%v: %v", c.f, err)
			continue
		}
		if got := selected(match); got != c.want {
			t.Errorf("filter %v: %q, want %q", c.f, got, c.want)
		}
	}
	for _, f := range []map[string][]string{
		{"bogus": {"x"}}, {"dangling": {"maybe"}}, {"dangling": {"true", "false"}}, {"dangling": {}}, {"until": {"1h"}},
	} {
		if _, err := volumeFilter(f); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("filter %v: %v, want an invalid argument", f, err)
		}
	}
}

func TestVolumePruneFilter(t *testing.T) {
	for _, c := range []struct {
		f       map[string][]string
		version string
		want    string
	}{
		// Unused, without options; anonymous only unless all, since 1.42.
		{nil, "1.56", "anon1"},
		{nil, "1.42", "anon1"},
		{nil, "1.41", "anon1 logs web-data"},
		{map[string][]string{"all": {"true"}}, "1.56", "anon1 logs web-data"},
		{map[string][]string{"all": {"1"}}, "1.56", "anon1 logs web-data"},
		{map[string][]string{"all": {"false"}}, "1.56", "anon1"},
		{map[string][]string{"all": {"false"}}, "1.41", "anon1 logs web-data"},
		{map[string][]string{"all": {"true"}, "label": {"team"}}, "1.56", "logs"},
		{map[string][]string{"all": {"true"}, "label!": {"team"}}, "1.56", "anon1 web-data"},
		{map[string][]string{"all": {"true"}, "label!": {"team=b"}}, "1.56", "anon1 web-data"},
		// label! leaves out what matches all of its values, as Docker.
		{map[string][]string{"all": {"true"}, "label!": {"team", "tier"}}, "1.56", "anon1 logs web-data"},
		{map[string][]string{"label": {"team"}}, "1.56", ""},
	} {
		match, err := volumePruneFilter(c.f, c.version)
		if err != nil {
			t.Errorf("%v: %v", c.f, err)
			continue
		}
		if got := selected(match); got != c.want {
			t.Errorf("prune %v (API %s): %q, want %q", c.f, c.version, got, c.want)
		}
	}
	for _, f := range []map[string][]string{
		{"until": {"1h"}}, {"dangling": {"true"}}, {"all": {"yes please"}}, {"all": {"true", "false"}},
	} {
		if _, err := volumePruneFilter(f, APIVersion); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("prune filter %v: %v, want an invalid argument", f, err)
		}
	}
}

func TestAPIVolumeJSON(t *testing.T) {
	created := time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC)
	b, err := json.Marshal(apiVolume(&volume.Volume{Name: "data", Driver: "local",
		Mountpoint: "/var/lib/berth/volumes/data/_data", CreatedAt: created}))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"CreatedAt":"2024-05-06T07:08:09Z","Driver":"local","Labels":{},"Mountpoint":"/var/lib/berth/volumes/data/_data","Name":"data","Options":null,"Scope":"local"}`
	if string(b) != want {
		t.Errorf("volume JSON:\n got %s\nwant %s", b, want)
	}
	v := &volume.Volume{Name: "x", Anonymous: true, Labels: map[string]string{"a": "b"}, Options: map[string]string{"type": "tmpfs"}}
	av := apiVolume(v)
	if !reflect.DeepEqual(av.Labels, map[string]string{"a": "b", anonymousLabel: ""}) || av.Options["type"] != "tmpfs" || av.Driver != "local" {
		t.Errorf("anonymous volume: %+v", av)
	}
	if _, ok := v.Labels[anonymousLabel]; ok {
		t.Error("apiVolume changed the volume's labels")
	}
}

// volumeEnv runs the volume routes over a real store, without an engine.
type volumeEnv struct {
	t     *testing.T
	store *volume.Store
	users map[string][]string
	bus   *events.Bus
	srv   *httptest.Server
}

func newVolumeEnv(t *testing.T) *volumeEnv {
	st, err := volume.Open(filepath.Join(t.TempDir(), "volumes"))
	if err != nil {
		t.Fatal(err)
	}
	e := &volumeEnv{t: t, store: st, users: map[string][]string{}, bus: events.New(0)}
	a := &volumeAPI{store: func() *volume.Store { return e.store }, users: func(n string) []string { return e.users[n] }, events: e.bus}
	mux := http.NewServeMux()
	a.routes(mux)
	// The API version as Server.Handler passes it.
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if v, rest, ok := splitVersion(r.URL.Path); ok {
			r = r.Clone(context.WithValue(r.Context(), versionKey, v))
			r.URL.Path = rest
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(e.srv.Close)
	return e
}

func (e *volumeEnv) do(method, path string, body io.Reader, out any) (int, string) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(b, out); err != nil {
			e.t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
	return resp.StatusCode, string(b)
}

func (e *volumeEnv) events() []string {
	past, _, cancel := e.bus.Subscribe(nil, time.Unix(1, 0), time.Time{})
	cancel()
	var out []string
	for _, ev := range past {
		out = append(out, ev.Type+" "+ev.Action+" "+ev.Actor.ID+" "+ev.Actor.Attributes["driver"]+ev.Actor.Attributes["reclaimed"])
	}
	return out
}

func filterQuery(f map[string][]string) string {
	b, _ := json.Marshal(f)
	return "filters=" + url.QueryEscape(string(b))
}

func TestVolumeRoutes(t *testing.T) {
	e := newVolumeEnv(t)

	var v volumetypes.Volume
	code, body := e.do("POST", "/volumes/create", strings.NewReader(`{"Name":"data","Labels":{"team":"a"}}`), &v)
	if code != http.StatusCreated || v.Name != "data" || v.Driver != "local" || v.Scope != "local" || v.Labels["team"] != "a" ||
		v.Mountpoint != filepath.Join(e.store.Dir(), "data", "_data") {
		t.Fatalf("create: %d %s", code, body)
	}
	if _, err := time.Parse(time.RFC3339, v.CreatedAt); err != nil {
		t.Errorf("CreatedAt %q: %v", v.CreatedAt, err)
	}
	// Create is idempotent, and says create once.
	if code, body := e.do("POST", "/volumes/create", strings.NewReader(`{"Name":"data"}`), &v); code != http.StatusCreated || v.Labels["team"] != "a" {
		t.Errorf("create again: %d %s", code, body)
	}
	var anon volumetypes.Volume
	if code, body := e.do("POST", "/volumes/create", nil, &anon); code != http.StatusCreated || len(anon.Name) != 64 || !reflect.DeepEqual(anon.Labels, map[string]string{anonymousLabel: ""}) {
		t.Errorf("create without a name: %d %s", code, body)
	}
	for _, c := range []struct {
		body string
		code int
		want string
	}{
		{`{"Name":"a/b"}`, 400, `create a/b: \"a/b\" includes invalid characters`},
		{`{"Name":"xy","Driver":"nfs-magic"}`, 400, `create xy: volume driver \"nfs-magic\" is not supported`},
		{`{"Name":"x","Driver":"nfs-magic"}`, 400, "nfs-magic"},
		{`{"Name":"xy","DriverOpts":{"bogus":"1"}}`, 400, "bogus"},
		{`{"Name":"xy","ClusterVolumeSpec":{}}`, 400, "cluster volumes"},
		{`{"Name":`, 400, "malformed"},
	} {
		if code, body := e.do("POST", "/volumes/create", strings.NewReader(c.body), nil); code != c.code || !strings.Contains(body, c.want) {
			t.Errorf("create %s: %d %s, want %d with %q", c.body, code, body, c.code, c.want)
		}
	}

	// Inspect.
	if code, body := e.do("GET", "/volumes/data", nil, &v); code != 200 || v.Name != "data" {
		t.Errorf("inspect: %d %s", code, body)
	}
	if code, body := e.do("GET", "/volumes/nosuch", nil, nil); code != 404 || !strings.Contains(body, `"get nosuch: no such volume"`) {
		t.Errorf("inspect missing: %d %s", code, body)
	}

	// List, with filters.
	e.do("POST", "/volumes/create", strings.NewReader(`{"Name":"logs"}`), nil)
	e.users["data"] = []string{"c2", "c1"}
	list := func(q string) string {
		var lr volumetypes.ListResponse
		code, body := e.do("GET", "/volumes?"+q, nil, &lr)
		if code != 200 || lr.Warnings == nil {
			t.Errorf("list %s: %d %s", q, code, body)
		}
		var names []string
		for _, v := range lr.Volumes {
			if v.Name == anon.Name {
				names = append(names, "anon")
			} else {
				names = append(names, v.Name)
			}
		}
		sort.Strings(names)
		return strings.Join(names, " ")
	}
	for q, want := range map[string]string{
		"": "anon data logs",
		filterQuery(map[string][]string{"dangling": {"true"}}):              "anon logs",
		filterQuery(map[string][]string{"dangling": {"false"}}):             "data",
		filterQuery(map[string][]string{"name": {"og"}}):                    "logs",
		filterQuery(map[string][]string{"label": {"team=a"}}):               "data",
		filterQuery(map[string][]string{"driver": {"local"}}):               "anon data logs",
		`filters=` + url.QueryEscape(`{"dangling":{"true":true}}`):          "anon logs",
		filterQuery(map[string][]string{"label": {anonymousLabel}}):         "anon",
		filterQuery(map[string][]string{"name": {"data"}, "driver": {"x"}}): "",
	} {
		if got := list(q); got != want {
			t.Errorf("list %s: %q, want %q", q, got, want)
		}
	}
	if code, body := e.do("GET", "/volumes?"+filterQuery(map[string][]string{"bogus": {"1"}}), nil, nil); code != 400 || !strings.Contains(body, "invalid filter 'bogus'") {
		t.Errorf("list with a bad filter: %d %s", code, body)
	}

	// Remove: refused in use, naming the containers; force ignores only
	// a missing volume.
	if code, body := e.do("DELETE", "/volumes/data", nil, nil); code != 409 || !strings.Contains(body, `"remove data: volume is in use - [c2, c1]"`) {
		t.Errorf("rm in use: %d %s", code, body)
	}
	if code, body := e.do("DELETE", "/volumes/data?force=1", nil, nil); code != 409 {
		t.Errorf("rm -f in use: %d %s", code, body)
	}
	if code, body := e.do("DELETE", "/volumes/nosuch", nil, nil); code != 404 || !strings.Contains(body, "no such volume") {
		t.Errorf("rm missing: %d %s", code, body)
	}
	if code, body := e.do("DELETE", "/volumes/nosuch?force=true", nil, nil); code != 204 {
		t.Errorf("rm -f missing: %d %s", code, body)
	}
	if code, body := e.do("DELETE", "/volumes/logs", nil, nil); code != 204 {
		t.Errorf("rm: %d %s", code, body)
	}
	if _, err := e.store.Get("logs"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("logs after rm: %v", err)
	}

	// Prune: the unused anonymous volume by default, named ones with all.
	e.do("POST", "/volumes/create", strings.NewReader(`{"Name":"cache"}`), nil)
	if err := os.WriteFile(filepath.Join(e.store.Dir(), "cache", "_data", "f"), []byte("12345"), 0o644); err != nil {
		t.Fatal(err)
	}
	var rep volumetypes.PruneReport
	if code, body := e.do("POST", "/volumes/prune", nil, &rep); code != 200 || !reflect.DeepEqual(rep.VolumesDeleted, []string{anon.Name}) {
		t.Errorf("prune: %d %s", code, body)
	}
	if code, body := e.do("POST", "/volumes/prune?"+filterQuery(map[string][]string{"all": {"true"}}), nil, &rep); code != 200 ||
		!reflect.DeepEqual(rep.VolumesDeleted, []string{"cache"}) || rep.SpaceReclaimed != 5 {
		t.Errorf("prune all: %d %s", code, body)
	}
	if code, body := e.do("POST", "/volumes/prune?"+filterQuery(map[string][]string{"until": {"1h"}}), nil, nil); code != 400 || !strings.Contains(body, "invalid filter 'until'") {
		t.Errorf("prune until: %d %s", code, body)
	}
	// API 1.41 prunes named volumes too.
	e.do("POST", "/volumes/create", strings.NewReader(`{"Name":"old"}`), nil)
	if code, body := e.do("POST", "/v1.41/volumes/prune", nil, &rep); code != 200 || !reflect.DeepEqual(rep.VolumesDeleted, []string{"old"}) {
		t.Errorf("prune at 1.41: %d %s", code, body)
	}
	if code, body := e.do("POST", "/volumes/prune?"+filterQuery(map[string][]string{"all": {"1"}}), nil, &rep); code != 200 || len(rep.VolumesDeleted) != 0 {
		t.Errorf("prune with only a used volume left: %d %s", code, body)
	}

	want := []string{
		"volume create data local",
		"volume create " + anon.Name + " local",
		"volume create logs local",
		"volume destroy logs local",
		"volume create cache local",
		"volume destroy " + anon.Name + " local",
		"volume prune  0",
		"volume destroy cache local",
		"volume prune  5",
		"volume create old local",
		"volume destroy old local",
		"volume prune  0",
		"volume prune  0",
	}
	if got := e.events(); !reflect.DeepEqual(got, want) {
		t.Errorf("events:\n got %q\nwant %q", got, want)
	}
}

func TestVolumeExportImport(t *testing.T) {
	e := newVolumeEnv(t)
	e.do("POST", "/volumes/create", strings.NewReader(`{"Name":"src"}`), nil)
	data := filepath.Join(e.store.Dir(), "src", "_data")
	if err := os.MkdirAll(filepath.Join(data, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "d", "f"), []byte("hello"), 0o640); err != nil {
		t.Fatal(err)
	}

	resp, err := http.Get(e.srv.URL + "/volumes/src/export")
	if err != nil {
		t.Fatal(err)
	}
	tarball, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/x-tar" {
		t.Fatalf("export: %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), tarball)
	}
	var names []string
	tr := tar.NewReader(bytes.NewReader(tarball))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("export's tar: %v", err)
		}
		names = append(names, h.Name)
	}
	if !strings.Contains(strings.Join(names, " "), "d/f") {
		t.Errorf("export's tar holds %q", names)
	}
	if code, body := e.do("GET", "/volumes/nosuch/export", nil, nil); code != 404 || !strings.Contains(body, "no such volume") {
		t.Errorf("export of a missing volume: %d %s", code, body)
	}

	// Import makes the volume it names if need be.
	if code, body := e.do("PUT", "/volumes/copy/import", bytes.NewReader(tarball), nil); code != 204 {
		t.Fatalf("import: %d %s", code, body)
	}
	if b, err := os.ReadFile(filepath.Join(e.store.Dir(), "copy", "_data", "d", "f")); err != nil || string(b) != "hello" {
		t.Errorf("imported file: %q %v", b, err)
	}
	// Not into a volume with content.
	if code, body := e.do("PUT", "/volumes/copy/import", bytes.NewReader(tarball), nil); code != 409 || !strings.Contains(body, "not empty") {
		t.Errorf("import into a full volume: %d %s", code, body)
	}
	// A bad tar into a new volume leaves no volume behind.
	var evil bytes.Buffer
	tw := tar.NewWriter(&evil)
	tw.WriteHeader(&tar.Header{Name: "../escape", Mode: 0o644, Size: 1, Typeflag: tar.TypeReg})
	tw.Write([]byte("x"))
	tw.Close()
	if code, body := e.do("PUT", "/volumes/evil/import", &evil, nil); code != 400 {
		t.Errorf("import of a hostile tar: %d %s", code, body)
	}
	if _, err := e.store.Get("evil"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("the volume of a failed import: %v", err)
	}
	if code, body := e.do("PUT", "/volumes/a%2Fb/import", bytes.NewReader(tarball), nil); code != 400 || !strings.Contains(body, "invalid characters") {
		t.Errorf("import into a bad name: %d %s", code, body)
	}
	want := []string{"volume create src local", "volume create copy local"}
	if got := e.events(); !reflect.DeepEqual(got, want) {
		t.Errorf("events: %q, want %q", got, want)
	}
}

func TestVolumeRoutesWithoutStore(t *testing.T) {
	a := &volumeAPI{store: func() *volume.Store { return nil }, users: func(string) []string { return nil }}
	mux := http.NewServeMux()
	a.routes(mux)
	for _, c := range []struct {
		method, path string
		code         int
	}{
		{"GET", "/volumes", 200},
		{"POST", "/volumes/prune", 200},
		{"POST", "/volumes/create", 501},
		{"GET", "/volumes/x", 501},
		{"DELETE", "/volumes/x", 501},
		{"GET", "/volumes/x/export", 501},
		{"PUT", "/volumes/x/import", 501},
	} {
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, httptest.NewRequest(c.method, c.path, nil))
		if w.Code != c.code || (c.code == 501 && !strings.Contains(w.Body.String(), "volumes are not available")) {
			t.Errorf("%s %s: %d %s", c.method, c.path, w.Code, w.Body)
		}
	}
	// A server without an engine serves them too.
	s := New(Config{}, nil, nil, nil)
	w := httptest.NewRecorder()
	s.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/v1.47/volumes/x", nil))
	if w.Code != 501 {
		t.Errorf("server without an engine: %d %s", w.Code, w.Body)
	}
}

func TestTmpfsMode(t *testing.T) {
	for in, want := range map[os.FileMode]uint32{0o1770: 0o1770, 0o700: 0o700, os.ModeSticky | 0o777: 0o1777, os.ModeSetgid | os.ModeSetuid | 0o755: 0o6755} {
		if got := tmpfsMode(in); got != want {
			t.Errorf("tmpfsMode(%v) = %o, want %o", in, got, want)
		}
	}
}
