package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/moby/moby/api/types/container"
	apievents "github.com/moby/moby/api/types/events"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/events"
)

func (s *Server) opsRoutes() {
	m := s.mux
	m.HandleFunc("GET /containers/{id}/top", s.containerTop)
	m.HandleFunc("GET /containers/{id}/stats", s.containerStats)
	m.HandleFunc("POST /containers/{id}/update", s.containerUpdate)
	m.HandleFunc("GET /events", s.eventsStream)
	m.HandleFunc("POST /commit", s.containerCommit)
	m.HandleFunc("GET /containers/{id}/export", s.containerExport)
}

func (s *Server) containerCommit(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	ref := q.Get("repo")
	if ref != "" && q.Get("tag") != "" {
		ref += ":" + q.Get("tag")
	}
	req := engine.CommitRequest{Ref: ref, Comment: q.Get("comment"), Author: q.Get("author"), Changes: q["changes"],
		Pause: q.Get("pause") == "" || boolQuery(r, "pause")}
	img, err := s.engine.Commit(r.Context(), q.Get("container"), req)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]string{"Id": img.ID.String()})
}

func (s *Server) containerExport(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if _, err := s.engine.Get(id); err != nil {
		writeError(w, err)
		return
	}
	cw := &countWriter{w: w, header: func() { w.Header().Set("Content-Type", "application/x-tar") }}
	if err := s.engine.Export(r.Context(), id, cw); err != nil {
		if cw.n == 0 {
			writeError(w, err)
			return
		}
		// The tar has begun: an error can only cut it short.
		panic(http.ErrAbortHandler)
	}
}

// countWriter counts what went through and sets headers before the first
// byte.
type countWriter struct {
	w      http.ResponseWriter
	n      int64
	header func()
}

func (c *countWriter) Write(p []byte) (int, error) {
	if c.n == 0 && c.header != nil {
		c.header()
		c.header = nil
	}
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func (s *Server) containerTop(w http.ResponseWriter, r *http.Request) {
	titles, procs, err := s.engine.Top(r.PathValue("id"), r.URL.Query().Get("ps_args"))
	if err != nil {
		writeError(w, err)
		return
	}
	if procs == nil {
		procs = [][]string{}
	}
	writeJSON(w, http.StatusOK, container.TopResponse{Titles: titles, Processes: procs})
}

func apiCPU(st *engine.Stats) container.CPUStats {
	return container.CPUStats{
		CPUUsage: container.CPUUsage{TotalUsage: st.CPUTotal, PercpuUsage: st.PerCPU,
			UsageInKernelmode: st.CPUKernel, UsageInUsermode: st.CPUUser},
		SystemUsage: st.SystemCPU, OnlineCPUs: st.OnlineCPUs,
		ThrottlingData: container.ThrottlingData{Periods: st.ThrottlePeriods, ThrottledPeriods: st.Throttled, ThrottledTime: st.ThrottledTime},
	}
}

func blkio(es []engine.BlkioEntry) []container.BlkioStatEntry {
	out := []container.BlkioStatEntry{}
	for _, e := range es {
		out = append(out, container.BlkioStatEntry{Major: e.Major, Minor: e.Minor, Op: e.Op, Value: e.Value})
	}
	return out
}

// containerStats is GET /containers/{id}/stats: one sample (stream=false,
// with the previous CPU figures one second earlier unless one-shot), or a
// sample a second until the client goes or the container stops.
func (s *Server) containerStats(w http.ResponseWriter, r *http.Request) {
	c, err := s.engine.Get(r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	stream := r.URL.Query().Get("stream") == "" || boolQuery(r, "stream")
	oneShot := boolQuery(r, "one-shot")
	w.Header().Set("Content-Type", "application/json")
	if !c.State.Running() {
		// Docker answers a stopped container with an empty sample.
		writeJSON(w, http.StatusOK, container.StatsResponse{ID: c.ID, Name: "/" + c.Name, OSType: "linux"})
		return
	}
	enc := json.NewEncoder(w)
	flusher, _ := w.(http.Flusher)
	var prev *engine.Stats
	started := false
	for {
		st, err := s.engine.Stats(c.ID)
		if err != nil {
			if !started {
				writeError(w, err)
			}
			return
		}
		if prev == nil && !stream && !oneShot {
			// docker stats --no-stream shows a CPU % over a second.
			prev = st
			select {
			case <-time.After(time.Second):
			case <-r.Context().Done():
				return
			}
			continue
		}
		resp := container.StatsResponse{
			ID: c.ID, Name: "/" + c.Name, OSType: "linux", Read: st.Read,
			CPUStats: apiCPU(st),
			MemoryStats: container.MemoryStats{Usage: st.MemUsage, MaxUsage: st.MemMaxUsage, Limit: st.MemLimit,
				Failcnt: st.MemFail, Stats: st.MemStats},
			PidsStats:  container.PidsStats{Current: st.PidsCurrent, Limit: st.PidsLimit},
			BlkioStats: container.BlkioStats{IoServiceBytesRecursive: blkio(st.BlkioBytes), IoServicedRecursive: blkio(st.BlkioOps)},
		}
		if prev != nil {
			resp.PreRead, resp.PreCPUStats = prev.Read, apiCPU(prev)
		}
		if !started {
			w.WriteHeader(http.StatusOK)
			started = true
		}
		if err := enc.Encode(resp); err != nil {
			return
		}
		if !stream {
			return
		}
		if flusher != nil {
			flusher.Flush()
		}
		prev = st
		select {
		case <-time.After(time.Second):
		case <-r.Context().Done():
			return
		}
	}
}

func (s *Server) containerUpdate(w http.ResponseWriter, r *http.Request) {
	var req container.UpdateConfig
	if err := decodeBody(r, &req); err != nil {
		writeError(w, err)
		return
	}
	u := engine.UpdateRequest{Resources: engineResources(&req.Resources)}
	if req.RestartPolicy.Name != "" {
		u.RestartPolicy = &engine.RestartPolicy{Name: string(req.RestartPolicy.Name), MaximumRetryCount: req.RestartPolicy.MaximumRetryCount}
	}
	warnings, err := s.engine.Update(r.PathValue("id"), u)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, container.UpdateResponse{Warnings: warnings})
}

// eventsStream is GET /events: past events since "since" from the buffer,
// then live ones until "until" or until the client goes.
func (s *Server) eventsStream(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	since, err := parseTime(q.Get("since"))
	if err != nil {
		writeError(w, err)
		return
	}
	until, err := parseTime(q.Get("until"))
	if err != nil {
		writeError(w, err)
		return
	}
	f := events.Filter{}
	if v := q.Get("filters"); v != "" {
		if f, err = events.FilterFromJSON([]byte(v)); err != nil {
			writeError(w, fmt.Errorf("%v: %w", err, errdefs.ErrInvalidArgument))
			return
		}
	}
	if err := f.Validate(); err != nil {
		writeError(w, err)
		return
	}
	past, ch, cancel := s.events.Subscribe(f, since, until)
	defer cancel()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	enc := json.NewEncoder(w)
	send := func(e events.Event) bool {
		m := apievents.Message{Type: apievents.Type(e.Type), Action: apievents.Action(e.Action),
			Actor: apievents.Actor{ID: e.Actor.ID, Attributes: e.Actor.Attributes}, Scope: e.Scope, Time: e.Time, TimeNano: e.TimeNano}
		if err := enc.Encode(m); err != nil {
			return false
		}
		if flusher != nil {
			flusher.Flush()
		}
		return true
	}
	for _, e := range past {
		if !send(e) {
			return
		}
	}
	if flusher != nil {
		flusher.Flush()
	}
	var deadline <-chan time.Time
	if !until.IsZero() {
		t := time.NewTimer(time.Until(until))
		defer t.Stop()
		deadline = t.C
	}
	for {
		select {
		case e, ok := <-ch:
			if !ok || !send(e) {
				return
			}
		case <-deadline:
			return
		case <-r.Context().Done():
			return
		}
	}
}
