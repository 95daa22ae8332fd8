package server

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/container"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/logs"
	"github.com/berth-dev/berth/shim"
)

func (s *Server) containerRoutes() {
	m := s.mux
	m.HandleFunc("POST /containers/create", s.containerCreate)
	m.HandleFunc("GET /containers/json", s.containerList)
	m.HandleFunc("POST /containers/prune", s.containerPrune)
	m.HandleFunc("GET /containers/{id}/json", s.containerInspect)
	m.HandleFunc("POST /containers/{id}/start", s.containerStart)
	m.HandleFunc("POST /containers/{id}/stop", s.containerStop)
	m.HandleFunc("POST /containers/{id}/restart", s.containerRestart)
	m.HandleFunc("POST /containers/{id}/kill", s.containerKill)
	m.HandleFunc("POST /containers/{id}/pause", s.containerPause)
	m.HandleFunc("POST /containers/{id}/unpause", s.containerUnpause)
	m.HandleFunc("DELETE /containers/{id}", s.containerDelete)
	m.HandleFunc("POST /containers/{id}/rename", s.containerRename)
	m.HandleFunc("POST /containers/{id}/wait", s.containerWait)
	m.HandleFunc("POST /containers/{id}/attach", s.containerAttach)
	m.HandleFunc("GET /containers/{id}/logs", s.containerLogs)
	m.HandleFunc("POST /containers/{id}/resize", s.containerResize)
	m.HandleFunc("POST /containers/{id}/exec", s.execCreate)
	m.HandleFunc("POST /exec/{id}/start", s.execStart)
	m.HandleFunc("POST /exec/{id}/resize", s.execResize)
	m.HandleFunc("GET /exec/{id}/json", s.execInspect)
}

func decodeBody(r *http.Request, v any) error {
	if r.Body == nil || r.ContentLength == 0 {
		return nil
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, 16<<20))
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("malformed JSON body: %v: %w", err, errdefs.ErrInvalidArgument)
	}
	return nil
}

func (s *Server) containerCreate(w http.ResponseWriter, r *http.Request) {
	var req container.CreateRequest
	if err := decodeBody(r, &req); err != nil {
		writeError(w, err)
		return
	}
	if req.Config == nil {
		writeError(w, fmt.Errorf("config cannot be empty in order to create a container: %w", errdefs.ErrInvalidArgument))
		return
	}
	ereq, err := engineCreate(r.URL.Query().Get("name"), req.Config, req.HostConfig, req.NetworkingConfig)
	if err != nil {
		writeError(w, err)
		return
	}
	c, err := s.engine.Create(r.Context(), ereq)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, container.CreateResponse{ID: c.ID, Warnings: []string{}})
}

func (s *Server) containerInspect(w http.ResponseWriter, r *http.Request) {
	c, err := s.engine.Get(r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	resp := inspectResponse(c, s.engine.ExecIDs(c.ID), s.volumeMountpoint)
	s.addModeNetwork(resp.NetworkSettings.Networks, c)
	if compareVersions(versionOf(r), "1.52") < 0 {
		writeJSON(w, http.StatusOK, withLegacyNetworkSettings(resp))
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// status is the STATUS column of docker ps.
func status(c *engine.Container) string {
	st := c.State
	switch st.Status {
	case engine.StatusRunning, engine.StatusPaused:
		s := "Up " + units.HumanDuration(time.Since(st.StartedAt))
		if st.Status == engine.StatusPaused {
			s += " (Paused)"
		} else if st.Health != nil {
			s += " (" + healthWord(st.Health.Status) + ")"
		}
		return s
	case engine.StatusRestarting:
		return fmt.Sprintf("Restarting (%d) %s ago", st.ExitCode, units.HumanDuration(time.Since(st.FinishedAt)))
	case engine.StatusExited:
		if st.FinishedAt.IsZero() || st.StartedAt.IsZero() {
			return "Created"
		}
		return fmt.Sprintf("Exited (%d) %s ago", st.ExitCode, units.HumanDuration(time.Since(st.FinishedAt)))
	case engine.StatusRemoving:
		return "Removal In Progress"
	case engine.StatusDead:
		return "Dead"
	}
	return "Created"
}

func healthWord(s string) string {
	if s == "starting" {
		return "health: starting"
	}
	return s
}

func (s *Server) summary(c *engine.Container) container.Summary {
	cmd := strings.Join(append([]string{c.Path}, c.Args...), " ")
	sum := container.Summary{
		ID: c.ID, Names: []string{"/" + c.Name}, Image: c.Config.Image, ImageID: c.ImageID.String(),
		Command: cmd, Created: c.Created.Unix(), Ports: portSummaries(c), Labels: c.Config.Labels,
		State: container.ContainerState(c.State.Status), Status: status(c),
		NetworkSettings: &container.NetworkSettingsSummary{Networks: apiEndpoints(c)},
		Mounts:          apiMounts(c.HostConfig.Mounts, s.volumeMountpoint),
	}
	s.addModeNetwork(sum.NetworkSettings.Networks, c)
	if sum.Labels == nil {
		sum.Labels = map[string]string{}
	}
	sum.HostConfig.NetworkMode = c.HostConfig.NetworkMode
	if c.State.Health != nil {
		sum.Health = &container.HealthSummary{Status: container.HealthStatus(c.State.Health.Status), FailingStreak: c.State.Health.FailingStreak}
	}
	return sum
}

func (s *Server) containerList(w http.ResponseWriter, r *http.Request) {
	f, err := filters(r)
	if err != nil {
		writeError(w, err)
		return
	}
	all := boolQuery(r, "all")
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	match, err := containerFilter(f, s.engine)
	if err != nil {
		writeError(w, err)
		return
	}
	out := []container.Summary{}
	for _, c := range s.engine.List() {
		if !all && limit <= 0 && !c.State.Running() && c.State.Status != engine.StatusRestarting && len(f["status"]) == 0 {
			continue
		}
		if !match(c) {
			continue
		}
		sum := s.summary(c)
		if boolQuery(r, "size") {
			if rw, root, err := s.engine.Size(c.ID); err == nil {
				sum.SizeRw, sum.SizeRootFs = rw, root
			}
		}
		out = append(out, sum)
		if limit > 0 && len(out) == limit {
			break
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// containerFilter is docker ps --filter.
func containerFilter(f map[string][]string, e *engine.Engine) (func(*engine.Container) bool, error) {
	for k, vs := range f {
		switch k {
		case "id", "name", "label", "status", "exited", "ancestor", "before", "since", "health", "is-task", "network", "volume", "publish", "expose":
		default:
			return nil, fmt.Errorf("invalid filter '%s': %w", k, errdefs.ErrInvalidArgument)
		}
		if k == "status" {
			for _, v := range vs {
				switch v {
				case "created", "restarting", "running", "removing", "paused", "exited", "dead":
				default:
					return nil, fmt.Errorf("invalid filter 'status=%s': %w", v, errdefs.ErrInvalidArgument)
				}
			}
		}
	}
	var before, since *engine.Container
	for _, v := range f["before"] {
		c, err := e.Get(v)
		if err != nil {
			return nil, err
		}
		before = c
	}
	for _, v := range f["since"] {
		c, err := e.Get(v)
		if err != nil {
			return nil, err
		}
		since = c
	}
	any := func(key string, ok func(string) bool) bool { return anyValue(f, key, ok) }
	return func(c *engine.Container) bool {
		return any("id", func(v string) bool { return strings.HasPrefix(c.ID, v) }) &&
			any("name", func(v string) bool { return strings.Contains(c.Name, strings.TrimPrefix(v, "/")) }) &&
			labelsMatch(f["label"], c.Config.Labels) &&
			any("status", func(v string) bool { return v == c.State.Status }) &&
			any("exited", func(v string) bool {
				return c.State.Status == engine.StatusExited && strconv.Itoa(c.State.ExitCode) == v
			}) &&
			any("ancestor", func(v string) bool {
				return v == c.Config.Image || strings.HasPrefix(c.ImageID.Encoded(), strings.TrimPrefix(v, "sha256:")) || v == c.ImageID.String()
			}) &&
			any("health", func(v string) bool {
				if c.State.Health == nil {
					return v == "none"
				}
				return v == c.State.Health.Status
			}) &&
			(before == nil || c.Created.Before(before.Created)) &&
			(since == nil || c.Created.After(since.Created)) &&
			any("network", func(v string) bool { return onNetwork(c, v) }) &&
			any("is-task", func(v string) bool { return v == "false" }) &&
			any("volume", func(v string) bool { return mountsVolume(c, v) }) &&
			any("publish", func(v string) bool { return portsMatch(v, slices.Collect(maps.Keys(c.HostConfig.PortBindings))) }) &&
			any("expose", func(v string) bool { return portsMatch(v, c.Config.ExposedPorts) })
	}, nil
}

// mountsVolume is ps's volume filter: a volume of that name, or any mount
// at that path in the container.
func mountsVolume(c *engine.Container, v string) bool {
	for _, m := range c.HostConfig.Mounts {
		if path.Clean(m.Target) == path.Clean(v) || (m.Type == "volume" && m.Source == v) {
			return true
		}
	}
	return false
}

// labelsMatch is the label filter: every "k" or "k=v" must hold.
func labelsMatch(want []string, labels map[string]string) bool {
	for _, l := range want {
		k, v, hasV := strings.Cut(l, "=")
		got, ok := labels[k]
		if !ok || (hasV && got != v) {
			return false
		}
	}
	return true
}

func (s *Server) containerStart(w http.ResponseWriter, r *http.Request) {
	err := s.engine.Start(r.Context(), r.PathValue("id"))
	if errors.Is(err, engine.ErrNotModified) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if err != nil {
		writeError(w, startError(err))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// startError words a failed start as Docker does, so clients (the docker
// CLI maps these to exit codes 126 and 127) understand it.
func startError(err error) error {
	var se *engine.StartError
	if errors.As(err, &se) {
		return fmt.Errorf("failed to create task for container: OCI runtime create failed: %s: unknown", se.Msg)
	}
	return err
}

func timeoutQuery(r *http.Request) (*int, error) {
	v := r.URL.Query().Get("t")
	if v == "" {
		v = r.URL.Query().Get("timeout")
	}
	if v == "" {
		return nil, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return nil, fmt.Errorf("invalid value for t: %q: %w", v, errdefs.ErrInvalidArgument)
	}
	return &n, nil
}

func (s *Server) containerStop(w http.ResponseWriter, r *http.Request) {
	t, err := timeoutQuery(r)
	if err != nil {
		writeError(w, err)
		return
	}
	err = s.engine.Stop(r.Context(), r.PathValue("id"), t, r.URL.Query().Get("signal"))
	if errors.Is(err, engine.ErrNotModified) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) containerRestart(w http.ResponseWriter, r *http.Request) {
	t, err := timeoutQuery(r)
	if err != nil {
		writeError(w, err)
		return
	}
	if err := s.engine.Restart(r.Context(), r.PathValue("id"), t, r.URL.Query().Get("signal")); err != nil {
		writeError(w, startError(err))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) containerKill(w http.ResponseWriter, r *http.Request) {
	if err := s.engine.Kill(r.Context(), r.PathValue("id"), r.URL.Query().Get("signal")); err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) containerPause(w http.ResponseWriter, r *http.Request) {
	if err := s.engine.Pause(r.PathValue("id")); err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) containerUnpause(w http.ResponseWriter, r *http.Request) {
	if err := s.engine.Unpause(r.PathValue("id")); err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) containerDelete(w http.ResponseWriter, r *http.Request) {
	if boolQuery(r, "link") {
		writeError(w, fmt.Errorf("links are not supported: %w", errdefs.ErrInvalidArgument))
		return
	}
	err := s.engine.Remove(r.Context(), r.PathValue("id"), engine.RemoveOptions{Force: boolQuery(r, "force"), Volumes: boolQuery(r, "v")})
	if err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) containerRename(w http.ResponseWriter, r *http.Request) {
	if err := s.engine.Rename(r.PathValue("id"), r.URL.Query().Get("name")); err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// containerWait answers with the status line at once (the client then
// knows the wait is registered and may start the container) and with the
// body when the condition is met.
func (s *Server) containerWait(w http.ResponseWriter, r *http.Request) {
	wait, err := s.engine.WaitReady(r.PathValue("id"), r.URL.Query().Get("condition"))
	if err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	res, err := wait(r.Context())
	if err != nil {
		return
	}
	resp := container.WaitResponse{StatusCode: int64(res.ExitCode)}
	if res.Error != "" {
		resp.Error = &container.WaitExitError{Message: res.Error}
	}
	_ = json.NewEncoder(w).Encode(resp)
}

// hijack takes over the connection for a raw stream, answering 101 when the
// client asked for an upgrade (as the docker CLI does) and 200 otherwise.
func hijack(w http.ResponseWriter, r *http.Request, multiplexed bool) (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("the connection cannot be hijacked")
	}
	conn, brw, err := hj.Hijack()
	if err != nil {
		return nil, nil, err
	}
	_ = conn.SetDeadline(time.Time{})
	ct := "application/vnd.docker.raw-stream"
	if multiplexed && compareVersions(versionOf(r), "1.42") >= 0 {
		ct = "application/vnd.docker.multiplexed-stream"
	}
	if r.Header.Get("Upgrade") != "" {
		fmt.Fprintf(conn, "HTTP/1.1 101 UPGRADED\r\nContent-Type: %s\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n", ct)
	} else {
		fmt.Fprintf(conn, "HTTP/1.1 200 OK\r\nContent-Type: %s\r\n", ct)
	}
	fmt.Fprintf(conn, "Api-Version: %s\r\n\r\n", APIVersion)
	return conn, brw, nil
}

// closeWriter half-closes a hijacked connection, telling the client the
// output is over.
func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
}

func (s *Server) containerAttach(w http.ResponseWriter, r *http.Request) {
	c, err := s.engine.Get(r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	keys, err := engine.ParseDetachKeys(r.URL.Query().Get("detachKeys"))
	if err != nil {
		writeError(w, err)
		return
	}
	if c.State.Status == engine.StatusRemoving || c.State.Status == engine.StatusDead {
		writeError(w, fmt.Errorf("You cannot attach to a container that is %s: %w", c.State.Status, errdefs.ErrConflict))
		return
	}
	conn, brw, err := hijack(w, r, !c.Config.Tty)
	if err != nil {
		return
	}
	defer conn.Close()
	o := engine.AttachOptions{
		Stdout: boolQuery(r, "stdout"), Stderr: boolQuery(r, "stderr"),
		Out: conn, DetachKeys: keys, Logs: boolQuery(r, "logs"), Stream: boolQuery(r, "stream"),
	}
	var stdin io.Reader
	if boolQuery(r, "stdin") {
		stdin = brw.Reader
	}
	ctx, stdin, cancel := hangupContext(conn, stdin)
	defer cancel()
	o.Stdin = stdin
	err = s.engine.Attach(ctx, c.ID, o)
	if err != nil && !errors.Is(err, engine.ErrDetached) {
		// The stream has begun: the error can only be told in-band.
		if !c.Config.Tty {
			_ = writeFrameErr(conn, err)
		}
	}
	closeWrite(conn)
}

// writeFrameErr writes an error as a systemerr frame (Docker's stream 3).
func writeFrameErr(w io.Writer, err error) error {
	return shim.WriteFrame(w, 3, []byte(err.Error()+"\n"))
}

func (s *Server) containerResize(w http.ResponseWriter, r *http.Request) {
	h, w2, err := sizeQuery(r)
	if err != nil {
		writeError(w, err)
		return
	}
	if err := s.engine.Resize(r.PathValue("id"), h, w2); err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func sizeQuery(r *http.Request) (uint16, uint16, error) {
	h, err1 := strconv.ParseUint(r.URL.Query().Get("h"), 10, 16)
	w, err2 := strconv.ParseUint(r.URL.Query().Get("w"), 10, 16)
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("invalid terminal size h=%q w=%q: %w", r.URL.Query().Get("h"), r.URL.Query().Get("w"), errdefs.ErrInvalidArgument)
	}
	return uint16(h), uint16(w), nil
}

// parseTime reads --since/--until: Unix seconds with optional fraction,
// or RFC 3339 (the docker CLI converts durations and dates itself).
func parseTime(v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	sec, frac, _ := strings.Cut(v, ".")
	if n, err := strconv.ParseInt(sec, 10, 64); err == nil {
		var ns int64
		if frac != "" {
			f := (frac + "000000000")[:9]
			if ns, err = strconv.ParseInt(f, 10, 64); err != nil {
				return time.Time{}, fmt.Errorf("invalid time %q: %w", v, errdefs.ErrInvalidArgument)
			}
		}
		return time.Unix(n, ns), nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("invalid time %q: %w", v, errdefs.ErrInvalidArgument)
	}
	return t, nil
}

func (s *Server) containerLogs(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	o := engine.LogsOptions{Follow: boolQuery(r, "follow"), Stdout: boolQuery(r, "stdout"), Stderr: boolQuery(r, "stderr"), Tail: -1}
	if !o.Stdout && !o.Stderr {
		writeError(w, fmt.Errorf("Bad parameters: you must choose at least one stream: %w", errdefs.ErrInvalidArgument))
		return
	}
	var err error
	if o.Since, err = parseTime(q.Get("since")); err != nil {
		writeError(w, err)
		return
	}
	if o.Until, err = parseTime(q.Get("until")); err != nil {
		writeError(w, err)
		return
	}
	if t := q.Get("tail"); t != "" && t != "all" {
		n, err := strconv.Atoi(t)
		if err != nil {
			writeError(w, fmt.Errorf("invalid value for tail: %q: %w", t, errdefs.ErrInvalidArgument))
			return
		}
		if n >= 0 {
			o.Tail = n
		}
	}
	c, err := s.engine.Get(r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	timestamps := boolQuery(r, "timestamps")
	started := false
	start := func() {
		if started {
			return
		}
		started = true
		ct := "application/vnd.docker.raw-stream"
		if !c.Config.Tty && compareVersions(versionOf(r), "1.42") >= 0 {
			ct = "application/vnd.docker.multiplexed-stream"
		}
		w.Header().Set("Content-Type", ct)
		w.WriteHeader(http.StatusOK)
	}
	flusher, _ := w.(http.Flusher)
	if o.Follow {
		start()
		if flusher != nil {
			flusher.Flush()
		}
	}
	var line []byte
	_, err = s.engine.Logs(r.Context(), c.ID, o, func(en logs.Entry) error {
		start()
		line = line[:0]
		if timestamps {
			line = append(line, en.Time.UTC().Format(time.RFC3339Nano)...)
			line = append(line, ' ')
		}
		line = append(line, en.Line...)
		if err := writeOutFrame(w, c.Config.Tty, en.Stream, line); err != nil {
			return err
		}
		if o.Follow && flusher != nil {
			flusher.Flush()
		}
		return nil
	})
	if err != nil && !started {
		writeError(w, err)
		return
	}
	start()
}

func writeOutFrame(w io.Writer, tty bool, stream string, p []byte) error {
	if tty {
		_, err := w.Write(p)
		return err
	}
	n := shim.Stdout
	if stream == "stderr" {
		n = shim.Stderr
	}
	return shim.WriteFrame(w, n, p)
}

func (s *Server) execCreate(w http.ResponseWriter, r *http.Request) {
	var req container.ExecCreateRequest
	if err := decodeBody(r, &req); err != nil {
		writeError(w, err)
		return
	}
	cfg := engine.ExecConfig{User: req.User, Privileged: req.Privileged, Tty: req.Tty,
		AttachStdin: req.AttachStdin, AttachStdout: req.AttachStdout, AttachStderr: req.AttachStderr,
		DetachKeys: req.DetachKeys, Env: req.Env, WorkingDir: req.WorkingDir, Cmd: req.Cmd}
	if req.ConsoleSize != nil {
		cfg.ConsoleSize = *req.ConsoleSize
	}
	id, err := s.engine.ExecCreate(r.PathValue("id"), cfg)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, container.ExecCreateResponse{ID: id})
}

func (s *Server) execStart(w http.ResponseWriter, r *http.Request) {
	var req container.ExecStartRequest
	if err := decodeBody(r, &req); err != nil {
		writeError(w, err)
		return
	}
	id := r.PathValue("id")
	st, err := s.engine.ExecInspect(id)
	if err != nil {
		writeError(w, err)
		return
	}
	if req.Detach {
		if err := s.engine.ExecStart(r.Context(), id, engine.ExecStartOptions{Detach: true}); err != nil {
			writeError(w, startError(err))
			return
		}
		w.WriteHeader(http.StatusOK)
		return
	}
	conn, brw, err := hijack(w, r, !st.Config.Tty)
	if err != nil {
		return
	}
	defer conn.Close()
	o := engine.ExecStartOptions{Out: conn}
	if st.Config.AttachStdin {
		o.Stdin = brw.Reader
	}
	if err := s.engine.ExecStart(context.Background(), id, o); err != nil {
		// As dockerd: the error goes to the client's stdout (the exit code,
		// 126 or 127, is in the exec's inspect).
		msg := err.Error()
		var se *engine.StartError
		if errors.As(err, &se) {
			msg = "OCI runtime exec failed: exec failed: " + se.Msg + ": unknown"
		}
		_ = writeOutFrame(conn, st.Config.Tty, "stdout", []byte(msg+"\r\n"))
	}
	closeWrite(conn)
}

func (s *Server) execResize(w http.ResponseWriter, r *http.Request) {
	h, w2, err := sizeQuery(r)
	if err != nil {
		writeError(w, err)
		return
	}
	if err := s.engine.ExecResize(r.PathValue("id"), h, w2); err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (s *Server) execInspect(w http.ResponseWriter, r *http.Request) {
	st, err := s.engine.ExecInspect(r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	pc := &container.ExecProcessConfig{Tty: st.Config.Tty, Entrypoint: st.Config.Cmd[0], Arguments: nonNil(st.Config.Cmd[1:]), User: st.Config.User}
	if st.Config.Privileged {
		t := true
		pc.Privileged = &t
	}
	writeJSON(w, http.StatusOK, container.ExecInspectResponse{
		ID: st.ID, Running: st.Running, ExitCode: st.ExitCode, ProcessConfig: pc,
		OpenStdin: st.Config.AttachStdin, OpenStdout: st.Config.AttachStdout, OpenStderr: st.Config.AttachStderr,
		CanRemove: !st.Running && st.ExitCode != nil, ContainerID: st.ContainerID, DetachKeys: []byte{}, Pid: st.Pid,
	})
}

// anyValue is a filter's rule for one key: true if the key is not given,
// or if ok holds for one of its values.
func anyValue(f map[string][]string, key string, ok func(string) bool) bool {
	vs, has := f[key]
	if !has {
		return true
	}
	for _, v := range vs {
		if ok(v) {
			return true
		}
	}
	return false
}

// pruneFilters are a prune's filters, which are until, label and label!
// (for containers and networks), and the time until stands for.
func pruneFilters(r *http.Request) (map[string][]string, time.Time, error) {
	var until time.Time
	f, err := filters(r)
	if err != nil {
		return nil, until, err
	}
	for k := range f {
		if k != "until" && k != "label" && k != "label!" {
			return nil, until, fmt.Errorf("invalid filter '%s': %w", k, errdefs.ErrInvalidArgument)
		}
	}
	for _, v := range f["until"] {
		if until, err = parseUntil(v); err != nil {
			return nil, until, err
		}
	}
	return f, until, nil
}

func (s *Server) containerPrune(w http.ResponseWriter, r *http.Request) {
	f, until, err := pruneFilters(r)
	if err != nil {
		writeError(w, err)
		return
	}
	rep := container.PruneReport{ContainersDeleted: []string{}}
	for _, c := range s.engine.List() {
		if c.State.Status != engine.StatusExited && c.State.Status != engine.StatusCreated && c.State.Status != engine.StatusDead {
			continue
		}
		if !until.IsZero() && !c.Created.Before(until) {
			continue
		}
		if !labelsMatch(f["label"], c.Config.Labels) || labelsExclude(f["label!"], c.Config.Labels) {
			continue
		}
		rw, _, _ := s.engine.Size(c.ID)
		if err := s.engine.Remove(r.Context(), c.ID, engine.RemoveOptions{}); err != nil {
			continue
		}
		rep.ContainersDeleted = append(rep.ContainersDeleted, c.ID)
		rep.SpaceReclaimed += uint64(rw)
	}
	sort.Strings(rep.ContainersDeleted)
	writeJSON(w, http.StatusOK, rep)
}

// labelsExclude is the label! filter: true when any "k" or "k=v" holds.
func labelsExclude(not []string, labels map[string]string) bool {
	for _, l := range not {
		k, v, hasV := strings.Cut(l, "=")
		if got, ok := labels[k]; ok && (!hasV || got == v) {
			return true
		}
	}
	return false
}

// parseUntil reads prune's until: a timestamp or a duration before now.
func parseUntil(v string) (time.Time, error) {
	if d, err := time.ParseDuration(v); err == nil {
		return time.Now().Add(-d), nil
	}
	return parseTime(v)
}
