# berth is one static binary. cgo is on for the C that runs before the Go
# runtime (runtime/nsenter.c, the container init in runtime/cinit.c) and
# libseccomp; all of it links statically.
GO        ?= go
VERSION   ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
TAGS      := netgo osusergo
LDFLAGS   := -s -w -X main.version=$(VERSION) -linkmode external -extldflags "-static"
BIN       := bin/berth

# The C library linked in: musl by default, glibc with LIBC=glibc. A static
# glibc program spends about 0.5 ms of every start probing the CPU caches
# with CPUID (each one a VM exit here) and applying its IFUNC relocations;
# musl does neither, and every berth process (CLI, runtime, shim, init)
# starts 0.5-0.6 ms sooner (bench/RESULTS.md). musl's headers lack the
# kernel's and libseccomp's: bin/musl holds links to Debian's, and to the
# static libseccomp (see runtime/seccomp/fortify.c).
LIBC      ?= musl
ifeq ($(LIBC),musl)
MUSL      := $(CURDIR)/bin/musl
CGO_ENV   := CC=musl-gcc CGO_CFLAGS="-O2 -g -I$(MUSL)/include" CGO_LDFLAGS="-L$(MUSL)/lib"
LIBC_DEP  := musl
else ifneq ($(LIBC),glibc)
$(error LIBC must be musl or glibc, not $(LIBC))
endif

.PHONY: all berth musl deps demo test unit conformance clean
all: berth

# Two steps: the small init program every container starts with, then berth
# with that program embedded (named after its hash when installed).
berth: $(LIBC_DEP)
	$(CGO_ENV) CGO_ENABLED=1 $(GO) build -trimpath -tags '$(TAGS)' -ldflags '$(LDFLAGS)' -o bin/berth-init ./cmd/berth-init
	cp bin/berth-init cmd/berth/berth-init
	h=$$(sha256sum bin/berth-init | cut -c1-16) && \
	$(CGO_ENV) CGO_ENABLED=1 $(GO) build -trimpath -tags '$(TAGS) embedinit' -ldflags '$(LDFLAGS) -X main.initHash='$$h -o $(BIN) ./cmd/berth

musl:
	@command -v musl-gcc >/dev/null || { echo "make: musl-gcc not found: run 'make deps' (Debian's musl-tools), or build with LIBC=glibc" >&2; exit 1; }
	@test -f /usr/lib/$$(gcc -print-multiarch)/libseccomp.a || { echo "make: no static libseccomp: run 'make deps' (Debian's libseccomp-dev)" >&2; exit 1; }
	@mkdir -p $(MUSL)/include $(MUSL)/lib
	@ma=$$(gcc -print-multiarch) && \
	for h in linux asm-generic seccomp.h seccomp-syscalls.h; do ln -sfn /usr/include/$$h $(MUSL)/include/$$h; done && \
	ln -sfn /usr/include/$$ma/asm $(MUSL)/include/asm && \
	ln -sfn /usr/lib/$$ma/libseccomp.a $(MUSL)/lib/libseccomp.a

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
