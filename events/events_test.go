package events

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/errdefs"
)

var t0 = time.Date(2026, 11, 24, 20, 0, 0, 0, time.UTC)

// fakeClock makes the bus's clock settable.
func fakeClock(b *Bus, t time.Time) *time.Time {
	now := t
	var mu sync.Mutex
	b.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	return &now
}

func ctr(action, id, name string, attrs ...string) Event {
	a := map[string]string{"name": name, "image": "busybox:latest"}
	for i := 0; i+1 < len(attrs); i += 2 {
		a[attrs[i]] = attrs[i+1]
	}
	return Event{Type: "container", Action: action, Actor: Actor{ID: id, Attributes: a}}
}

func at(e Event, sec int) Event {
	t := t0.Add(time.Duration(sec) * time.Second)
	e.Time, e.TimeNano = t.Unix(), t.UnixNano()
	return e
}

func actions(es []Event) string {
	s := ""
	for _, e := range es {
		s += e.Action + " "
	}
	return s
}

func TestFilterMatch(t *testing.T) {
	c := ctr("start", "abc123", "web", "com.example.app", "shop", "tier", "front")
	exec := ctr("exec_start: sh -c date", "abc123", "web")
	health := ctr("health_status: healthy", "abc123", "web")
	img := Event{Type: "image", Action: "pull", Actor: Actor{ID: "sha256:feed", Attributes: map[string]string{"name": "docker.io/library/alpine:3.20"}}}
	net := Event{Type: "network", Action: "connect", Actor: Actor{ID: "net99", Attributes: map[string]string{"name": "webnet", "container": "abc123"}}}
	vol := Event{Type: "volume", Action: "mount", Actor: Actor{ID: "data", Attributes: map[string]string{"driver": "local"}}, Scope: "local"}
	daemon := Event{Type: "daemon", Action: "reload", Actor: Actor{ID: "DAEMONID", Attributes: map[string]string{"name": "host1"}}}
	for _, tc := range []struct {
		f    Filter
		e    Event
		want bool
	}{
		{Filter{}, c, true},
		{Filter{"type": {"container"}}, c, true},
		{Filter{"type": {"image", "network"}}, c, false},
		{Filter{"type": {"image", "network"}}, net, true},
		{Filter{"event": {"start"}}, c, true},
		{Filter{"event": {"stop", "die"}}, c, false},
		{Filter{"event": {"exec_start"}}, exec, true},
		{Filter{"event": {"exec_start: sh -c date"}}, exec, true},
		{Filter{"event": {"exec"}}, exec, false},
		{Filter{"event": {"health_status"}}, health, true},
		{Filter{"container": {"abc123"}}, c, true},
		{Filter{"container": {"abc"}}, c, true}, // ID prefix
		{Filter{"container": {"web"}}, c, true}, // name
		{Filter{"container": {"nope", "we"}}, c, true},
		{Filter{"container": {"xyz"}}, c, false},
		{Filter{"container": {"web"}}, net, false}, // a network named webnet is no container
		{Filter{"container": {"abc123"}}, img, false},
		{Filter{"image": {"busybox:latest"}}, c, true},
		{Filter{"image": {"busybox"}}, c, true}, // without the tag
		{Filter{"image": {"busy"}}, c, false},   // exact only
		{Filter{"image": {"alpine"}}, img, true},
		{Filter{"image": {"alpine:3.20"}}, img, false}, // the familiar name drops docker.io/library/ only with the tag
		{Filter{"image": {"docker.io/library/alpine:3.20"}}, img, true},
		{Filter{"image": {"sha256:feed"}}, img, true},
		{Filter{"image": {"sha256"}}, img, false},
		{Filter{"image": {"alpine"}}, net, false},
		{Filter{"label": {"com.example.app"}}, c, true},
		{Filter{"label": {"com.example.app=shop"}}, c, true},
		{Filter{"label": {"com.example.app=bank"}}, c, false},
		{Filter{"label": {"com.example.app=shop", "tier=front"}}, c, true},
		{Filter{"label": {"com.example.app=shop", "tier=back"}}, c, false}, // labels: all must match
		{Filter{"label": {"tier"}}, img, false},
		{Filter{"network": {"webnet"}}, net, true},
		{Filter{"network": {"net9"}}, net, true},
		{Filter{"network": {"webnet"}}, c, false},
		{Filter{"volume": {"data"}}, vol, true},
		{Filter{"volume": {"other"}}, vol, false},
		{Filter{"daemon": {"host1"}}, daemon, true},
		{Filter{"daemon": {"DAEMONID"}}, daemon, true},
		{Filter{"scope": {"local"}}, vol, true},
		{Filter{"scope": {"swarm"}}, vol, false},
		{Filter{"type": {"container"}, "event": {"start"}, "container": {"web"}}, c, true},
		{Filter{"type": {"container"}, "event": {"die"}, "container": {"web"}}, c, false},
		{Filter{"type": {}}, c, true}, // no values: no condition
	} {
		if got := tc.f.Match(tc.e); got != tc.want {
			t.Errorf("%v on %s %s %s: got %v, want %v", tc.f, tc.e.Type, tc.e.Action, tc.e.Actor.ID, got, tc.want)
		}
	}
}

func TestFilterValidate(t *testing.T) {
	if err := (Filter{"type": {"container"}, "label": {"a"}, "container": {"x"}}).Validate(); err != nil {
		t.Errorf("valid filter: %v", err)
	}
	err := Filter{"type": {"container"}, "status": {"running"}}.Validate()
	if !errors.Is(err, errdefs.ErrInvalidArgument) || err.Error() != "invalid filter 'status': invalid argument" {
		t.Errorf("got %v", err)
	}
}

func TestFilterFromJSON(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string
	}{
		{``, `map[]`},
		{`{}`, `map[]`},
		{`null`, `map[]`},
		{`{"type":{"container":true,"image":true},"event":{"die":false}}`, `map[type:[container image]]`},
		{`{"type":["container"],"label":["a=b"]}`, `map[label:[a=b] type:[container]]`},
	} {
		f, err := FilterFromJSON([]byte(tc.in))
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		if got := fmt.Sprint(f); got != tc.want {
			t.Errorf("%s: got %s, want %s", tc.in, got, tc.want)
		}
	}
	for _, bad := range []string{`[`, `{"type":"container"}`, `[1]`} {
		if _, err := FilterFromJSON([]byte(bad)); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("%s: got %v", bad, err)
		}
	}
}

func TestPublishFillsIn(t *testing.T) {
	b := New(0)
	fakeClock(b, t0)
	attrs := map[string]string{"name": "web"}
	b.Publish(Event{Type: "container", Action: "create", Actor: Actor{ID: "c1", Attributes: attrs}})
	attrs["name"] = "changed"
	b.Publish(Event{Type: "container", Action: "start", Time: t0.Unix() + 1})
	b.Publish(Event{Type: "container", Action: "die", TimeNano: t0.UnixNano() + 2e9 + 5, Scope: "swarm"})
	past, _, cancel := b.Subscribe(nil, t0, time.Time{})
	defer cancel()
	if len(past) != 3 {
		t.Fatalf("got %d events", len(past))
	}
	if e := past[0]; e.Time != t0.Unix() || e.TimeNano != t0.UnixNano() || e.Scope != "local" || e.Actor.Attributes["name"] != "web" {
		t.Errorf("first: %+v", e)
	}
	if e := past[1]; e.TimeNano != (t0.Unix()+1)*1e9 {
		t.Errorf("second: %+v", e)
	}
	if e := past[2]; e.Time != t0.Unix()+2 || e.Scope != "swarm" {
		t.Errorf("third: %+v", e)
	}
	if len(b.ring) != DefaultKeep {
		t.Errorf("keep %d, want %d", len(b.ring), DefaultKeep)
	}
}

func TestRingWraps(t *testing.T) {
	b := New(5)
	for i := range 12 {
		b.Publish(at(ctr(fmt.Sprint(i), "c", "n"), i))
	}
	past, _, cancel := b.Subscribe(nil, t0, time.Time{})
	cancel()
	if got := actions(past); got != "7 8 9 10 11 " {
		t.Errorf("kept %q", got)
	}
}

func TestReplay(t *testing.T) {
	b := New(100)
	fakeClock(b, t0.Add(time.Hour))
	for i := range 10 {
		e := ctr(fmt.Sprint(i), "c", "n")
		if i%2 == 1 {
			e.Type = "image"
		}
		b.Publish(at(e, i))
	}
	ts := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	for _, tc := range []struct {
		name         string
		f            Filter
		since, until time.Time
		want         string
		live         bool
	}{
		{"no since: only new", nil, time.Time{}, time.Time{}, "", true},
		{"since", nil, ts(6), time.Time{}, "6 7 8 9 ", true},
		{"since and filter", Filter{"type": {"container"}}, ts(3), time.Time{}, "4 6 8 ", true},
		{"since and until, both inclusive", nil, ts(2), ts(4), "2 3 4 ", false},
		{"until only: all kept before it", nil, time.Time{}, ts(2), "0 1 2 ", false},
		{"until in the future", nil, ts(8), t0.Add(2 * time.Hour), "8 9 ", true},
	} {
		past, ch, cancel := b.Subscribe(tc.f, tc.since, tc.until)
		if got := actions(past); got != tc.want {
			t.Errorf("%s: replayed %q, want %q", tc.name, got, tc.want)
		}
		select {
		case _, ok := <-ch:
			if ok || tc.live {
				t.Errorf("%s: channel open=%v, want live=%v", tc.name, ok, tc.live)
			}
		default:
			if !tc.live {
				t.Errorf("%s: channel not closed", tc.name)
			}
		}
		cancel()
	}
	if n := b.Subscribers(); n != 0 {
		t.Errorf("%d subscribers left", n)
	}
}

func TestLiveNoGapNoDuplicate(t *testing.T) {
	b := New(1000)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range 500 {
			b.Publish(ctr(fmt.Sprint(i), "c", "n"))
		}
	}()
	time.Sleep(time.Millisecond)
	past, ch, cancel := b.Subscribe(Filter{"type": {"container"}}, time.Unix(0, 1), time.Time{})
	wg.Wait()
	cancel()
	got := past
	for e := range ch {
		got = append(got, e)
	}
	for i, e := range got {
		if e.Action != fmt.Sprint(i) {
			t.Fatalf("event %d is %s", i, e.Action)
		}
	}
	if len(got) != 500 {
		t.Errorf("got %d events, want 500", len(got))
	}
}

func TestLiveFilterAndUntil(t *testing.T) {
	b := New(10)
	_, ch, cancel := b.Subscribe(Filter{"event": {"die"}}, time.Time{}, time.Now().Add(200*time.Millisecond))
	defer cancel()
	b.Publish(ctr("start", "c", "n"))
	b.Publish(ctr("die", "c", "n"))
	b.Publish(at(ctr("die", "late", "n"), 1e6)) // stamped after until: not sent
	select {
	case e := <-ch:
		if e.Action != "die" || e.Actor.ID != "c" {
			t.Errorf("got %+v", e)
		}
	case <-time.After(time.Second):
		t.Fatal("no event")
	}
	select {
	case e, ok := <-ch:
		if ok {
			t.Fatalf("got %+v after until", e)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("channel not closed when until passed")
	}
	if n := b.Subscribers(); n != 0 {
		t.Errorf("%d subscribers after until", n)
	}
}

func TestSlowSubscriberDropped(t *testing.T) {
	b := New(10)
	_, slow, cancelSlow := b.Subscribe(nil, time.Time{}, time.Time{})
	defer cancelSlow()
	_, fast, cancelFast := b.Subscribe(nil, time.Time{}, time.Time{})
	start := time.Now()
	const total = SubscriberBuffer + 100
	for i := range total {
		b.Publish(ctr(fmt.Sprint(i), "c", "n"))
		if e, ok := <-fast; !ok || e.Action != fmt.Sprint(i) { // keeps up
			t.Fatalf("fast subscriber: got %v, %v", e.Action, ok)
		}
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Publish took %v with a stuck subscriber", d)
	}
	n := 0
	for range slow { // closed after its buffer filled
		n++
	}
	if n != SubscriberBuffer {
		t.Errorf("slow subscriber got %d, want %d then close", n, SubscriberBuffer)
	}
	if b.Subscribers() != 1 {
		t.Errorf("%d subscribers, want the fast one", b.Subscribers())
	}
	cancelFast()
	if _, ok := <-fast; ok {
		t.Error("cancel did not close the channel")
	}
	cancelSlow() // after the drop: harmless
	cancelFast() // twice: harmless
	if b.Subscribers() != 0 {
		t.Errorf("subscribers left")
	}
}

func TestConcurrent(t *testing.T) {
	b := New(64)
	var wg sync.WaitGroup
	for p := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			attrs := map[string]string{"k": "v"} // reused: Publish copies it
			for i := range 300 {
				attrs["name"] = fmt.Sprint(p, i)
				b.Publish(Event{Type: "container", Action: "start", Actor: Actor{ID: "c", Attributes: attrs}})
			}
		}()
	}
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				past, ch, cancel := b.Subscribe(Filter{"label": {"k=v"}}, time.Unix(0, 1), time.Time{})
				n := len(past)
				for range 3 {
					select {
					case e, ok := <-ch:
						if ok && e.Actor.Attributes["name"] != "" {
							n++
						}
					default:
					}
				}
				_ = n
				cancel()
			}
		}()
	}
	wg.Wait()
}
