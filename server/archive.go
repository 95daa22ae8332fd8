package server

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/errdefs"
)

// The archive API: docker cp's three calls.
func (s *Server) archiveRoutes() {
	m := s.mux
	m.HandleFunc("HEAD /containers/{id}/archive", s.archiveStat)
	m.HandleFunc("GET /containers/{id}/archive", s.archiveGet)
	m.HandleFunc("PUT /containers/{id}/archive", s.archivePut)
}

// archivePath is the path query parameter, which all three require.
func archivePath(r *http.Request) (string, error) {
	p := r.URL.Query().Get("path")
	if p == "" {
		return "", fmt.Errorf("path is required: %w", errdefs.ErrInvalidArgument)
	}
	return p, nil
}

// setPathStat sets Docker's X-Docker-Container-Path-Stat header: the
// path's description as base64url-encoded JSON.
func setPathStat(w http.ResponseWriter, st *engine.PathStat) {
	b, _ := json.Marshal(st)
	w.Header().Set("X-Docker-Container-Path-Stat", base64.URLEncoding.EncodeToString(b))
}

func (s *Server) archiveStat(w http.ResponseWriter, r *http.Request) {
	p, err := archivePath(r)
	if err != nil {
		writeError(w, err)
		return
	}
	st, err := s.engine.StatPath(r.Context(), r.PathValue("id"), p)
	if err != nil {
		writeError(w, err)
		return
	}
	setPathStat(w, st)
	w.WriteHeader(http.StatusOK)
}

func (s *Server) archiveGet(w http.ResponseWriter, r *http.Request) {
	p, err := archivePath(r)
	if err != nil {
		writeError(w, err)
		return
	}
	cw := &countWriter{w: w}
	err = s.engine.ArchivePath(r.Context(), r.PathValue("id"), p, func(st *engine.PathStat) io.Writer {
		setPathStat(w, st)
		w.Header().Set("Content-Type", "application/x-tar")
		return cw
	})
	if err != nil {
		if cw.n == 0 {
			w.Header().Del("X-Docker-Container-Path-Stat")
			writeError(w, err)
			return
		}
		// The tar has begun: an error can only cut it short.
		panic(http.ErrAbortHandler)
	}
}

func (s *Server) archivePut(w http.ResponseWriter, r *http.Request) {
	p, err := archivePath(r)
	if err != nil {
		writeError(w, err)
		return
	}
	o := engine.ExtractOptions{NoOverwriteDirNonDir: boolQuery(r, "noOverwriteDirNonDir"), CopyUIDGID: boolQuery(r, "copyUIDGID")}
	if err := s.engine.ExtractToDir(r.Context(), r.PathValue("id"), p, r.Body, o); err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}
