package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/moby/moby/api/types/image"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-dev/berth/errdefs"
	bimage "github.com/berth-dev/berth/image"
)

// ImageBackend is what the image routes need of the image store.
type ImageBackend interface {
	Count() int
	List() ([]*bimage.Image, error)
	Get(name string) (*bimage.Image, error)
	History(name string) ([]bimage.HistoryItem, error)
	Tag(source, target string) error
	Delete(name string, force bool, inUse bimage.InUse) ([]bimage.DeleteItem, error)
	Prune(all bool, inUse bimage.InUse) ([]bimage.DeleteItem, int64, error)
	Import(ctx context.Context, r io.Reader, o bimage.ImportOptions) (*bimage.Image, error)
	Load(ctx context.Context, r io.Reader) ([]bimage.Loaded, error)
	Save(ctx context.Context, w io.Writer, names []string) error
	Usage() (*bimage.DiskUsage, error)
}

func (s *Server) imageRoutes() {
	s.mux.HandleFunc("GET /images/json", s.imageList)
	s.mux.HandleFunc("POST /images/create", s.imageCreate)
	s.mux.HandleFunc("POST /images/prune", s.imagePrune)
	s.mux.HandleFunc("POST /images/load", s.imageLoad)
	s.mux.HandleFunc("GET /images/get", s.imageSave)
	// Names contain slashes ("localhost:5000/a/b"): the rest is split here.
	s.mux.HandleFunc("GET /images/{rest...}", s.imageByName)
	s.mux.HandleFunc("POST /images/{rest...}", s.imageByName)
	s.mux.HandleFunc("DELETE /images/{rest...}", s.imageDelete)
}

// imageByName routes /images/<name>/<verb>.
func (s *Server) imageByName(w http.ResponseWriter, r *http.Request) {
	rest := r.PathValue("rest")
	i := strings.LastIndexByte(rest, '/')
	if i <= 0 {
		writeError(w, fmt.Errorf("page not found: %w", errdefs.ErrNotFound))
		return
	}
	name, verb := rest[:i], rest[i+1:]
	switch r.Method + " " + verb {
	case "GET json":
		s.imageInspect(w, r, name)
	case "GET history":
		s.imageHistory(w, r, name)
	case "POST tag":
		s.imageTag(w, r, name)
	case "GET get":
		s.save(w, r, []string{name})
	default:
		writeError(w, fmt.Errorf("page not found: %w", errdefs.ErrNotFound))
	}
}

func boolQuery(r *http.Request, key string) bool {
	v := r.URL.Query().Get(key)
	b, _ := strconv.ParseBool(v)
	return b || v == "1"
}

// filters reads Docker's filters query parameter: {"key":["v1","v2"]} or the
// older {"key":{"v1":true}}.
func filters(r *http.Request) (map[string][]string, error) {
	raw := r.URL.Query().Get("filters")
	out := map[string][]string{}
	if raw == "" {
		return out, nil
	}
	if err := json.Unmarshal([]byte(raw), &out); err == nil {
		return out, nil
	}
	var old map[string]map[string]bool
	if err := json.Unmarshal([]byte(raw), &old); err != nil {
		return nil, fmt.Errorf("invalid filters %q: %w", raw, errdefs.ErrInvalidArgument)
	}
	for k, vs := range old {
		for v, on := range vs {
			if on {
				out[k] = append(out[k], v)
			}
		}
	}
	return out, nil
}

func (s *Server) imageList(w http.ResponseWriter, r *http.Request) {
	f, err := filters(r)
	if err != nil {
		writeError(w, err)
		return
	}
	imgs, err := s.images.List()
	if err != nil {
		writeError(w, err)
		return
	}
	match, err := imageFilter(f, imgs, s.images)
	if err != nil {
		writeError(w, err)
		return
	}
	out := []image.Summary{}
	for _, img := range imgs {
		if !match(img) {
			continue
		}
		sum := summary(img)
		if refs := f["reference"]; len(refs) > 0 {
			// As docker: only the names that match are listed.
			var keep []string
			for _, t := range sum.RepoTags {
				for _, p := range refs {
					if refMatch(p, t) {
						keep = append(keep, t)
						break
					}
				}
			}
			sum.RepoTags = keep
		}
		out = append(out, sum)
	}
	writeJSON(w, http.StatusOK, out)
}

func summary(img *bimage.Image) image.Summary {
	sum := image.Summary{
		ID: img.ID.String(), Created: created(img).Unix(), Size: img.Size, Labels: img.Config.Config.Labels,
		RepoTags: img.RepoTags, RepoDigests: img.RepoDigests, Containers: -1, SharedSize: -1,
	}
	if sum.RepoTags == nil {
		sum.RepoTags = []string{}
	}
	if sum.RepoDigests == nil {
		sum.RepoDigests = []string{}
	}
	if img.Manifest != "" {
		sum.Descriptor = &ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: img.Manifest}
	}
	return sum
}

func created(img *bimage.Image) time.Time {
	if img.Config.Created != nil {
		return *img.Config.Created
	}
	return img.Added
}

// imageFilter implements docker images --filter: dangling, label, reference,
// before, since.
func imageFilter(f map[string][]string, all []*bimage.Image, store ImageBackend) (func(*bimage.Image) bool, error) {
	for k := range f {
		switch k {
		case "dangling", "label", "reference", "before", "since", "until":
		default:
			return nil, fmt.Errorf("invalid filter '%s': %w", k, errdefs.ErrInvalidArgument)
		}
	}
	var before, since *time.Time
	for _, key := range []string{"before", "since"} {
		for _, v := range f[key] {
			img, err := store.Get(v)
			if err != nil {
				return nil, err
			}
			t := created(img)
			if key == "before" {
				before = &t
			} else {
				since = &t
			}
		}
	}
	var until *time.Time
	for _, v := range f["until"] {
		t, err := parseTimestamp(v)
		if err != nil {
			return nil, err
		}
		until = &t
	}
	for _, v := range f["dangling"] {
		if v != "true" && v != "false" && v != "1" && v != "0" {
			return nil, fmt.Errorf("invalid filter 'dangling=%s': %w", v, errdefs.ErrInvalidArgument)
		}
	}
	return func(img *bimage.Image) bool {
		for _, v := range f["dangling"] {
			dangling := v == "true" || v == "1"
			if dangling != (len(img.RepoTags) == 0) {
				return false
			}
		}
		for _, v := range f["label"] {
			k, want, hasValue := strings.Cut(v, "=")
			got, ok := img.Config.Config.Labels[k]
			if !ok || (hasValue && got != want) {
				return false
			}
		}
		if refs := f["reference"]; len(refs) > 0 {
			found := false
			for _, pattern := range refs {
				for _, t := range img.RepoTags {
					if refMatch(pattern, t) {
						found = true
					}
				}
			}
			if !found {
				return false
			}
		}
		c := created(img)
		if before != nil && !c.Before(*before) {
			return false
		}
		if since != nil && !c.After(*since) {
			return false
		}
		if until != nil && !c.Before(*until) {
			return false
		}
		return true
	}, nil
}

// refMatch matches a familiar tag ("busybox:latest") against a pattern
// ("busybox", "busy*", "busybox:1.*"), as docker's reference filter does.
func refMatch(pattern, tag string) bool {
	name, _, _ := strings.Cut(tag, ":")
	if ok, _ := pathMatch(pattern, tag); ok {
		return true
	}
	if !strings.Contains(pattern, ":") {
		ok, _ := pathMatch(pattern, name)
		return ok
	}
	return false
}

func parseTimestamp(v string) (time.Time, error) {
	if d, err := time.ParseDuration(v); err == nil {
		return time.Now().Add(-d), nil
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.Unix(n, 0), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("invalid timestamp %q: %w", v, errdefs.ErrInvalidArgument)
}

func (s *Server) imageInspect(w http.ResponseWriter, r *http.Request, name string) {
	img, err := s.images.Get(name)
	if err != nil {
		writeError(w, err)
		return
	}
	c := img.Config
	resp := image.InspectResponse{
		ID: img.ID.String(), RepoTags: img.RepoTags, RepoDigests: img.RepoDigests,
		Created: created(img).Format(time.RFC3339Nano), Author: c.Author,
		Config:       &dockerspec.DockerOCIImageConfig{ImageConfig: c.Config},
		Architecture: c.Architecture, Variant: c.Variant, Os: c.OS, OsVersion: c.OSVersion,
		Size: img.Size, RootFS: image.RootFS{Type: "layers"},
	}
	if resp.RepoTags == nil {
		resp.RepoTags = []string{}
	}
	if resp.RepoDigests == nil {
		resp.RepoDigests = []string{}
	}
	if len(c.History) > 0 {
		resp.Comment = c.History[len(c.History)-1].Comment
	}
	for _, d := range c.RootFS.DiffIDs {
		resp.RootFS.Layers = append(resp.RootFS.Layers, d.String())
	}
	if img.Manifest != "" {
		resp.Descriptor = &ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: img.Manifest}
	}
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) imageHistory(w http.ResponseWriter, r *http.Request, name string) {
	hist, err := s.images.History(name)
	if err != nil {
		writeError(w, err)
		return
	}
	out := make([]image.HistoryResponseItem, 0, len(hist))
	for _, h := range hist {
		tags := h.Tags
		if tags == nil {
			tags = []string{}
		}
		out = append(out, image.HistoryResponseItem{ID: h.ID, Created: h.Created, CreatedBy: h.CreatedBy, Comment: h.Comment, Size: h.Size, Tags: tags})
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) imageTag(w http.ResponseWriter, r *http.Request, name string) {
	q := r.URL.Query()
	repo, tag := q.Get("repo"), q.Get("tag")
	if repo == "" {
		writeError(w, fmt.Errorf("repository name is required: %w", errdefs.ErrInvalidArgument))
		return
	}
	target := repo
	if tag != "" {
		target += ":" + tag
	}
	if err := s.images.Tag(name, target); err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusCreated)
}

func (s *Server) imageDelete(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("rest")
	items, err := s.images.Delete(name, boolQuery(r, "force"), s.imageInUse)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, deleteResponses(items))
}

func deleteResponses(items []bimage.DeleteItem) []image.DeleteResponse {
	out := make([]image.DeleteResponse, 0, len(items))
	for _, it := range items {
		d := image.DeleteResponse{Untagged: it.Untagged}
		if it.Deleted != "" {
			d.Deleted = it.Deleted.String()
		}
		out = append(out, d)
	}
	return out
}

func (s *Server) imagePrune(w http.ResponseWriter, r *http.Request) {
	f, err := filters(r)
	if err != nil {
		writeError(w, err)
		return
	}
	all := false
	for _, v := range f["dangling"] {
		all = v == "false" || v == "0"
	}
	for k := range f {
		if k != "dangling" {
			writeError(w, fmt.Errorf("invalid filter '%s' for prune (dangling): %w", k, errdefs.ErrInvalidArgument))
			return
		}
	}
	items, freed, err := s.images.Prune(all, s.imageInUse)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, image.PruneReport{ImagesDeleted: deleteResponses(items), SpaceReclaimed: uint64(freed)})
}

// imageCreate is "docker import" (fromSrc=-, the body is the tarball);
// pulling (fromImage) needs a registry client, which is not built yet.
func (s *Server) imageCreate(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("fromSrc") != "-" {
		if q.Get("fromImage") != "" {
			writeError(w, fmt.Errorf("pulling images is not supported yet (berth has no registry client); import or load the image: %w", errdefs.ErrNotImplemented))
			return
		}
		writeError(w, fmt.Errorf("fromSrc must be \"-\" (the request body): importing from a URL is not supported: %w", errdefs.ErrInvalidArgument))
		return
	}
	ref := q.Get("repo")
	if ref != "" && q.Get("tag") != "" {
		ref += ":" + q.Get("tag")
	}
	img, err := s.images.Import(r.Context(), r.Body, bimage.ImportOptions{Ref: ref, Changes: q["changes"], Message: q.Get("message")})
	if err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_ = json.NewEncoder(w).Encode(map[string]string{"status": img.ID.String()})
}

// imageLoad is "docker load": the body is the archive; the reply is a JSON
// message stream, as Docker's.
func (s *Server) imageLoad(w http.ResponseWriter, r *http.Request) {
	loaded, err := s.images.Load(r.Context(), r.Body)
	if err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	enc := json.NewEncoder(w)
	for _, l := range loaded {
		msg := "Loaded image: " + l.Name + "\n"
		if l.Name == "" {
			msg = "Loaded image ID: " + l.ID.String() + "\n"
		}
		_ = enc.Encode(map[string]string{"stream": msg})
	}
}

func (s *Server) imageSave(w http.ResponseWriter, r *http.Request) {
	s.save(w, r, r.URL.Query()["names"])
}

// save streams the archive. Names are resolved before the first byte goes
// out, so a bad name is a clean error status; a failure later can only cut
// the stream short (the client sees a truncated archive).
func (s *Server) save(w http.ResponseWriter, r *http.Request, names []string) {
	for _, n := range names {
		if _, err := s.images.Get(n); err != nil {
			writeError(w, err)
			return
		}
	}
	if len(names) == 0 {
		writeError(w, fmt.Errorf("no image names given: %w", errdefs.ErrInvalidArgument))
		return
	}
	w.Header().Set("Content-Type", "application/x-tar")
	w.WriteHeader(http.StatusOK)
	_ = s.images.Save(r.Context(), w, names)
}

// imageInUse reports whether a container uses the image.
func (s *Server) imageInUse(id digest.Digest) bool {
	return s.engine != nil && s.engine.ImageInUse(id.String())
}
