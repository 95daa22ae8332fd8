// Package volume owns named volumes with Docker's "local" driver: a
// directory per volume under the store's directory (the daemon passes
// <data-root>/volumes), its metadata, the file systems of volumes made with
// options (tmpfs, a bind of a host directory, a block device), and the
// volume's content as a tar (export, import). It knows nothing of
// containers: the caller says which container uses a volume by passing its
// id as the reference of [Store.Mount], and checks containers' use before
// [Store.Remove].
//
// # Layout
//
//	<dir>/<name>/volume.json   the volume's metadata, written atomically
//	<dir>/<name>/_data         its content, or the mount point of its file system
//	<dir>/.removing-<name>-*   a removal in progress; Open finishes it
//
// # Lifecycle
//
//	s, _ := volume.Open("/var/lib/berth/volumes")
//	v, _ := s.Create(volume.CreateRequest{Name: "db"})   // idempotent
//	src, _ := s.Mount("db", containerID)                 // bind src into the container
//	... the container runs ...
//	s.Unmount("db", containerID)
//	s.Remove("db")
//
// A volume made with options (type, o, device, as "docker volume create
// -o") is mounted on its _data directory at its first reference and
// unmounted at its last. References are counted in memory; a daemon that
// restarts while containers still use such a volume finds the mount in
// /proc/self/mountinfo and does not mount it again, and should call Mount
// once more for each container it restores, so that the last Unmount is
// known. Unmount of a reference that was never counted does nothing.
//
// # Guarantees
//
// Metadata is written atomically (package atomicfile); a volume directory
// whose metadata cannot be read is reported by [Store.Warnings] and skipped,
// never fatal. A removal renames the volume's directory away first, so a
// crash leaves the whole volume or none of it. Remove never deletes through
// a mount: it unmounts the volume's file system first and refuses if
// anything is still mounted below the volume.
//
// Import takes untrusted tars: it refuses what tries to leave the volume
// (absolute and "../" names, hard links out of the root, symlinks whose
// target climbs out, entries below a symlink of the same tar) with an error
// naming the entry, and unpacks the rest with [archive.Apply], which keeps
// every write inside the volume whatever the tar holds. Whiteout names
// (".wh.*") are refused too: archive would read them as layer whiteouts.
//
// Imports: errdefs, ids, atomicfile and archive from berth (layer L1).
package volume
