// Package logs owns a container's log file: Docker's json-file format, written
// by the per-container shim and read by the daemon for `docker logs`.
//
// A log file holds one JSON object per line, exactly as Docker's json-file
// driver writes it, so files and tools are interchangeable:
//
//	{"log":"hello\n","stream":"stdout","time":"2026-11-24T20:00:00.123456789Z"}
//
// The log text keeps its trailing newline; a line longer than [MaxLineSize]
// is written as several partial records whose text has no newline, and so is
// a last line that ended without one. Readers print records as they are and
// join nothing.
//
// Files are bounded by default (berth differs from Docker here): when the live
// file would grow past maxSize, it becomes path.1, path.1 becomes path.2 and
// so on, keeping maxFiles files in all; the oldest is removed. path always
// exists once created (a rotation swaps the new file in with a rename), so a
// reader never finds it missing.
//
// The writer side ([Writer], [Copy]) runs in the shim: one write(2) per record,
// no goroutines, and buffers reused between records. The reader side ([Read])
// runs in the daemon.
//
// Package logs is at level 1: it imports only the standard library,
// golang.org/x/sys and berth's level-0 packages (errdefs), never the Docker
// API types.
package logs

// MaxLineSize is the longest log text a record holds: longer lines are split
// into partial records of at most this many bytes (Docker's copier buffer).
const MaxLineSize = 16 << 10

// Bounded defaults (Docker's json-file is unbounded unless told otherwise).
const (
	DefaultMaxSize  = 10 << 20
	DefaultMaxFiles = 3
)
