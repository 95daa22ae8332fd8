package cli

import (
	"fmt"
	"net/url"

	"github.com/moby/moby/api/types/image"
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
				ImageUsage *image.DiskUsage
				LayersSize int64
				Images     []image.Summary
			}
			if err := c.do(ctx(cmd), "GET", "/system/df", q, nil, &du); err != nil {
				return err
			}
			count, size := int64(len(du.Images)), du.LayersSize
			items := du.Images
			if du.ImageUsage != nil {
				count, size, items = du.ImageUsage.TotalCount, du.ImageUsage.TotalSize, du.ImageUsage.Items
			}
			type row struct{ Type, TotalCount, Active, Size, Reclaimable string }
			rows := []row{
				{"Images", fmt.Sprint(count), "0", humanSize(size), fmt.Sprintf("%s (100%%)", humanSize(size))},
				{"Containers", "0", "0", "0B", "0B"},
				{"Local Volumes", "0", "0", "0B", "0B"},
				{"Build Cache", "0", "0", "0B", "0B"},
			}
			if size == 0 {
				rows[0].Reclaimable = "0B"
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
			if err := p.flush(); err != nil {
				return err
			}
			if verbose && len(items) > 0 {
				fmt.Println("\nImages space usage:")
				ip, _ := newRowPrinter("", "{{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}")
				_ = ip.headerRow(imageTitles)
				for _, im := range items {
					for _, r := range imageRows(im, false) {
						_ = ip.row(r)
					}
				}
				return ip.flush()
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "show detailed information on space usage")
	cmd.Flags().StringVar(&format, "format", "", "format output: 'table TEMPLATE', 'json' or a Go template")
	return cmd
}
