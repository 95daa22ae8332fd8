// Package errdefs defines the classes of error that berth's packages wrap, so
// that the edges (the CLI, the API server) can map them to exit codes and HTTP
// status codes without knowing where they came from.
//
// Wrap a class with the thing's name: fmt.Errorf("image %q: %w", ref, ErrNotFound).
// It imports nothing of berth's.
package errdefs

import "errors"

// The classes.
var (
	ErrNotFound        = errors.New("not found")
	ErrAlreadyExists   = errors.New("already exists")
	ErrInvalidArgument = errors.New("invalid argument")
	ErrConflict        = errors.New("conflict")
	ErrNotImplemented  = errors.New("not implemented")
	ErrUnavailable     = errors.New("unavailable")
	ErrForbidden       = errors.New("forbidden") // refused by policy: a read-only file system, say
)

// IsNotFound reports whether err is of class ErrNotFound.
func IsNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

// IsAlreadyExists reports whether err is of class ErrAlreadyExists.
func IsAlreadyExists(err error) bool { return errors.Is(err, ErrAlreadyExists) }

// IsInvalidArgument reports whether err is of class ErrInvalidArgument.
func IsInvalidArgument(err error) bool { return errors.Is(err, ErrInvalidArgument) }

// IsConflict reports whether err is of class ErrConflict.
func IsConflict(err error) bool { return errors.Is(err, ErrConflict) }
