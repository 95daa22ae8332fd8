package specgen

import specs "github.com/opencontainers/runtime-spec/specs-go"

// LinuxResources validates and converts resource limits alone, for a live
// update of a running container (docker update): no device rules.
func LinuxResources(r Resources) (*specs.LinuxResources, error) {
	return resources(&r)
}
