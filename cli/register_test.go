package cli

import (
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func TestCommandWord(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "busybox"}, "run"},
		{[]string{"-H", "unix:///x.sock", "run", "-d"}, "run"},
		{[]string{"--host", "tcp://h:1", "ps"}, "ps"},
		{[]string{"--host=unix:///x", "exec", "c", "ls"}, "exec"},
		{[]string{"-Hunix:///x", "logs"}, "logs"},
		{[]string{"--debug", "run"}, ""},
		{[]string{"-H"}, ""},
		{nil, ""},
	} {
		if got := commandWord(tc.args); got != tc.want {
			t.Errorf("commandWord(%q) = %q, want %q", tc.args, got, tc.want)
		}
	}
}

// A command built alone by RegisterFor is the one of the whole tree: the
// same flags (names, shorthands, defaults, usage, hidden), aliases and
// subcommands, and the global -H.
func TestRegisterForBuildsTheSameCommand(t *testing.T) {
	full := &cobra.Command{Use: "berth"}
	Register(full)
	for name := range quickCmds {
		alone := &cobra.Command{Use: "berth"}
		if !RegisterFor(alone, []string{"-H", "unix:///x", name, "--help"}) {
			t.Fatalf("%s: not built alone", name)
		}
		if len(alone.Commands()) != 1 {
			t.Fatalf("%s: the root holds %d commands", name, len(alone.Commands()))
		}
		a, _, err := alone.Find([]string{name})
		if err != nil {
			t.Fatal(err)
		}
		f, _, err := full.Find([]string{name})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := describe(a), describe(f); got != want {
			t.Errorf("%s alone:\n%s\nin the whole tree:\n%s", name, got, want)
		}
		if alone.PersistentFlags().Lookup("host") == nil {
			t.Errorf("%s alone: no -H", name)
		}
	}
	if RegisterFor(&cobra.Command{Use: "berth"}, []string{"image", "ls"}) {
		t.Error("image ls was built alone")
	}
}

func describe(c *cobra.Command) string {
	var b strings.Builder
	b.WriteString(c.Use + " | " + c.Short + " | " + strings.Join(c.Aliases, ",") + "\n")
	var flags []string
	c.LocalFlags().VisitAll(func(f *pflag.Flag) {
		flags = append(flags, strings.Join([]string{f.Name, f.Shorthand, f.DefValue, f.Usage, f.Value.Type(), boolString(f.Hidden)}, "|"))
	})
	slices.Sort(flags)
	b.WriteString(strings.Join(flags, "\n"))
	for _, s := range c.Commands() {
		b.WriteString("\n> " + describe(s))
	}
	return b.String()
}

func boolString(v bool) string {
	if v {
		return "hidden"
	}
	return ""
}
