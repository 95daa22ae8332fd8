package events

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/berth-dev/berth/errdefs"
)

// Filter is a `docker events --filter` set: key to values. Values of one key
// are alternatives (any may match); keys must all match. The exception is
// "label", as in Docker: every label value must match.
//
// Keys, as dockerd matches them (daemon/events/filter.go):
//
//   - type, scope: the event's Type, Scope, exactly.
//   - event: the Action exactly, or the part of it before ':' ("exec_start"
//     matches "exec_start: sh", "health_status" "health_status: healthy").
//   - container, network, volume, daemon (and plugin, service, node, secret,
//     config): the Actor's ID or its "name" attribute, in full or a prefix.
//     Docker matches these against events of every type; berth only against
//     events of that type, so container=ab does not match a network whose
//     name starts with "ab".
//   - image: the Actor's ID, the "image" attribute (the "name" attribute for
//     image events), or either without its tag or digest, exactly.
//   - label: "key" (present) or "key=value" against the Actor's attributes.
type Filter map[string][]string

// keys are the filter keys dockerd knows for events.
var keys = []string{"config", "container", "daemon", "event", "image", "label", "network", "node", "plugin", "scope", "secret", "service", "type", "volume"}

// Validate returns an error of class errdefs.ErrInvalidArgument for a key
// dockerd does not know ("invalid filter 'x'").
func (f Filter) Validate() error {
	bad := make([]string, 0)
	for k := range f {
		if !slices.Contains(keys, k) {
			bad = append(bad, k)
		}
	}
	if len(bad) == 0 {
		return nil
	}
	slices.Sort(bad)
	return fmt.Errorf("invalid filter '%s': %w", bad[0], errdefs.ErrInvalidArgument)
}

// FilterFromJSON decodes the "filters" query parameter of GET /events, in the
// form docker sends ({"type":{"container":true}}) or the older one
// ({"type":["container"]}). Empty input is no filter. Values set to false
// are left out.
func FilterFromJSON(b []byte) (Filter, error) {
	if len(b) == 0 {
		return Filter{}, nil
	}
	var m map[string]map[string]bool
	if err := json.Unmarshal(b, &m); err == nil {
		f := Filter{}
		for k, vs := range m {
			for v, on := range vs {
				if on {
					f[k] = append(f[k], v)
				}
			}
			slices.Sort(f[k])
		}
		return f, nil
	}
	var old map[string][]string
	if err := json.Unmarshal(b, &old); err != nil {
		return nil, fmt.Errorf("filters %q: %v: %w", b, err, errdefs.ErrInvalidArgument)
	}
	if old == nil {
		return Filter{}, nil
	}
	return Filter(old), nil
}

// Match reports whether e passes f.
func (f Filter) Match(e Event) bool {
	for k, vs := range f {
		if len(vs) == 0 {
			continue
		}
		var ok bool
		switch k {
		case "type":
			ok = slices.Contains(vs, e.Type)
		case "scope":
			ok = slices.Contains(vs, e.Scope)
		case "event":
			action, _, _ := strings.Cut(e.Action, ":")
			ok = slices.Contains(vs, e.Action) || slices.Contains(vs, action)
		case "image":
			ok = matchImage(vs, e)
		case "label":
			ok = matchLabels(vs, e.Actor.Attributes)
		default: // container, network, volume, daemon, plugin, ...
			ok = e.Type == k && (matchPrefix(vs, e.Actor.ID) || matchPrefix(vs, e.Actor.Attributes["name"]))
		}
		if !ok {
			return false
		}
	}
	return true
}

func matchPrefix(vs []string, s string) bool {
	if s == "" {
		return false
	}
	for _, v := range vs {
		if strings.HasPrefix(s, v) {
			return true
		}
	}
	return false
}

func matchImage(vs []string, e Event) bool {
	attr := "image"
	if e.Type == "image" {
		attr = "name"
	}
	name := e.Actor.Attributes[attr]
	for _, s := range []string{e.Actor.ID, name, stripTag(e.Actor.ID), stripTag(name)} {
		if s != "" && slices.Contains(vs, s) {
			return true
		}
	}
	return false
}

// stripTag returns a reference's familiar name without tag or digest:
// "docker.io/library/busybox:latest" -> "busybox".
func stripTag(ref string) string {
	if strings.HasPrefix(ref, "sha256:") {
		return ref // an ID, not a name with a tag
	}
	if i := strings.IndexByte(ref, '@'); i >= 0 {
		ref = ref[:i]
	}
	if i := strings.LastIndexByte(ref, ':'); i > strings.LastIndexByte(ref, '/') {
		ref = ref[:i]
	}
	if rest, ok := strings.CutPrefix(ref, "docker.io/"); ok {
		ref = rest
	} else if rest, ok := strings.CutPrefix(ref, "index.docker.io/"); ok {
		ref = rest
	}
	if rest, ok := strings.CutPrefix(ref, "library/"); ok && !strings.Contains(rest, "/") {
		ref = rest
	}
	return ref
}

// matchLabels is dockerd's MatchKVList: every value must match.
func matchLabels(vs []string, attrs map[string]string) bool {
	for _, v := range vs {
		k, want, hasValue := strings.Cut(v, "=")
		got, ok := attrs[k]
		if !ok || hasValue && got != want {
			return false
		}
	}
	return true
}
