package ids

import "testing"

func TestNew(t *testing.T) {
	a, b := New(), New()
	if len(a) != 64 || a == b {
		t.Fatalf("ids %q %q: want 64 hex digits, different each time", a, b)
	}
}

func TestValidName(t *testing.T) {
	for _, ok := range []string{"ab", "web-1", "a.b_c", "0x"} {
		if !ValidName(ok, 2) {
			t.Errorf("%q refused", ok)
		}
	}
	for _, bad := range []string{"", "a", "-ab", "_ab", "a b", "a/b", "../x", "é1"} {
		if ValidName(bad, 2) {
			t.Errorf("%q accepted", bad)
		}
	}
	if !ValidName("a", 1) || ValidName("", 1) {
		t.Error("minimum length 1")
	}
}
