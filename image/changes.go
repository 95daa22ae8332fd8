package image

import (
	"encoding/json"
	"fmt"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-dev/berth/errdefs"
)

// applyChanges applies "docker import --change" instructions (Dockerfile
// syntax) to an image config: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, USER,
// VOLUME, WORKDIR, STOPSIGNAL.
func applyChanges(cfg *ocispec.ImageConfig, changes []string) error {
	for _, ch := range changes {
		ch = strings.TrimSpace(ch)
		if ch == "" {
			continue
		}
		instr, rest, _ := strings.Cut(ch, " ")
		rest = strings.TrimSpace(rest)
		bad := func(why string) error {
			return fmt.Errorf("--change %q: %s: %w", ch, why, errdefs.ErrInvalidArgument)
		}
		switch strings.ToUpper(instr) {
		case "CMD", "ENTRYPOINT":
			args, err := commandArgs(rest)
			if err != nil {
				return bad(err.Error())
			}
			if strings.EqualFold(instr, "CMD") {
				cfg.Cmd = args
			} else {
				cfg.Entrypoint = args
			}
		case "ENV":
			kvs, err := keyValues(rest, true)
			if err != nil {
				return bad(err.Error())
			}
			for _, kv := range kvs {
				cfg.Env = setEnv(cfg.Env, kv[0], kv[1])
			}
		case "LABEL":
			kvs, err := keyValues(rest, false)
			if err != nil {
				return bad(err.Error())
			}
			if cfg.Labels == nil {
				cfg.Labels = map[string]string{}
			}
			for _, kv := range kvs {
				cfg.Labels[kv[0]] = kv[1]
			}
		case "EXPOSE":
			if rest == "" {
				return bad("EXPOSE needs a port")
			}
			if cfg.ExposedPorts == nil {
				cfg.ExposedPorts = map[string]struct{}{}
			}
			for _, p := range strings.Fields(rest) {
				port, proto, _ := strings.Cut(p, "/")
				if proto == "" {
					proto = "tcp"
				}
				if !isPort(port) || (proto != "tcp" && proto != "udp" && proto != "sctp") {
					return bad(fmt.Sprintf("invalid port %q", p))
				}
				cfg.ExposedPorts[port+"/"+proto] = struct{}{}
			}
		case "USER":
			if rest == "" {
				return bad("USER needs a user")
			}
			cfg.User = rest
		case "WORKDIR":
			if !strings.HasPrefix(rest, "/") {
				return bad("WORKDIR must be an absolute path")
			}
			cfg.WorkingDir = rest
		case "VOLUME":
			vols, err := commandArgs(rest)
			if err != nil || len(vols) == 0 {
				return bad("VOLUME needs a path")
			}
			if len(vols) == 3 && vols[0] == "/bin/sh" {
				vols = strings.Fields(rest) // shell form: paths separated by spaces
			}
			if cfg.Volumes == nil {
				cfg.Volumes = map[string]struct{}{}
			}
			for _, v := range vols {
				cfg.Volumes[v] = struct{}{}
			}
		case "STOPSIGNAL":
			if rest == "" {
				return bad("STOPSIGNAL needs a signal")
			}
			cfg.StopSignal = rest
		default:
			return bad(fmt.Sprintf("%s is not supported here (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD is not, STOPSIGNAL, USER, VOLUME, WORKDIR)", strings.ToUpper(instr)))
		}
	}
	return nil
}

// commandArgs reads the JSON form ["a","b"] or the shell form (run by /bin/sh -c).
func commandArgs(s string) ([]string, error) {
	if strings.HasPrefix(s, "[") {
		var args []string
		if err := json.Unmarshal([]byte(s), &args); err != nil {
			return nil, fmt.Errorf("not a JSON array of strings")
		}
		return args, nil
	}
	if s == "" {
		return nil, fmt.Errorf("no command")
	}
	return []string{"/bin/sh", "-c", s}, nil
}

// keyValues reads "K=V K2="v 2"" or the legacy "K V" form.
func keyValues(s string, legacy bool) ([][2]string, error) {
	if s == "" {
		return nil, fmt.Errorf("needs KEY=VALUE")
	}
	if !strings.Contains(strings.Fields(s)[0], "=") {
		if !legacy {
			return nil, fmt.Errorf("needs KEY=VALUE")
		}
		k, v, _ := strings.Cut(s, " ")
		return [][2]string{{k, strings.TrimSpace(v)}}, nil
	}
	var out [][2]string
	for _, w := range splitWords(s) {
		k, v, ok := strings.Cut(w, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%q is not KEY=VALUE", w)
		}
		out = append(out, [2]string{k, v})
	}
	return out, nil
}

// splitWords splits on spaces outside double or single quotes and removes
// the quotes.
func splitWords(s string) []string {
	var out []string
	var cur strings.Builder
	var quote rune
	inWord := false
	for _, c := range s {
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			} else {
				cur.WriteRune(c)
			}
		case c == '"' || c == '\'':
			quote = c
			inWord = true
		case c == ' ' || c == '\t':
			if inWord {
				out = append(out, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(c)
			inWord = true
		}
	}
	if inWord {
		out = append(out, cur.String())
	}
	return out
}

func setEnv(env []string, k, v string) []string {
	for i, e := range env {
		if strings.HasPrefix(e, k+"=") {
			env[i] = k + "=" + v
			return env
		}
	}
	return append(env, k+"="+v)
}

func isPort(p string) bool {
	lo, hi, isRange := strings.Cut(p, "-")
	check := func(s string) bool {
		n := 0
		for _, c := range s {
			if c < '0' || c > '9' {
				return false
			}
			n = n*10 + int(c-'0')
			if n > 65535 {
				return false
			}
		}
		return s != "" && n > 0
	}
	return check(lo) && (!isRange || check(hi))
}
