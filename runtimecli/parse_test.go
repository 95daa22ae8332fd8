package runtimecli

import (
	"testing"
)

func TestParseBytes(t *testing.T) {
	for in, want := range map[string]int64{"512": 512, "64k": 64 << 10, "128m": 128 << 20, "1g": 1 << 30, "2GB": 2 << 30, "-1": -1} {
		got, err := parseBytes(in)
		if err != nil || got != want {
			t.Errorf("parseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "x", "-5", "12q"} {
		if _, err := parseBytes(bad); err == nil {
			t.Errorf("parseBytes(%q): want an error", bad)
		}
	}
}

func TestParseUser(t *testing.T) {
	u, err := parseUser("1000:100")
	if err != nil || u.UID != 1000 || u.GID != 100 {
		t.Errorf("parseUser = %+v, %v", u, err)
	}
	if _, err := parseUser("root"); err == nil {
		t.Error("names are not supported: want an error")
	}
}
