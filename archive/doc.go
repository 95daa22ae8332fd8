// Package archive owns layer tars in and out of berth: OCI/Docker whiteouts,
// hard links, xattrs, ownership, modes and times, compressed with gzip, zstd or
// not at all. It works on streams and directories only and knows nothing of
// images, content stores or snapshots; callers hand it a reader or writer and
// a directory.
//
// Three calls:
//
//   - [Decompress] sniffs a stream and undoes gzip or zstd.
//   - [Apply] unpacks a (possibly compressed) layer tar into a directory,
//     either as an overlayfs lower directory ([WhiteoutsOverlay]) or on top of
//     the layers below it ([WhiteoutsApply]).
//   - [WriteTar] writes a directory as a reproducible tar, converting an
//     overlayfs upper directory's whiteouts to OCI ones if asked.
//
// # Hardening
//
// A layer is untrusted input. Apply never writes outside its root directory:
//
//   - Entry names are taken relative to the root. Leading slashes are dropped
//     (as tar and Docker do), "." and ".." are resolved lexically, and a name
//     that still leaves the root ("../x", "a/../../x") is refused. The same
//     holds for hard link targets and whiteout names.
//   - Symlink entries may point anywhere (an absolute target like /bin/busybox
//     is resolved inside the container at run time), but every parent
//     directory is resolved with openat2(RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS)
//     on a file descriptor of the root, so a symlink met on the way is
//     followed as if the root were "/". Every change is then made with an *at
//     system call on the parent's descriptor that does not follow the final
//     component: an existing symlink at the entry's own name is replaced,
//     never written through.
//   - A hard link's target is resolved inside the root the same way, must
//     exist and must not be a directory.
//   - A whiteout removes only inside the root, never following symlinks.
//
// A failed Apply returns an error naming the entry ("archive: entry "x": ...")
// and may leave the root half written: unpack into a temporary directory and
// rename it into place when Apply succeeds.
//
// Apply needs openat2 (Linux 5.6 or later), and both Apply and WriteTar
// reach the xattrs of symlinks and device nodes through /proc/self/fd.
//
// archive imports only errdefs from berth (layer L1).
package archive
