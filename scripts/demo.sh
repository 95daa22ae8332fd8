#!/usr/bin/env bash
# The README's first command. Offline, from Debian's busybox-static:
#  1. a busybox bundle, run as a container by berth's own OCI runtime;
#  2. a berth daemon (started in the background unless one answers on the
#     default socket) with busybox:latest imported into its image store.
# Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
BERTH=${BERTH:-$PWD/bin/berth}
BB=/bin/busybox
dpkg -s busybox-static >/dev/null 2>&1 || { echo "demo: busybox-static is not installed: run 'make deps'" >&2; exit 1; }
dir=${DEMO_DIR:-/tmp/berth-demo}
rm -rf "$dir"
mkdir -p "$dir/rootfs/bin" "$dir/rootfs/etc" "$dir/rootfs/tmp"
cp "$BB" "$dir/rootfs/bin/busybox"
for applet in $("$BB" --list); do
	[ "$applet" = busybox ] || ln -sf busybox "$dir/rootfs/bin/$applet"
done
# Users and groups, as the busybox image has them (for --user NAME and id).
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n' >"$dir/rootfs/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$dir/rootfs/etc/group"
mkdir -p "$dir/rootfs/root" "$dir/rootfs/home"

echo "== 1. a container from a bundle, with berth runtime"
(
	cd "$dir"
	"$BERTH" runtime spec
	sed -i 's/"terminal": true/"terminal": false/' config.json
	sed -i 's|"sh"$|"sh", "-c", "echo hello from $(hostname), pid $$ in its own namespaces; id; ls /"|' config.json
	"$BERTH" runtime --root /run/berth/demo run --bundle "$dir" "demo-$$"
)

echo "== 2. busybox:latest in the daemon's image store"
if ! "$BERTH" info >/dev/null 2>&1; then
	mkdir -p /var/log/berth
	nohup "$BERTH" daemon >/var/log/berth/daemon.log 2>&1 &
	for _ in $(seq 1 100); do
		"$BERTH" info >/dev/null 2>&1 && break
		sleep 0.05
	done
	echo "started berth daemon (pid $!, log /var/log/berth/daemon.log, socket /run/berth/berth.sock)"
fi
tar -C "$dir/rootfs" -cf "$dir/busybox.tar" .
"$BERTH" import -c 'CMD ["sh"]' -m "busybox-static $(dpkg-query -W -f '${Version}' busybox-static), offline" "$dir/busybox.tar" busybox:latest >/dev/null
"$BERTH" images busybox

echo "== 3. a container through the daemon: berth run"
"$BERTH" run --rm --name "demo-$$" busybox sh -c 'echo hello from $(hostname): $(id)'
echo "The docker CLI works too: DOCKER_HOST=unix:///run/berth/berth.sock docker run --rm -it busybox sh"
