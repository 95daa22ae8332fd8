#!/usr/bin/env bash
# bench/volumes/run.sh — file I/O in a named volume and in the container's
# overlay layer against the host directly: berth against docker (dockerd
# 20.10 + containerd) and podman, on one busybox image.
#
# Measures, with bench/volumes/volbench (static Go, bind-mounted read-only
# into the containers at /vb, and run as is on the host), timed inside the
# process that does the I/O:
#   - one large file (BENCH_LARGE_MB, 1 GiB): write with 1 MiB writes, then
#     fsync (as dd bs=1M conv=fsync); read back with 1 MiB reads after the
#     page cache is dropped;
#   - small files (BENCH_SMALL_FILES × BENCH_SMALL_KB, 5000 × 4 KiB): create
#     them one by one in a new directory, then sync(2), timed together; read
#     them all (list, open, read, close) after the caches are dropped;
# in three places: a named volume (`-v vb-vol:/data`), a directory of the
# container's own overlay layer (/work), and a directory of the temp dir on
# the host, on the file system the engines' data roots are on. Rounds go
# round-robin over (engine × place), the order rotating each round; before
# every timed step the script runs `sync; echo 3 > /proc/sys/vm/drop_caches`
# (not timed), so every read is cold and no write-back is carried over.
# Prints medians, volume ÷ host, overlay ÷ host and berth ÷ each peer as
# markdown tables for bench/RESULTS.md.
#
# Everything runs privately under one short temp dir, as in bench/containers:
# a berth daemon (in a network namespace of the script's own, where its bridge
# and nftables table live), a containerd and dockerd of the script's own (no
# bridge, no iptables, no ip_forward), podman with its own root, runroot,
# tmpdir and config. Containers run with `--network none`: no traffic at all.
# At exit the script removes its containers and volumes, stops the daemons by
# pid, unmounts what is under the temp dir, removes it, and compares the
# host's links, nftables/iptables rules, mount count and engine paths with
# what they were before.
#
# Environment:
#   BERTH=path          berth binary (default <repo>/bin/berth, built with `make berth` when
#                       missing or older than a source file; BENCH_BUILD=0 never builds)
#   DOCKER_CLI=docker   the docker CLI (for berth and dockerd)
#   DOCKERD=, CONTAINERD=, PODMAN=   peer binaries (default: from PATH)
#   ENGINES="berth docker podman"    which engines to try (peers are optional)
#   BENCH_ROUNDS=5      measured rounds (BENCH_WARMUP=1 unrecorded first)
#   BENCH_LARGE_MB=1024 MiB in the large file
#   BENCH_SMALL_FILES=5000, BENCH_SMALL_KB=4   the small files
#   BENCH_OUT=file      also write the markdown report there
#   BENCH_JSON_DIR=dir  also keep the raw JSON lines there
#   KEEP_TMP=1          keep the temp dir (daemons are stopped anyway)
#
# Needs: root (drop_caches too), go, jq, timeout, nsenter and unshare
# (util-linux), ip, busybox-static, and BENCH_LARGE_MB × 2 of free space in
# TMPDIR.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)

ROUNDS=${BENCH_ROUNDS:-5}
WARMUP=${BENCH_WARMUP:-1}
LARGE_MB=${BENCH_LARGE_MB:-1024}
SMALL_FILES=${BENCH_SMALL_FILES:-5000}
SMALL_KB=${BENCH_SMALL_KB:-4}
ENGINES=${ENGINES:-berth docker podman}
DOCKER_CLI=${DOCKER_CLI:-docker}
DOCKERD=${DOCKERD:-dockerd}
CONTAINERD=${CONTAINERD:-containerd}
PODMAN=${PODMAN:-podman}
BUSYBOX=${BUSYBOX:-/bin/busybox}
IMG=busybox:latest
CTR=vb-ctr
VOL=vb-vol

# shellcheck source=bench/lib.sh
. "$(dirname "$0")/../lib.sh"

[ "$(id -u)" = 0 ] || die "must run as root (the engines and drop_caches need it)"
for t in go jq timeout nsenter unshare ip awk; do command -v $t >/dev/null || die "$t is needed"; done
[ -x "$BUSYBOX" ] || die "no busybox at $BUSYBOX (apt-get install -y busybox-static)"
command -v "$DOCKER_CLI" >/dev/null || die "no docker CLI ($DOCKER_CLI)"
for v in "$ROUNDS" "$WARMUP" "$LARGE_MB" "$SMALL_FILES" "$SMALL_KB"; do
	case $v in '' | *[!0-9]*) die "BENCH_* counts must be whole numbers (got '$v')" ;; esac
done
[ "$ROUNDS" -ge 1 ] || die "BENCH_ROUNDS must be at least 1"
if [ "$LARGE_MB" -lt 1 ] || [ "$SMALL_FILES" -lt 1 ] || [ "$SMALL_KB" -lt 1 ]; then die "BENCH_LARGE_MB, BENCH_SMALL_FILES and BENCH_SMALL_KB must be at least 1"; fi

# Short: berth's sockets live under the exec root ($T/bx).
T=$(mktemp -d /tmp/vb.XXXXXX)
chmod 711 "$T"
declare -A PID=() WHY=() LABEL=()
STARTED=() # daemons this script started, stopped at exit
ACTIVE=()

# ---------------------------------------------------------------- host state
HOST_PATHS="/run/docker /run/containerd /run/containers /run/libpod /run/berth /run/netns /var/run/docker.sock
/opt/containerd /var/lib/docker /var/lib/containerd /var/lib/berth /etc/docker /etc/containers/networks
/root/.docker /root/.config/containers /root/.local/share/containers"
# lib.sh's host_state, plus the nftables tables by name, the number of
# mounts and the mounts themselves (so that a difference names them): the run
# must leave no bridge, table or mount behind.
eval "lib_$(declare -f host_state)"
host_state() {
	lib_host_state
	if command -v nft >/dev/null; then echo "nft tables $(nft list tables 2>/dev/null | sort | tr '\n' ' ')"; fi
	echo "mounts $(grep -c . /proc/mounts)"
	awk '{print "mount " $3 " " $2}' /proc/mounts | sort
}
HOST_BEFORE=$(mktemp /tmp/vb-host.XXXXXX)
host_state >"$HOST_BEFORE"

cleanup() {
	local rc=$? e
	set +e
	trap - INT TERM
	for e in "${ACTIVE[@]}"; do
		remove_all "$e"
		clicmd "$e"
		timeout 60 "${CLI[@]}" volume rm -f "$VOL" >/dev/null 2>&1
	done
	teardown "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- helper, image
log "temp dir $T"
mkdir -p "$T/helper" "$T/host"
(cd "$REPO" && CGO_ENABLED=0 go build -o "$T/helper/volbench" ./bench/volumes/volbench) || die "cannot build bench/volumes/volbench"
VB=$T/helper/volbench

R=$T/rootfs
busybox_rootfs "$R"
tar -C "$R" --numeric-owner -cf "$T/busybox.tar" .
log "image: $(du -h "$T/busybox.tar" | cut -f1) tar (busybox)"

# ---------------------------------------------------------------- engines
engine_env
for e in $ENGINES; do
	case $e in
	berth) make_netns berth && start_berth ;;
	docker) start_dockerd "$T/docker" ;;
	podman) start_podman ;;
	*) die "unknown engine $e (berth, docker, podman)" ;;
	esac
done

# Import the image and probe a run; then per engine a volume and one
# long-lived container holding it, the helper mounted read-only. A probe
# through each place checks the file system the helper sees there (not the
# overlay in the volume, the overlay in /work) and that the volume's files
# land in a directory of the engine's data root, on the host directory's
# file system.
HOSTDEV=$(stat -c %d "$T/host")
probe_places() { # engine
	local e=$1 mp out fs place
	clicmd "$e"
	timeout 60 "${CLI[@]}" volume create "$VOL" >/dev/null 2>"$T/$e-vol.err" || { not_available "$e" "volume create failed: $(first_line "$T/$e-vol.err")"; return 1; }
	mp=$(timeout 30 "${CLI[@]}" volume inspect --format '{{.Mountpoint}}' "$VOL" 2>"$T/$e-vol.err") || { not_available "$e" "volume inspect failed: $(first_line "$T/$e-vol.err")"; return 1; }
	case $mp in "$T"/*) ;; *) not_available "$e" "the volume is at '$mp', outside the engine's data root under $T"; return 1 ;; esac
	if ! timeout 60 "${CLI[@]}" run -d --name "$CTR" --network none -v "$VOL:/data" -v "$T/helper:/vb:ro" "$IMG" sleep 86400 >/dev/null 2>"$T/$e-run.err"; then
		not_available "$e" "run -d failed: $(first_line "$T/$e-run.err")"
		return 1
	fi
	for place in /data /work; do
		if ! out=$(timeout 60 "${CLI[@]}" exec "$CTR" /vb/volbench write-small -dir "$place" -n 1 -kb 1 2>"$T/$e-probe.err"); then
			not_available "$e" "the helper failed in $place: $(first_line "$T/$e-probe.err")"
			return 1
		fi
		fs=$(jq -r .fs <<<"$out")
		case $place:$fs in
		/data:overlay) not_available "$e" "the volume (/data) is on the container's overlay"; return 1 ;;
		/work:overlay | /data:*) ;;
		*) not_available "$e" "/work is on $fs, not on the container's overlay"; return 1 ;;
		esac
		timeout 60 "${CLI[@]}" exec "$CTR" /vb/volbench clean -dir "$place"
	done
	# The probe's file must have been in the volume's directory; it is gone now.
	timeout 60 "${CLI[@]}" exec "$CTR" /vb/volbench write-small -dir /data -n 1 -kb 1 >/dev/null
	if [ ! -f "$mp/small/f000000" ]; then not_available "$e" "a file written in /data is not in $mp"; return 1; fi
	if [ "$(stat -c %d "$mp")" != "$HOSTDEV" ]; then not_available "$e" "the volume ($mp) is not on the file system of $T/host"; return 1; fi
	timeout 60 "${CLI[@]}" exec "$CTR" /vb/volbench clean -dir /data
	log "$e: volume at $mp ($fs in /work)"
}
PROBED=()
for e in "${ACTIVE[@]}"; do
	import_probe "$e" "$T/busybox.tar" "$IMG" --network none || continue
	probe_places "$e" && PROBED+=("$e")
done
has berth || die "berth could not run the workloads"
log "contenders: host ${PROBED[*]}"

# ---------------------------------------------------------------- rounds
RUNS=$T/runs.jsonl
: >"$RUNS"
drop_caches() { sync && echo 3 >/proc/sys/vm/drop_caches; }
# step engine place op round record: one run of the helper; a JSON line in
# $RUNS if record is 1.
step() {
	local e=$1 loc=$2 op=$3 dir cmd out err=""
	case $loc in
	host) cmd=("$VB") dir=$T/host ;;
	volume) clicmd "$e" && cmd=("${CLI[@]}" exec "$CTR" /vb/volbench) dir=/data ;;
	overlay) clicmd "$e" && cmd=("${CLI[@]}" exec "$CTR" /vb/volbench) dir=/work ;;
	esac
	drop_caches
	if ! out=$(timeout 600 "${cmd[@]}" "$op" -dir "$dir" -mb "$LARGE_MB" -n "$SMALL_FILES" -kb "$SMALL_KB" 2>"$T/step.err"); then
		err="$(first_line "$T/step.err")"
		out="{\"op\": \"$op\"}"
		log "$e $loc $op (round $4): failed: $err"
	fi
	[ "$5" = 1 ] || return 0
	jq -c --arg engine "$e" --arg loc "$loc" --argjson round "$4" --arg err "$err" \
		--arg load "$(cut -d' ' -f1-3 /proc/loadavg)" \
		'. + {engine: $engine, loc: $loc, round: $round, err: $err, loadavg: $load}' <<<"$out" >>"$RUNS"
}
clean() { # engine place
	case $2 in
	host) "$VB" clean -dir "$T/host" ;;
	volume) clicmd "$1" && timeout 120 "${CLI[@]}" exec "$CTR" /vb/volbench clean -dir /data ;;
	overlay) clicmd "$1" && timeout 120 "${CLI[@]}" exec "$CTR" /vb/volbench clean -dir /work ;;
	esac || log "$1 $2: clean failed"
}
SERIES=("host host")
for e in "${PROBED[@]}"; do SERIES+=("$e volume" "$e overlay"); done
n=${#SERIES[@]}
log "$WARMUP warm-up + $ROUNDS rounds over ${n} places, the order rotating; $LARGE_MB MiB file, $SMALL_FILES × $SMALL_KB KiB files"
t0=$SECONDS
for ((r = -WARMUP; r < ROUNDS; r++)); do
	rec=0
	[ "$r" -ge 0 ] && rec=1
	for ((k = 0; k < n; k++)); do
		read -r e loc <<<"${SERIES[$(((r % n + n + k) % n))]}"
		for op in write-large read-large; do step "$e" "$loc" "$op" "$r" "$rec"; done
		clean "$e" "$loc"
		for op in write-small read-small; do step "$e" "$loc" "$op" "$r" "$rec"; done
		clean "$e" "$loc"
	done
	log "round $r done ($((SECONDS - t0)) s; load average $(cut -d' ' -f1-3 /proc/loadavg))"
done

# ---------------------------------------------------------------- report
repargs=(-engines "${PROBED[*]}")
for e in "${PROBED[@]}"; do repargs+=(-label "$e=${LABEL[$e]}"); done

report=$T/report.md
{
	echo "Machine: $(machine_line "$T")"
	echo
	echo "The same static helper (bench/volumes/volbench) does the I/O and times it, in each engine's busybox container (\`exec\`, the helper bind-mounted read-only) and on the host; containers with \`--network none\`. Large file: 1 MiB writes then \`fsync\`, 1 MiB reads. Small files: create, one write, close each, then \`sync\`; read: list, then open, read and close each. \`sync; echo 3 > /proc/sys/vm/drop_caches\` (not timed) before every step, so reads are cold. The host directory and the engines' data roots (volumes, overlay upper dirs) are in one temp dir on one file system. Clients: docker CLI $("$DOCKER_CLI" version --format '{{.Client.Version}}' 2>/dev/null) for berth and dockerd, podman for podman. $WARMUP warm-up round(s) not recorded."
	echo
	"$VB" report -runs "$RUNS" "${repargs[@]}"
	for e in docker podman; do
		if [ -n "${WHY[$e]:-}" ]; then echo "- $e: not measured: ${WHY[$e]}"; fi
	done
	init_note
} >"$report"

publish "$report" "$RUNS"

fails=$(jq -s '[.[] | select(.err != "")] | length' "$RUNS")
if [ "$fails" != 0 ]; then
	log "$fails workload run(s) failed"
	exit 1
fi
