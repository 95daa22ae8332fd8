// Package atomicfile replaces files so that readers, and a crash, see the
// old content or the new one, never a mixture: the data goes to a
// temporary file in the same directory, which is renamed over the target.
package atomicfile

import (
	"os"
	"path/filepath"
)

// WriteFile replaces path with data, durably: the temporary file is
// fsynced before the rename and the directory after it, so the new
// content survives a power loss once WriteFile returns. For files whose
// loss a crash makes moot (state on a tmpfs), use Replace.
func WriteFile(path string, data []byte, mode os.FileMode) error {
	if err := write(path, data, mode, true); err != nil {
		return err
	}
	syncDir(path)
	return nil
}

// syncDir fsyncs the directory holding path. The rename is done; a failing
// directory sync only leaves its durability unknown.
func syncDir(path string) {
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

// Sync makes a file written by Replace durable: its data, then the
// directory entry. Replace then Sync (perhaps in the background) is
// WriteFile with the wait for the disk moved off the caller's path.
func Sync(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	err = f.Sync()
	f.Close()
	if err != nil {
		return err
	}
	syncDir(path)
	return nil
}

// Replace replaces path with data atomically but without fsync.
func Replace(path string, data []byte, mode os.FileMode) error {
	return write(path, data, mode, false)
}

func write(path string, data []byte, mode os.FileMode, durable bool) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err = f.Chmod(mode); err != nil {
		return err
	}
	if _, err = f.Write(data); err != nil {
		return err
	}
	if durable {
		if err = f.Sync(); err != nil {
			return err
		}
	}
	if err = f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
