package server

import (
	"net/http"

	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/system"
)

// diskUsage is GET /system/df. API 1.52 replaced the response's legacy
// fields (LayersSize, Images, ...) with per-type usage; 1.52 sends both, and
// older clients (the docker CLI 28 speaks 1.50) only the legacy ones.
func (s *Server) diskUsage(w http.ResponseWriter, r *http.Request) {
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
	items := make([]image.Summary, 0, len(imgs))
	for _, img := range imgs {
		sum := summary(img)
		sum.SharedSize = du.Shared[img.ID]
		sum.Containers = 0 // no containers yet
		items = append(items, sum)
	}
	v := versionOf(r)
	verbose := boolQuery(r, "verbose")
	out := map[string]any{}
	if compareVersions(v, "1.52") < 0 || (compareVersions(v, "1.52") == 0 && !verbose) {
		out["LayersSize"] = du.LayersSize
		out["Images"] = items
		out["Containers"] = []any{}
		out["Volumes"] = []any{}
		out["BuildCache"] = []any{}
	}
	if compareVersions(v, "1.52") >= 0 {
		iu := &image.DiskUsage{TotalCount: int64(len(items)), TotalSize: du.LayersSize, Reclaimable: du.LayersSize}
		if verbose {
			iu.Items = items
		}
		out["ImageUsage"] = iu
		out["ContainerUsage"] = system.DiskUsage{}.ContainerUsage
		out["VolumeUsage"] = system.DiskUsage{}.VolumeUsage
		out["BuildCacheUsage"] = system.DiskUsage{}.BuildCacheUsage
	}
	writeJSON(w, http.StatusOK, out)
}
