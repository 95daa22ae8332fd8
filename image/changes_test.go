package image

import (
	"reflect"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestApplyChanges(t *testing.T) {
	var c ocispec.ImageConfig
	err := applyChanges(&c, []string{
		`CMD ["sh", "-c", "echo hi"]`, `entrypoint /bin/tini --`, `ENV A=1 B="two words"`, `ENV LEGACY value with spaces`,
		`LABEL k=v "x y"=z`, `EXPOSE 80 53/udp 8000-8010`, `USER 1000:1000`, `WORKDIR /srv`, `VOLUME ["/data"]`, `STOPSIGNAL SIGINT`,
	})
	if err != nil {
		t.Fatal(err)
	}
	want := ocispec.ImageConfig{
		Cmd:          []string{"sh", "-c", "echo hi"},
		Entrypoint:   []string{"/bin/sh", "-c", "/bin/tini --"},
		Env:          []string{"A=1", "B=two words", "LEGACY=value with spaces"},
		Labels:       map[string]string{"k": "v", "x y": "z"},
		ExposedPorts: map[string]struct{}{"80/tcp": {}, "53/udp": {}, "8000-8010/tcp": {}},
		User:         "1000:1000", WorkingDir: "/srv", Volumes: map[string]struct{}{"/data": {}}, StopSignal: "SIGINT",
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got  %+v\nwant %+v", c, want)
	}
	for _, bad := range []string{"RUN x", "ONBUILD RUN x", "CMD [not json", "ENV", "LABEL novalue", "EXPOSE 70000", "EXPOSE 80/xyz", "WORKDIR rel", "USER"} {
		var c ocispec.ImageConfig
		if err := applyChanges(&c, []string{bad}); err == nil || !strings.Contains(err.Error(), "--change") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestSavedTags(t *testing.T) {
	full := []string{"docker.io/library/busybox:latest", "docker.io/library/busybox:1", "docker.io/library/other:x", "docker.io/library/busybox@sha256:" + strings.Repeat("a", 64)}
	for name, want := range map[string][]string{
		"busybox":                           {"busybox:latest", "busybox:1"},
		"busybox:1":                         {"busybox:1"},
		"other:x":                           {"other:x"},
		"sha256:" + strings.Repeat("b", 64): nil,
	} {
		if got := savedTags(name, full); !reflect.DeepEqual(got, want) {
			t.Errorf("savedTags(%q) = %v, want %v", name, got, want)
		}
	}
}
