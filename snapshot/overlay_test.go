package snapshot

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
)

func requireOverlay(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("overlay mounts need root")
	}
	b, err := os.ReadFile("/proc/filesystems")
	if err != nil || !strings.Contains(string(b), "\toverlay\n") {
		t.Skip("no overlayfs")
	}
}

func TestOverlay(t *testing.T) {
	requireOverlay(t)
	testSuite(t, func(t *testing.T) *Store {
		s, err := Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestChainIDs(t *testing.T) {
	d := func(s string) digest.Digest { return digest.Canonical.FromString(s) }
	a, b, c := d("a"), d("b"), d("c")
	if a != "sha256:ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb" ||
		b != "sha256:3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d" {
		t.Fatal("sha256 of a or b is not what sha256sum says")
	}
	// By hand, from the shell:
	//   printf 'sha256:%s sha256:%s' $(printf a | sha256sum | cut -c1-64) \
	//     $(printf b | sha256sum | cut -c1-64) | sha256sum
	ab := digest.Digest("sha256:51c0c8ace48498d6f5fee6b0592cc06f2da0f3cbe09c5a34a97dce85c3889676")
	abc := digest.Canonical.FromString(string(ab) + " " + string(c))
	for _, tc := range []struct {
		name string
		in   []digest.Digest
		want []digest.Digest
	}{
		{"none", nil, nil},
		{"one", []digest.Digest{a}, []digest.Digest{a}},
		{"two", []digest.Digest{a, b}, []digest.Digest{a, ab}},
		{"three", []digest.Digest{a, b, c}, []digest.Digest{a, ab, abc}},
		{"order matters", []digest.Digest{b, a}, []digest.Digest{b, d(string(b) + " " + string(a))}},
		{"repeated layer", []digest.Digest{a, a}, []digest.Digest{a, d(string(a) + " " + string(a))}},
	} {
		if got := ChainIDs(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("%s: ChainIDs(%v) = %v, want %v", tc.name, tc.in, got, tc.want)
		}
	}
}
