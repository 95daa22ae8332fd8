// Package events owns the daemon's event bus: what `docker events` and
// GET /events stream. Publishers (the engine, image, network and volume
// code) call Publish; each API client Subscribes with a Filter.
//
// The bus keeps the last events in a ring buffer, so a subscriber that asks
// for --since gets them replayed before the live ones, with no gap and no
// duplicate between the two.
//
// Package events is at level 1: it imports only the standard library and
// berth's level-0 packages (errdefs), never the Docker API types; the server
// translates Event to the wire's events.Message, field for field.
package events

import (
	"maps"
	"sync"
	"time"
)

// Actor is what an event is about: a container, image, network, volume or
// the daemon, by ID, with attributes (a container's are its labels plus
// "name", "image", "exitCode" ...).
type Actor struct {
	ID         string
	Attributes map[string]string
}

// Event is one event, the fields of Docker's events.Message.
type Event struct {
	Type     string // "container", "image", "network", "volume", "daemon"
	Action   string // "create", "start", "die", ..., "exec_start: sh -c date"
	Actor    Actor
	Scope    string // "local"
	Time     int64  // Unix seconds
	TimeNano int64  // Unix nanoseconds
}

// DefaultKeep is how many events a bus keeps when New is given keep <= 0
// (Docker keeps 256).
const DefaultKeep = 1024

// SubscriberBuffer is how many events a subscriber may fall behind before
// the bus gives up on it (Docker's is 1024 too).
const SubscriberBuffer = 1024

// Bus delivers events to subscribers. It is safe for concurrent use.
type Bus struct {
	now func() time.Time

	mu   sync.Mutex
	ring []Event // ring[(head+i)%len] for i < n, oldest first
	head int
	n    int
	subs map[*subscriber]struct{}
}

type subscriber struct {
	ch    chan Event
	f     Filter
	until int64 // UnixNano, 0 for none
	timer *time.Timer
}

// New returns a bus that keeps the last keep events for replay (DefaultKeep
// if keep <= 0).
func New(keep int) *Bus {
	if keep <= 0 {
		keep = DefaultKeep
	}
	return &Bus{now: time.Now, ring: make([]Event, keep), subs: map[*subscriber]struct{}{}}
}

// Publish records e and sends it to the subscribers it matches. It fills in
// Time and TimeNano from the clock when both are zero (one from the other
// when only one is set) and Scope "local" when empty, and copies the
// attributes, so the caller may reuse its map.
//
// Publish never waits for a subscriber: one whose buffer (SubscriberBuffer
// events) is full is dropped, its channel closed, so that its client sees
// the stream end rather than silently miss events; it can resubscribe with
// since set to the last event it got.
func (b *Bus) Publish(e Event) {
	switch {
	case e.Time == 0 && e.TimeNano == 0:
		t := b.now()
		e.Time, e.TimeNano = t.Unix(), t.UnixNano()
	case e.TimeNano == 0:
		e.TimeNano = e.Time * int64(time.Second)
	case e.Time == 0:
		e.Time = e.TimeNano / int64(time.Second)
	}
	if e.Scope == "" {
		e.Scope = "local"
	}
	if e.Actor.Attributes != nil {
		e.Actor.Attributes = maps.Clone(e.Actor.Attributes)
	}

	b.mu.Lock()
	defer b.mu.Unlock()
	if b.n < len(b.ring) {
		b.ring[(b.head+b.n)%len(b.ring)] = e
		b.n++
	} else {
		b.ring[b.head] = e
		b.head = (b.head + 1) % len(b.ring)
	}
	for s := range b.subs {
		if s.until != 0 && e.TimeNano > s.until || !s.f.Match(e) {
			continue
		}
		select {
		case s.ch <- e:
		default:
			b.dropLocked(s) // too slow
		}
	}
}

// Subscribe returns the kept events that match f and the time bounds, oldest
// first, and a channel of the matching events published from now on.
// Following Docker:
//
//   - with since and until both zero, nothing is replayed, only new events;
//   - otherwise the kept events with since <= time <= until are replayed (a
//     zero since is no lower bound; a zero until is no upper bound);
//   - if until is not zero and not after the clock, ch is closed at once
//     (only the past); if it is later, ch is closed when the clock passes it.
//
// ch is also closed when the subscriber falls too far behind (see Publish).
// Events are shared between subscribers: treat them, and their Attributes,
// as read-only.
// cancel releases the subscription and closes ch; calling it again is
// harmless. Callers check that since is not after until (Docker's API
// refuses that).
func (b *Bus) Subscribe(f Filter, since, until time.Time) (past []Event, ch <-chan Event, cancel func()) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !since.IsZero() || !until.IsZero() {
		var lo, hi int64
		if !since.IsZero() {
			lo = since.UnixNano()
		}
		if !until.IsZero() {
			hi = until.UnixNano()
		}
		for i := range b.n {
			e := b.ring[(b.head+i)%len(b.ring)]
			if e.TimeNano >= lo && (hi == 0 || e.TimeNano <= hi) && f.Match(e) {
				past = append(past, e)
			}
		}
	}
	now := b.now()
	if !until.IsZero() && !until.After(now) {
		c := make(chan Event)
		close(c)
		return past, c, func() {}
	}
	s := &subscriber{ch: make(chan Event, SubscriberBuffer), f: f}
	b.subs[s] = struct{}{}
	cancel = func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		b.dropLocked(s)
	}
	if !until.IsZero() {
		s.until = until.UnixNano()
		s.timer = time.AfterFunc(until.Sub(now), cancel)
	}
	return past, s.ch, cancel
}

func (b *Bus) dropLocked(s *subscriber) {
	if _, ok := b.subs[s]; !ok {
		return
	}
	delete(b.subs, s)
	close(s.ch)
	if s.timer != nil {
		s.timer.Stop()
	}
}

// Subscribers returns how many subscriptions are live (for /info and tests).
func (b *Bus) Subscribers() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.subs)
}
