# berth is one static binary. cgo is on for the namespace-joining constructor
# (runtime/nsenter.c) and libseccomp; both link statically.
GO        ?= go
VERSION   ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
TAGS      := netgo osusergo
LDFLAGS   := -s -w -X main.version=$(VERSION) -linkmode external -extldflags "-static"
BIN       := bin/berth

.PHONY: all berth deps demo test unit conformance clean
all: berth

# Two steps: the small init program every container starts with, then berth
# with that program embedded (named after its hash when installed).
berth:
	CGO_ENABLED=1 $(GO) build -trimpath -tags '$(TAGS)' -ldflags '$(LDFLAGS)' -o bin/berth-init ./cmd/berth-init
	cp bin/berth-init cmd/berth/berth-init
	h=$$(sha256sum bin/berth-init | cut -c1-16) && \
	CGO_ENABLED=1 $(GO) build -trimpath -tags '$(TAGS) embedinit' -ldflags '$(LDFLAGS) -X main.initHash='$$h -o $(BIN) ./cmd/berth

# Install the Debian packages that building and testing need.
deps:
	./scripts/install-deps.sh

# Set up and run a container: berth, a busybox bundle made offline, and a run.
demo: berth
	./scripts/demo.sh

# Everything CI runs.
test: unit conformance

# Unit and end-to-end tests against the real kernel (root).
unit: berth
	BERTH_BIN=$(CURDIR)/$(BIN) $(GO) test -tags '$(TAGS)' -count=1 ./...

# The OCI runtime-tools validation suite against berth (fails below the floor).
conformance: berth
	BERTH_BIN=$(CURDIR)/$(BIN) ./conformance/run.sh

clean:
	rm -rf bin cmd/berth/berth-init
