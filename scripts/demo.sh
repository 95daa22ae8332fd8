#!/usr/bin/env bash
# Build a busybox bundle offline (from Debian's busybox-static) and run a
# container in it with berth's own OCI runtime. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
BERTH=${BERTH:-$PWD/bin/berth}
# The rootfs needs a static busybox: Debian's busybox-static (make deps installs it).
BB=/bin/busybox
dpkg -s busybox-static >/dev/null 2>&1 || { echo "demo: busybox-static is not installed: run 'make deps'" >&2; exit 1; }
dir=${DEMO_DIR:-/tmp/berth-demo}
rm -rf "$dir"
mkdir -p "$dir/rootfs/bin"
cp "$BB" "$dir/rootfs/bin/busybox"
for applet in $("$BB" --list); do
	[ "$applet" = busybox ] || ln -sf busybox "$dir/rootfs/bin/$applet"
done
cd "$dir"
"$BERTH" runtime spec
# A non-interactive process, so the demo works without a terminal.
sed -i 's/"terminal": true/"terminal": false/' config.json
sed -i 's|"sh"$|"sh", "-c", "echo hello from $(hostname), pid $$ in its own namespaces; id; ls /"|' config.json
id=demo-$$
exec "$BERTH" runtime --root /run/berth/demo run --bundle "$dir" "$id"
