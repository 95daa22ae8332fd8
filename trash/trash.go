// Package trash deletes directory trees off the caller's path.
//
// Removing a container or a layer means unlinking every file of a tree, and
// on a journalling filesystem an unlink of a file whose blocks were
// committed costs about half a millisecond (measured on this project's ext4
// VMs): a container's records and writable layer took 4.5 ms to delete, all
// of it inside the request that asked. A Bin moves the tree aside with one
// rename instead (from then on it is gone from where it was, and the name
// can be reused), and one goroutine deletes what was moved, in order.
// Whatever a crash leaves in the bin's directory is deleted the next time a
// Bin is made for it.
package trash

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/sys/unix"
)

// Bin deletes what is discarded into it. It is safe for concurrent use.
type Bin struct {
	dir  string
	warn func(error)

	mu      sync.Mutex
	queue   []string
	running bool
	idle    *sync.Cond
}

// New returns a Bin whose trees are moved into dir, which it creates if
// need be and which must be on the filesystem of what is discarded (else
// Discard deletes in place, at once). Entries already in dir are deleted
// in the background. warn, if not nil, gets the errors of background
// deletions.
func New(dir string, warn func(error)) (*Bin, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("trash: %w", err)
	}
	b := &Bin{dir: dir, warn: warn}
	b.idle = sync.NewCond(&b.mu)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("trash: %w", err)
	}
	for _, e := range ents {
		b.enqueue(filepath.Join(dir, e.Name()))
	}
	return b, nil
}

// Discard moves path (a file or a tree) into the bin and deletes it in the
// background. When it returns, path no longer exists. A path that does not
// exist is not an error.
func (b *Bin) Discard(path string) error {
	dst := filepath.Join(b.dir, rand.Text())
	err := os.Rename(path, dst)
	switch {
	case err == nil:
		b.enqueue(dst)
		return nil
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case errors.Is(err, unix.EXDEV):
		return os.RemoveAll(path)
	}
	return fmt.Errorf("trash: %w", err)
}

func (b *Bin) enqueue(p string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.queue = append(b.queue, p)
	if !b.running {
		b.running = true
		go b.work()
	}
}

func (b *Bin) work() {
	b.mu.Lock()
	for len(b.queue) > 0 {
		p := b.queue[0]
		b.queue = b.queue[1:]
		b.mu.Unlock()
		if err := os.RemoveAll(p); err != nil && b.warn != nil {
			b.warn(fmt.Errorf("trash: %w", err))
		}
		b.mu.Lock()
	}
	b.running = false
	b.idle.Broadcast()
	b.mu.Unlock()
}

// Wait returns once everything discarded before the call is deleted.
func (b *Bin) Wait() {
	b.mu.Lock()
	for b.running {
		b.idle.Wait()
	}
	b.mu.Unlock()
}
