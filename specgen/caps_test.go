package specgen

import (
	"reflect"
	"testing"
)

func TestCapabilities(t *testing.T) {
	without := func(drop ...string) []string {
		var out []string
		for _, c := range defaultCaps {
			if !contains(drop, c) {
				out = append(out, c)
			}
		}
		return out
	}
	for _, tc := range []struct {
		name      string
		add, drop []string
		want      []string
	}{
		{"defaults", nil, nil, defaultCaps},
		{"add short name", []string{"NET_ADMIN"}, nil, append(clone(defaultCaps), "CAP_NET_ADMIN")},
		{"add lower case with prefix", []string{"cap_sys_ptrace"}, nil, append(clone(defaultCaps), "CAP_SYS_PTRACE")},
		{"add one already there", []string{"chown"}, nil, defaultCaps},
		{"drop", nil, []string{"NET_RAW", "Cap_Mknod"}, without("CAP_NET_RAW", "CAP_MKNOD")},
		{"drop one not there", nil, []string{"SYS_ADMIN"}, defaultCaps},
		{"drop then add the same", []string{"NET_RAW"}, []string{"NET_RAW"}, append(without("CAP_NET_RAW"), "CAP_NET_RAW")},
		{"drop all, add some", []string{"chown", "KILL"}, []string{"ALL"}, []string{"CAP_CHOWN", "CAP_KILL"}},
		{"drop all", nil, []string{"all"}, []string{}},
		{"add all", []string{"ALL"}, nil, allCaps},
		{"add all, drop some", []string{"all"}, []string{"SYS_ADMIN", "CAP_NET_ADMIN"}, func() []string {
			var out []string
			for _, c := range allCaps {
				if c != "CAP_SYS_ADMIN" && c != "CAP_NET_ADMIN" {
					out = append(out, c)
				}
			}
			return out
		}()},
		// Docker: ALL in --cap-add keeps every capability not named in
		// --cap-drop, and "ALL" names none.
		{"add all wins over drop all", []string{"ALL"}, []string{"ALL"}, allCaps},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := capabilities(tc.add, tc.drop, false)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestUnknownCapability(t *testing.T) {
	for _, tc := range []struct {
		add, drop []string
		want      string
	}{
		{[]string{"NET_ADMIN", "CAP_FLY"}, nil, `--cap-add: unknown capability "CAP_FLY"`},
		{nil, []string{"teleport"}, `--cap-drop: unknown capability "teleport"`},
		{[]string{""}, nil, "unknown capability"},
	} {
		o := base()
		o.CapAdd, o.CapDrop = tc.add, tc.drop
		_, err := Generate(o)
		wantInvalid(t, err, tc.want)
	}
}

func TestAllCapabilitiesIsACopy(t *testing.T) {
	a := AllCapabilities()
	a[0] = "x"
	if allCaps[0] != "CAP_CHOWN" {
		t.Error("callers can change the package's lists")
	}
}
