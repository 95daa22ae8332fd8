// Package server is berth's front door for the Docker Engine API: it decodes
// requests, validates them, calls the domain packages and encodes Docker's
// wire types. It translates and never decides; error classes from errdefs
// become HTTP status codes here and nowhere else.
package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/events"
)

// API versions served: /vX.Y/ prefixes in this range, and unprefixed paths as
// the newest.
const (
	MinAPIVersion = "1.41"
	APIVersion    = "1.56"
)

// Config is what the server needs to describe the daemon.
type Config struct {
	Version   string // berth's version
	BuildTime string
	DataRoot  string
	ExecRoot  string
}

// Server routes Docker Engine API requests.
type Server struct {
	cfg    Config
	mux    *http.ServeMux
	images ImageBackend
	engine *engine.Engine
	events *events.Bus
}

// New returns a server over the image store and the engine; Handler serves
// it.
func New(cfg Config, images ImageBackend, eng *engine.Engine, bus *events.Bus) *Server {
	s := &Server{cfg: cfg, mux: http.NewServeMux(), images: images, engine: eng, events: bus}
	s.routes()
	return s
}

func (s *Server) routes() {
	s.mux.HandleFunc("GET /_ping", s.ping)
	s.mux.HandleFunc("HEAD /_ping", s.ping)
	s.mux.HandleFunc("GET /version", s.version)
	s.mux.HandleFunc("GET /info", s.info)
	s.imageRoutes()
	s.containerRoutes()
	s.opsRoutes()
	s.archiveRoutes()
	s.networkRoutes()
	s.volumeRoutes()
	s.mux.HandleFunc("GET /system/df", s.diskUsage)
	s.mux.HandleFunc("POST /build/prune", s.buildPrune)
}

type ctxKey int

const versionKey ctxKey = 0

// versionOf is the API version a request was made with.
func versionOf(r *http.Request) string {
	if v, ok := r.Context().Value(versionKey).(string); ok {
		return v
	}
	return APIVersion
}

// Handler strips and checks the /vX.Y prefix, sets Docker's common headers
// and routes the request.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Api-Version", APIVersion)
		h.Set("Docker-Experimental", "false")
		h.Set("Ostype", "linux")
		h.Set("Server", "berth/"+s.cfg.Version+" (linux)")
		version := APIVersion
		if v, rest, ok := splitVersion(r.URL.Path); ok {
			if compareVersions(v, MinAPIVersion) < 0 {
				writeError(w, fmt.Errorf("client version %s is too old. Minimum supported API version is %s, please upgrade your client to a newer version: %w", v, MinAPIVersion, errdefs.ErrInvalidArgument))
				return
			}
			if compareVersions(v, APIVersion) > 0 {
				writeError(w, fmt.Errorf("client version %s is too new. Maximum supported API version is %s: %w", v, APIVersion, errdefs.ErrInvalidArgument))
				return
			}
			version = v
			r2 := r.Clone(context.WithValue(r.Context(), versionKey, version))
			r2.URL.Path = rest
			r2.URL.RawPath = ""
			r = r2
		}
		if _, pattern := s.mux.Handler(r); pattern == "" {
			writeError(w, fmt.Errorf("page not found: %w", errdefs.ErrNotFound))
			return
		}
		s.mux.ServeHTTP(w, r)
	})
}

// splitVersion splits "/v1.50/info" into "1.50" and "/info".
func splitVersion(path string) (version, rest string, ok bool) {
	if !strings.HasPrefix(path, "/v") {
		return "", path, false
	}
	end := strings.IndexByte(path[1:], '/')
	if end < 0 {
		return "", path, false
	}
	v := path[2 : end+1]
	major, minor, found := strings.Cut(v, ".")
	if !found || !isDigits(major) || !isDigits(minor) {
		return "", path, false
	}
	return v, path[end+1:], true
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// compareVersions compares "major.minor" API versions.
func compareVersions(a, b string) int {
	am, an, _ := strings.Cut(a, ".")
	bm, bn, _ := strings.Cut(b, ".")
	ai, _ := strconv.Atoi(am)
	bi, _ := strconv.Atoi(bm)
	if ai != bi {
		return ai - bi
	}
	ai, _ = strconv.Atoi(an)
	bi, _ = strconv.Atoi(bn)
	return ai - bi
}

// statusOf maps an error class to an HTTP status.
func statusOf(err error) int {
	switch {
	case errors.Is(err, errdefs.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, errdefs.ErrInvalidArgument):
		return http.StatusBadRequest
	case errors.Is(err, errdefs.ErrConflict), errors.Is(err, errdefs.ErrAlreadyExists):
		return http.StatusConflict
	case errors.Is(err, errdefs.ErrNotImplemented):
		return http.StatusNotImplemented
	case errors.Is(err, errdefs.ErrUnavailable):
		return http.StatusServiceUnavailable
	case errors.Is(err, errdefs.ErrForbidden):
		return http.StatusForbidden
	default:
		return http.StatusInternalServerError
	}
}

// writeError sends Docker's error body, {"message": ...}; the error class
// suffix (": not found") is for logs, not for users.
func writeError(w http.ResponseWriter, err error) {
	msg := err.Error()
	for _, class := range []error{errdefs.ErrNotFound, errdefs.ErrInvalidArgument, errdefs.ErrConflict,
		errdefs.ErrAlreadyExists, errdefs.ErrNotImplemented, errdefs.ErrUnavailable, errdefs.ErrForbidden} {
		msg = strings.TrimSuffix(msg, ": "+class.Error())
	}
	writeJSON(w, statusOf(err), map[string]string{"message": msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
