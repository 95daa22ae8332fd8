package server

import (
	"fmt"
	"net/http"
	"slices"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/image"
	volumetypes "github.com/moby/moby/api/types/volume"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/volume"
)

// diskUsage is GET /system/df: images, containers (their writable
// layers) and volumes, each with what removing the unused ones would
// free. API 1.52 replaced the response's legacy fields (LayersSize, Images,
// Containers, Volumes) with per-type usage; 1.52 sends both unless
// verbose, and older clients (the docker CLI 28 speaks 1.50) only the
// legacy ones. The type query parameter limits the answer to some types.
func (s *Server) diskUsage(w http.ResponseWriter, r *http.Request) {
	types := r.URL.Query()["type"]
	want := func(t string) bool { return len(types) == 0 || slices.Contains(types, t) }
	for _, t := range types {
		switch t {
		case "container", "image", "volume", "build-cache":
		default:
			writeError(w, fmt.Errorf("unknown object type: %s: %w", t, errdefs.ErrInvalidArgument))
			return
		}
	}
	var ctrs []*engine.Container
	if s.engine != nil {
		ctrs = s.engine.List()
	}
	v := versionOf(r)
	verbose := boolQuery(r, "verbose")
	legacy := compareVersions(v, "1.52") < 0 || (compareVersions(v, "1.52") == 0 && !verbose)
	modern := compareVersions(v, "1.52") >= 0
	out := map[string]any{}
	// put adds one type: its item list for clients before 1.52, its usage
	// (with the items if verbose, which withItems sets) from 1.52.
	put := func(listKey string, list any, usageKey string, usage any, withItems func()) {
		if legacy {
			out[listKey] = list
		}
		if modern {
			if verbose {
				withItems()
			}
			out[usageKey] = usage
		}
	}
	if want("image") {
		imgs, err := s.images.List()
		if err != nil {
			writeError(w, err)
			return
		}
		du, err := s.images.Usage()
		if err != nil {
			writeError(w, err)
			return
		}
		users := map[string]int64{}
		for _, c := range ctrs {
			users[c.ImageID.String()]++
		}
		items := make([]image.Summary, 0, len(imgs))
		iu := &image.DiskUsage{TotalCount: int64(len(imgs)), TotalSize: du.LayersSize, Reclaimable: du.LayersSize}
		for _, img := range imgs {
			sum := summary(img)
			sum.SharedSize = du.Shared[img.ID]
			sum.Containers = users[img.ID.String()]
			if sum.Containers > 0 {
				iu.ActiveCount++
				iu.Reclaimable -= sum.Size - sum.SharedSize
			}
			items = append(items, sum)
		}
		iu.Reclaimable = max(iu.Reclaimable, 0)
		if legacy {
			out["LayersSize"] = du.LayersSize
		}
		put("Images", items, "ImageUsage", iu, func() { iu.Items = items })
	}
	if want("container") {
		items := make([]container.Summary, 0, len(ctrs))
		cu := &container.DiskUsage{TotalCount: int64(len(ctrs))}
		for _, c := range ctrs {
			sum := s.summary(c)
			if rw, root, err := s.engine.Size(c.ID); err == nil {
				sum.SizeRw, sum.SizeRootFs = rw, root
			}
			cu.TotalSize += sum.SizeRw
			if c.State.Running() {
				cu.ActiveCount++
			} else {
				cu.Reclaimable += sum.SizeRw
			}
			items = append(items, sum)
		}
		put("Containers", items, "ContainerUsage", cu, func() { cu.Items = items })
	}
	if want("volume") {
		items := []volumetypes.Volume{}
		vu := &volumetypes.DiskUsage{}
		if st := s.engineVolumes(); st != nil {
			for _, vol := range st.List() {
				av := apiVolume(vol)
				size, err := st.Usage(vol.Name)
				if err != nil {
					size = -1
				}
				refs := int64(len(s.engine.VolumeUsers(vol.Name)))
				av.UsageData = &volumetypes.UsageData{Size: size, RefCount: refs}
				vu.TotalCount++
				vu.TotalSize += max(size, 0)
				if refs > 0 {
					vu.ActiveCount++
				} else {
					vu.Reclaimable += max(size, 0)
				}
				items = append(items, av)
			}
		}
		put("Volumes", items, "VolumeUsage", vu, func() { vu.Items = items })
	}
	if want("build-cache") {
		put("BuildCache", []any{}, "BuildCacheUsage", map[string]any{}, func() {})
	}
	writeJSON(w, http.StatusOK, out)
}

// engineVolumes is the daemon's volume store, nil without one.
func (s *Server) engineVolumes() *volume.Store {
	if s.engine == nil {
		return nil
	}
	return s.engine.Volumes()
}

// buildPrune is POST /build/prune, which docker system prune calls: berth
// has no build cache yet, so there is never anything to free.
func (s *Server) buildPrune(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"CachesDeleted": []string{}, "SpaceReclaimed": 0})
}
