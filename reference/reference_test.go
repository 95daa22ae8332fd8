package reference

import (
	"errors"
	"strings"
	"testing"

	dref "github.com/distribution/reference"
)

const hex64 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestParse(t *testing.T) {
	cases := []struct{ in, full, familiar string }{
		{"busybox", "docker.io/library/busybox", "busybox"},
		{"busybox:1.36", "docker.io/library/busybox:1.36", "busybox:1.36"},
		{"library/busybox", "docker.io/library/busybox", "busybox"},
		{"docker.io/busybox", "docker.io/library/busybox", "busybox"},
		{"index.docker.io/user/app:v1", "docker.io/user/app:v1", "user/app:v1"},
		{"user/app", "docker.io/user/app", "user/app"},
		{"localhost/app", "localhost/app", "localhost/app"},
		{"localhost:5000/a/b:t", "localhost:5000/a/b:t", "localhost:5000/a/b:t"},
		{"127.0.0.1:5000/x", "127.0.0.1:5000/x", "127.0.0.1:5000/x"},
		{"[::1]:5000/x:y", "[::1]:5000/x:y", "[::1]:5000/x:y"},
		{"Registry.Example.com/a__b/c-d.e", "Registry.Example.com/a__b/c-d.e", "Registry.Example.com/a__b/c-d.e"},
		{"a---b", "docker.io/library/a---b", "a---b"},
		{"busybox@sha256:" + hex64, "docker.io/library/busybox@sha256:" + hex64, "busybox@sha256:" + hex64},
		{"busybox:t@sha256:" + hex64, "docker.io/library/busybox:t@sha256:" + hex64, "busybox:t@sha256:" + hex64},
	}
	for _, c := range cases {
		r, err := Parse(c.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", c.in, err)
			continue
		}
		if r.String() != c.full || r.Familiar() != c.familiar {
			t.Errorf("Parse(%q) = %q / %q, want %q / %q", c.in, r.String(), r.Familiar(), c.full, c.familiar)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, in := range []string{
		"", ":tag", "Upper", "a//b", "a/", "/a", "a_", "-a", "a..b", "a___b", "a:", "a:-t", "a:" + strings.Repeat("t", 129),
		"a@sha256:abc", "a@md5:" + hex64, "a@sha256:" + strings.ToUpper(hex64), hex64, "host:port/x", "ho_st.com/x",
		"a/b:c:d", strings.Repeat("a", 256),
	} {
		if _, err := Parse(in); err == nil || !errors.Is(err, ErrFormat) {
			t.Errorf("Parse(%q) = %v, want an invalid-format error", in, err)
		}
	}
}

func TestWithDefaultTag(t *testing.T) {
	r, _ := Parse("busybox")
	if r.WithDefaultTag().String() != "docker.io/library/busybox:latest" {
		t.Error(r.WithDefaultTag())
	}
	r, _ = Parse("busybox@sha256:" + hex64)
	if r.WithDefaultTag().Tag != "" {
		t.Error("a digest reference gets no default tag")
	}
}

// The parser must agree with distribution/reference (used here only, in a
// test, so its regexps never reach the binary) on what it accepts and how it
// normalises.
func FuzzAgreesWithDistribution(f *testing.F) {
	for _, s := range []string{"busybox", "a/b:c", "localhost:5000/x@sha256:" + hex64, "A/b", "a..b", "[::1]/x", "x:1.0-rc_2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ours, err := Parse(s)
		theirs, derr := dref.ParseNormalizedNamed(s)
		if derr != nil {
			if err == nil && !strings.Contains(derr.Error(), "unsupported digest algorithm") {
				t.Fatalf("%q: we accept (%s), distribution refuses: %v", s, ours, derr)
			}
			return
		}
		if err != nil {
			// We are stricter on digests (sha256/sha512, lower-case, exact length).
			if strings.Contains(s, "@") {
				return
			}
			t.Fatalf("%q: we refuse (%v), distribution accepts %s", s, err, theirs)
		}
		if ours.String() != theirs.String() {
			t.Fatalf("%q: ours %s, distribution %s", s, ours, theirs)
		}
		if ours.Familiar() != dref.FamiliarString(theirs) {
			t.Fatalf("%q: familiar ours %s, distribution %s", s, ours.Familiar(), dref.FamiliarString(theirs))
		}
	})
}
