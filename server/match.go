package server

import "path"

// pathMatch is path.Match: shell patterns over '/'-separated names.
func pathMatch(pattern, name string) (bool, error) { return path.Match(pattern, name) }
