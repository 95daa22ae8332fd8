#!/usr/bin/env bash
# Install what building and testing berth needs on Debian 12, from Debian's
# packages only. Installs nothing that is already there.
set -euo pipefail
pkgs=(
	make gcc libc6-dev musl-tools pkg-config libseccomp-dev # static build: cgo (musl) + libseccomp.a
	busybox-static                               # offline container images
	jq iproute2 procps util-linux curl nftables  # tests and scripts
	docker.io skopeo python3-docker              # real clients the end-to-end tests drive (the docker CLI, the Python SDK)
)
if [ "${BERTH_PEERS:-}" = 1 ]; then
	pkgs+=(runc crun hyperfine) # side-by-side benchmarks and conformance baselines
fi
missing=()
for p in "${pkgs[@]}"; do
	dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
	echo "install-deps: add /usr/local/go/bin to PATH" >&2
fi
