package cli

import (
	"fmt"
	"net/url"

	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/volume"
	"github.com/spf13/cobra"
)

func systemCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "system", Short: "Manage berth"}
	cmd.AddCommand(dfCmd(g), infoCmd(g))
	return cmd
}

func dfCmd(g *globals) *cobra.Command {
	var verbose bool
	var format string
	cmd := &cobra.Command{
		Use:   "df [flags]",
		Short: "Show disk usage",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client(ctx(cmd))
			if err != nil {
				return err
			}
			q := url.Values{}
			if verbose {
				q.Set("verbose", "1")
			}
			var du struct {
				ImageUsage     *image.DiskUsage
				ContainerUsage *container.DiskUsage
				VolumeUsage    *volume.DiskUsage
				LayersSize     int64
				Images         []image.Summary
				Containers     []container.Summary
				Volumes        []volume.Volume
			}
			if err := c.do(ctx(cmd), "GET", "/system/df", q, nil, &du); err != nil {
				return err
			}
			iu, cu, vu := legacyUsage(du.LayersSize, du.Images, du.Containers, du.Volumes)
			if du.ImageUsage != nil {
				iu = *du.ImageUsage
			}
			if du.ContainerUsage != nil {
				cu = *du.ContainerUsage
			}
			if du.VolumeUsage != nil {
				vu = *du.VolumeUsage
			}
			if verbose {
				return printDiskUsageVerbose(iu.Items, cu.Items, vu.Items)
			}
			type row struct{ Type, TotalCount, Active, Size, Reclaimable string }
			rows := []row{
				{"Images", fmt.Sprint(iu.TotalCount), fmt.Sprint(iu.ActiveCount), humanSize4(iu.TotalSize), reclaimable(iu.Reclaimable, iu.TotalSize)},
				{"Containers", fmt.Sprint(cu.TotalCount), fmt.Sprint(cu.ActiveCount), humanSize4(cu.TotalSize), reclaimable(cu.Reclaimable, cu.TotalSize)},
				{"Local Volumes", fmt.Sprint(vu.TotalCount), fmt.Sprint(vu.ActiveCount), humanSize4(vu.TotalSize), reclaimable(vu.Reclaimable, vu.TotalSize)},
				{"Build Cache", "0", "0", "0B", "0B"},
			}
			p, err := newRowPrinter(format, "{{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}")
			if err != nil {
				return err
			}
			if err := p.headerRow(map[string]string{"Type": "TYPE", "TotalCount": "TOTAL", "Active": "ACTIVE", "Size": "SIZE", "Reclaimable": "RECLAIMABLE"}); err != nil {
				return err
			}
			for _, r := range rows {
				if err := p.row(r); err != nil {
					return err
				}
			}
			return p.flush()
		},
	}
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "show detailed information on space usage")
	cmd.Flags().StringVar(&format, "format", "", "format output: 'table TEMPLATE', 'json' or a Go template")
	return cmd
}

// reclaimable is docker's RECLAIMABLE cell: the size, and its share of the
// total when there is a total.
func reclaimable(n, total int64) string {
	if total > 0 {
		return fmt.Sprintf("%s (%d%%)", humanSize4(n), n*100/total)
	}
	return humanSize4(n)
}

// humanSize4 is docker's units.HumanSize (four significant digits) of n.
func humanSize4(n int64) string { return units.HumanSize(float64(n)) }

// dfImageRow is an image in system df -v.
type dfImageRow struct {
	imageRow
	Containers, SharedSize, UniqueSize string
}

// legacyUsage sums the per-type usage from a daemon's pre-1.52 answer (the
// item lists), as the docker CLI does.
func legacyUsage(layers int64, imgs []image.Summary, ctrs []container.Summary, vols []volume.Volume) (image.DiskUsage, container.DiskUsage, volume.DiskUsage) {
	iu := image.DiskUsage{TotalCount: int64(len(imgs)), TotalSize: layers, Reclaimable: layers, Items: imgs}
	for _, im := range imgs {
		if im.Containers > 0 {
			iu.ActiveCount++
			if im.SharedSize != -1 {
				iu.Reclaimable -= im.Size - im.SharedSize
			}
		}
	}
	cu := container.DiskUsage{TotalCount: int64(len(ctrs)), Items: ctrs}
	for _, ct := range ctrs {
		cu.TotalSize += ct.SizeRw
		if ct.State == container.StateRunning || ct.State == container.StatePaused {
			cu.ActiveCount++
		} else {
			cu.Reclaimable += ct.SizeRw
		}
	}
	vu := volume.DiskUsage{TotalCount: int64(len(vols)), Items: vols}
	for _, v := range vols {
		if v.UsageData == nil || v.UsageData.Size < 0 {
			continue
		}
		vu.TotalSize += v.UsageData.Size
		if v.UsageData.RefCount > 0 {
			vu.ActiveCount++
		} else {
			vu.Reclaimable += v.UsageData.Size
		}
	}
	return iu, cu, vu
}

// printDiskUsageVerbose is system df -v: each type's items.
func printDiskUsageVerbose(imgs []image.Summary, ctrs []container.Summary, vols []volume.Volume) error {
	fmt.Print("Images space usage:\n\n")
	ip, _ := newRowPrinter("", "{{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}")
	_ = ip.headerRow(map[string]string{"Repository": "REPOSITORY", "Tag": "TAG", "ID": "IMAGE ID", "CreatedSince": "CREATED",
		"Size": "SIZE", "SharedSize": "SHARED SIZE", "UniqueSize": "UNIQUE SIZE", "Containers": "CONTAINERS"})
	for _, im := range imgs {
		for _, r := range imageRows(im, false) {
			_ = ip.row(dfImageRow{imageRow: r, Containers: fmt.Sprint(im.Containers),
				SharedSize: humanSize4(im.SharedSize), UniqueSize: humanSize4(im.Size - im.SharedSize)})
		}
	}
	if err := ip.flush(); err != nil {
		return err
	}
	fmt.Print("\nContainers space usage:\n\n")
	cp, _ := newRowPrinter("", "{{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.Size}}\t{{.RunningFor}}\t{{.Status}}\t{{.Names}}")
	_ = cp.headerRow(map[string]string{"ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND", "LocalVolumes": "LOCAL VOLUMES",
		"Size": "SIZE", "RunningFor": "CREATED", "Status": "STATUS", "Names": "NAMES"})
	for i := range ctrs {
		ct := ctrs[i]
		ct.SizeRootFs = 0 // df shows the writable layer only
		_ = cp.row(&psRow{c: &ct, trunc: true})
	}
	if err := cp.flush(); err != nil {
		return err
	}
	fmt.Print("\nLocal Volumes space usage:\n\n")
	vp, _ := newRowPrinter("", "{{.Name}}\t{{.Links}}\t{{.Size}}")
	_ = vp.headerRow(map[string]string{"Name": "VOLUME NAME", "Links": "LINKS", "Size": "SIZE"})
	for _, v := range vols {
		links, size := "N/A", "N/A"
		if u := v.UsageData; u != nil {
			links = fmt.Sprint(u.RefCount)
			if u.Size >= 0 {
				size = humanSize4(u.Size)
			}
		}
		_ = vp.row(map[string]string{"Name": v.Name, "Links": links, "Size": size})
	}
	if err := vp.flush(); err != nil {
		return err
	}
	fmt.Print("\nBuild cache usage: 0B\n\n")
	bp, _ := newRowPrinter("", "{{.ID}}\t{{.Type}}\t{{.Size}}\t{{.Created}}\t{{.LastUsed}}\t{{.Usage}}\t{{.Shared}}")
	_ = bp.headerRow(map[string]string{"ID": "CACHE ID", "Type": "CACHE TYPE", "Size": "SIZE", "Created": "CREATED",
		"LastUsed": "LAST USED", "Usage": "USAGE", "Shared": "SHARED"})
	return bp.flush()
}
