package engine

import (
	"context"
	"io"
	"path/filepath"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-dev/berth/archive"
	"github.com/berth-dev/berth/image"
)

// CommitRequest is docker commit's options.
type CommitRequest struct {
	Ref     string   // repository[:tag], "" for none
	Comment string   // -m
	Author  string   // -a
	Changes []string // -c
	Pause   bool     // pause a running container while its changes are read
}

// Commit makes an image of a container: its image's layers plus what it
// changed, with its configuration.
func (e *Engine) Commit(ctx context.Context, ref string, r CommitRequest) (*image.Image, error) {
	x, err := e.get(ref)
	if err != nil {
		return nil, err
	}
	c := x.snapshot()
	if r.Pause && c.State.Status == StatusRunning {
		if err := e.rt.Pause(c.ID); err == nil {
			defer func() { _ = e.rt.Resume(c.ID) }()
		}
	}
	cfg := ocispec.ImageConfig{
		User: c.Config.User, Env: c.Config.Env, Entrypoint: c.Config.Entrypoint, Cmd: c.Config.Cmd,
		WorkingDir: c.Config.WorkingDir, Labels: c.Config.Labels, StopSignal: c.Config.StopSignal,
	}
	for _, p := range c.Config.ExposedPorts {
		if cfg.ExposedPorts == nil {
			cfg.ExposedPorts = map[string]struct{}{}
		}
		cfg.ExposedPorts[p] = struct{}{}
	}
	for _, v := range c.Config.Volumes {
		if cfg.Volumes == nil {
			cfg.Volumes = map[string]struct{}{}
		}
		cfg.Volumes[v] = struct{}{}
	}
	img, err := e.images.Commit(ctx, func(w io.Writer) error {
		return e.layers.Diff(ctx, c.ID, w, archive.Uncompressed)
	}, image.CommitOptions{
		Parent: c.ImageID, Config: cfg, Changes: r.Changes, Comment: r.Comment, Author: r.Author, Ref: r.Ref,
		CreatedBy: strings.Join(append([]string{c.Path}, c.Args...), " "),
	})
	if err != nil {
		return nil, err
	}
	e.event(c, "commit", map[string]string{"comment": r.Comment})
	return img, nil
}

// Export writes a container's root file system as a tar (without its
// volumes and binds, as Docker's). A container that is not running has it
// mounted for the export in a mount namespace of its own, and cannot start
// meanwhile.
func (e *Engine) Export(ctx context.Context, ref string, w io.Writer) error {
	x, err := e.get(ref)
	if err != nil {
		return err
	}
	x.mu.Lock()
	if x.c.State.Running() {
		id := x.c.ID
		x.mu.Unlock()
		err = archive.WriteTar(ctx, w, filepath.Join(e.stateDir(id), "rootfs"), archive.WriteOptions{})
	} else {
		err = e.withStoppedFS(x, false, func(_ *Container, root int) error {
			return archive.WriteTar(ctx, w, fdPath(root), archive.WriteOptions{})
		})
	}
	if err != nil {
		return err
	}
	e.event(x.snapshot(), "export", nil)
	return nil
}
