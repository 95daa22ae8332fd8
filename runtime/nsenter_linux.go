package runtime

// The C constructor in nsenter.c joins namespaces before the Go runtime
// starts; importing "C" links it into every binary that imports this package.

import "C"
