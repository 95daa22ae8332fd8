#!/usr/bin/env bash
# bench/runtime/run.sh — `berth runtime run` against runc and crun, interleaved.
#
# Measures, on one busybox bundle shared by every runtime:
#   - wall time, CPU time and peak RSS (of the reaped process tree) of
#     `RUNTIME --root R run --bundle B ID` running /bin/true, round-robin per
#     iteration with a fresh id per run; every run must exit 0 (failures counted);
#   - `RUNTIME --version` start-up time and RSS, also interleaved.
# and prints a markdown table for bench/RESULTS.md.
#
# Environment:
#   BERTH=path          berth binary (default: <repo>/bin/berth; build it first)
#   BERTH_OPTIONAL=1    if berth is missing or cannot run a container, measure the peers anyway
#   RUNC=, CRUN=        peer binaries (default: runc, crun from PATH)
#   RUNTIMES="berth crun runc"   which ones to try
#   ITER=50 WARMUP=3    measured / unmeasured iterations of `run`
#   VERSION_ITER=50     iterations of `--version`
#   BENCH_ALLOW_HOST_CHANGES=1
#                       crun 1.8 refuses hybrid cgroups ("cgroups in hybrid mode not supported")
#                       while the cgroup2 mount holds hugetlb. With this set, and only then, the
#                       script mounts hugetlb as its own v1 hierarchy at /sys/fs/cgroup/hugetlb and
#                       unmounts it again at exit (BENCH_KEEP_HOST_CHANGES=1 leaves it mounted).
#                       Without it crun is reported as unavailable.
#   BENCH_OUT=file      also write the markdown report there
#   BENCH_JSON_DIR=dir  also keep the raw per-run JSON there
#   KEEP_TMP=1          keep the temp dir (bundle, roots, JSON)
#
# Needs: root, go (to build the small measuring helper), jq, a static busybox.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)

ITER=${ITER:-50}
WARMUP=${WARMUP:-3}
VERSION_ITER=${VERSION_ITER:-50}
BERTH=${BERTH:-$REPO/bin/berth}
RUNC=${RUNC:-runc}
CRUN=${CRUN:-crun}
RUNTIMES=${RUNTIMES:-berth crun runc}
BUSYBOX=${BUSYBOX:-/bin/busybox}
HUGETLB_V1=/sys/fs/cgroup/hugetlb

log() { printf '[bench] %s\n' "$*" >&2; }
die() { printf '[bench] ERROR: %s\n' "$*" >&2; exit 1; }
banner() {
	printf '\n[bench] %s\n' '!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!' >&2
	for l in "$@"; do printf '[bench] !!! %s\n' "$l" >&2; done
	printf '[bench] %s\n\n' '!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!' >&2
}

[ "$(id -u)" = 0 ] || die "must run as root (the runtimes need it)"
command -v go >/dev/null || die "go is needed to build bench/runtime/benchrun"
command -v jq >/dev/null || die "jq is needed (apt-get install -y jq)"
[ -x "$BUSYBOX" ] || die "no busybox at $BUSYBOX (apt-get install -y busybox-static)"
file -L "$BUSYBOX" 2>/dev/null | grep -q 'statically linked' ||
	log "warning: $BUSYBOX may not be static; the container would lack its libraries"

case " $RUNTIMES " in *" berth "*)
	if ! command -v "$BERTH" >/dev/null && [ "${BERTH_OPTIONAL:-0}" != 1 ]; then
		die "berth binary missing: $BERTH (build it, e.g. 'make' or 'go build -o bin/berth ./cmd/berth', or set BERTH=...; BERTH_OPTIONAL=1 measures only the peers)"
	fi ;;
esac

TMP=$(mktemp -d "${TMPDIR:-/tmp}/berth-bench.XXXXXX")
PREFIX="bench-$$"
IDS=$TMP/ids
: >"$IDS"
HOST_CHANGED=0
declare -A RTCMD=() WHY=() LABEL=()
ACTIVE=()

cleanup() {
	local rc=$? name id
	set +e
	for name in "${!RTCMD[@]}"; do
		# Delete what a runtime left under its --root, by the ids we handed out.
		if [ -n "$(ls -A "$TMP/roots/$name" 2>/dev/null)" ]; then
			log "cleanup: deleting leftover $name containers"
			while read -r n id; do
				[ "$n" = "$name" ] || continue
				${RTCMD[$name]} delete -f "$id" >/dev/null 2>&1
			done <"$IDS"
		fi
	done
	# Empty cgroups named after our ids (rmdir only succeeds on empty ones).
	find /sys/fs/cgroup -mindepth 2 -maxdepth 4 -type d -name "$PREFIX-*" -depth \
		-exec rmdir {} \; 2>/dev/null
	if [ "$HOST_CHANGED" = 1 ]; then
		if [ "${BENCH_KEEP_HOST_CHANGES:-0}" = 1 ]; then
			banner "HOST CHANGE KEPT: hugetlb stays mounted as a v1 hierarchy at $HUGETLB_V1" \
				"undo: umount $HUGETLB_V1 && rmdir $HUGETLB_V1"
		elif find "$HUGETLB_V1" -mindepth 1 -depth -type d -exec rmdir {} + 2>/dev/null; umount "$HUGETLB_V1" && rmdir "$HUGETLB_V1"; then
			# The kernel frees the v1 hierarchy asynchronously; hugetlb then
			# returns to the cgroup2 mount, as it was before.
			for _ in 1 2 3 4 5 6 7 8 9 10; do
				grep -qw hugetlb /sys/fs/cgroup/unified/cgroup.controllers 2>/dev/null && break
				sleep 0.5
			done
			log "host restored: unmounted $HUGETLB_V1" \
				"(cgroup2 controllers now: '$(cat /sys/fs/cgroup/unified/cgroup.controllers 2>/dev/null)')"
		else
			banner "could not undo the host change: hugetlb is still mounted at $HUGETLB_V1"
		fi
	fi
	if [ "${KEEP_TMP:-0}" = 1 ]; then log "kept $TMP"; else rm -rf "$TMP"; fi
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- helper
log "building the measuring helper"
(cd "$REPO" && go build -o "$TMP/benchrun" ./bench/runtime/benchrun) || die "cannot build bench/runtime/benchrun"

# ---------------------------------------------------------------- bundle
B=$TMP/bundle
mkdir -p "$B/rootfs/bin"
cp "$BUSYBOX" "$B/rootfs/bin/busybox"
# Applet links point at /bin/busybox inside the container (busybox --install -s
# would point them at the host's path).
for p in $("$BUSYBOX" --list-full); do
	mkdir -p "$B/rootfs/$(dirname "$p")"
	[ -e "$B/rootfs/$p" ] || [ -L "$B/rootfs/$p" ] || ln -s /bin/busybox "$B/rootfs/$p"
done
[ -L "$B/rootfs/bin/true" ] || ln -s /bin/busybox "$B/rootfs/bin/true"
mkdir -p "$B/rootfs/proc" "$B/rootfs/sys" "$B/rootfs/dev" "$B/rootfs/tmp" "$B/rootfs/etc"
command -v "$RUNC" >/dev/null || die "runc is needed to write the bundle's config.json (runc spec)"
(cd "$B" && "$RUNC" spec)
jq '.process.args = ["/bin/true"] | .process.terminal = false' "$B/config.json" >"$B/config.json.new"
mv "$B/config.json.new" "$B/config.json"
log "bundle: $B ($(ls "$B/rootfs/bin" | wc -l) entries in /bin)"

# ---------------------------------------------------------------- runtimes
probe() { # name -> 0 if it runs the bundle; stderr text in $TMP/probe-$name.err
	local name=$1 id="$PREFIX-$1-probe$2"
	echo "$name $id" >>"$IDS"
	if ${RTCMD[$name]} run --bundle "$B" "$id" </dev/null >/dev/null 2>"$TMP/probe-$name.err"; then
		return 0
	fi
	${RTCMD[$name]} delete -f "$id" >/dev/null 2>&1 || true
	return 1
}
first_line() { head -n1 "$1" | cut -c1-200; }

for name in $RUNTIMES; do
	case $name in
	berth) bin=$BERTH ;;
	runc) bin=$RUNC ;;
	crun) bin=$CRUN ;;
	*) die "unknown runtime $name" ;;
	esac
	if ! path=$(command -v "$bin"); then
		if [ "$name" = berth ]; then
			[ "${BERTH_OPTIONAL:-0}" = 1 ] ||
				die "berth binary missing: $BERTH (build it, e.g. 'make' or 'go build -o bin/berth ./cmd/berth', or set BERTH=...; BERTH_OPTIONAL=1 measures only the peers)"
			log "berth binary missing ($BERTH); BERTH_OPTIONAL=1, measuring the peers only"
			WHY[berth]="missing"
		else
			log "$name not installed"
			WHY[$name]="not installed"
		fi
		continue
	fi
	path=$(readlink -f "$path")
	mkdir -p "$TMP/roots/$name"
	if [ "$name" = berth ]; then
		RTCMD[$name]="$path runtime --root $TMP/roots/$name"
		LABEL[$name]="berth $("$path" --version 2>/dev/null | head -n1 | sed 's/^berth[^0-9]*//' | cut -c1-40)"
	else
		RTCMD[$name]="$path --root $TMP/roots/$name"
		LABEL[$name]="$name $("$path" --version | head -n1 | sed 's/.*version //')"
	fi

	if probe "$name" 1; then
		ACTIVE+=("$name")
		continue
	fi
	if [ "$name" = crun ] && grep -q 'hybrid mode' "$TMP/probe-crun.err"; then
		if mountpoint -q "$HUGETLB_V1"; then
			WHY[crun]="unavailable (hybrid cgroups)"
		elif [ "${BENCH_ALLOW_HOST_CHANGES:-0}" = 1 ]; then
			banner "BENCH_ALLOW_HOST_CHANGES=1: CHANGING THE HOST so crun 1.8 can run:" \
				"  mkdir -p $HUGETLB_V1 && mount -t cgroup -o hugetlb cgroup $HUGETLB_V1" \
				"(moves hugetlb off the cgroup2 mount; unmounted at exit unless BENCH_KEEP_HOST_CHANGES=1," \
				" but the kernel may keep hugetlb off cgroup2 until reboot: seen here once)"
			mkdir -p "$HUGETLB_V1"
			if mount -t cgroup -o hugetlb cgroup "$HUGETLB_V1"; then
				HOST_CHANGED=1
				if probe crun 2; then
					ACTIVE+=(crun)
					continue
				fi
			else
				rmdir "$HUGETLB_V1" 2>/dev/null || true
			fi
			WHY[crun]="unavailable"
		else
			log "crun refuses hybrid cgroups here; rerun with BENCH_ALLOW_HOST_CHANGES=1 to measure it"
			log "  (that mounts hugetlb as a v1 hierarchy at $HUGETLB_V1 for the duration of the bench)"
			WHY[crun]="unavailable (hybrid cgroups)"
			continue
		fi
	fi
	msg=$(first_line "$TMP/probe-$name.err")
	if [ "$name" = berth ] && [ "${BERTH_OPTIONAL:-0}" != 1 ]; then
		die "berth cannot run the bundle: $msg"
	fi
	log "$name cannot run the bundle: $msg"
	: "${WHY[$name]:=failed: ${msg:0:60}}"
done
[ ${#ACTIVE[@]} -gt 0 ] || die "no runtime could run the bundle"

# ---------------------------------------------------------------- measure
rtargs=() verargs=()
for name in "${ACTIVE[@]}"; do
	rtargs+=(-rt "$name=${RTCMD[$name]} run --bundle $B {id}")
	verargs+=(-rt "$name=${RTCMD[$name]%% *} --version")
done

log "run /bin/true: ${ACTIVE[*]} interleaved, $WARMUP warm-up + $ITER measured iterations each"
"$TMP/benchrun" measure -iter "$ITER" -warmup "$WARMUP" -prefix "$PREFIX" -ids "$IDS" \
	-out "$TMP/run.json" "${rtargs[@]}"

# What did the runs leave behind? (checked before cleanup)
declare -A LEFT=()
for name in "${ACTIVE[@]}"; do
	state=$(ls -A "$TMP/roots/$name" 2>/dev/null | grep -c "^$PREFIX-" || true)
	cg=$(find /sys/fs/cgroup -mindepth 2 -maxdepth 4 -type d -name "$PREFIX-$name-*" 2>/dev/null | wc -l)
	LEFT[$name]="$state state dir(s), $cg cgroup dir(s)"
done

log "--version: ${ACTIVE[*]} interleaved, $VERSION_ITER iterations each"
"$TMP/benchrun" measure -q -iter "$VERSION_ITER" -warmup 3 -prefix "$PREFIX" \
	-out "$TMP/version.json" "${verargs[@]}"

# ---------------------------------------------------------------- report
repargs=()
for name in berth crun runc; do
	if [ -n "${LABEL[$name]:-}" ]; then repargs+=(-label "$name=${LABEL[$name]}"); fi
	if [ -n "${WHY[$name]:-}" ]; then
		repargs+=(-unavail "$name=${WHY[$name]}")
	elif [ -z "${RTCMD[$name]:-}" ]; then
		repargs+=(-unavail "$name=not measured")
	fi
done

. /etc/os-release
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
mem=$(awk '/MemTotal/ {printf "%.1f GB", $2/1048576}' /proc/meminfo)
if mountpoint -q "$HUGETLB_V1"; then
	cg="cgroup v1 controllers (hugetlb as a v1 hierarchy$([ "$HOST_CHANGED" = 1 ] && echo ', mounted by this bench'))"
elif [ -f /sys/fs/cgroup/cgroup.controllers ]; then
	cg="cgroup v2"
else
	cg="cgroup v1 controllers + cgroup2 at /sys/fs/cgroup/unified holding: $(cat /sys/fs/cgroup/unified/cgroup.controllers 2>/dev/null)"
fi
machine="$PRETTY_NAME ($(cat /etc/debian_version 2>/dev/null || echo ?)), kernel $(uname -r), $(nproc) cores ($cpu), $mem RAM, $cg; $(date -u '+%Y-%m-%d %H:%M UTC')"

report=$TMP/report.md
{
	echo "Machine: $machine"
	echo
	echo "\`RUNTIME --root R run --bundle B ID\` of busybox /bin/true (runc spec defaults, terminal false), $ITER iterations round-robin after $WARMUP warm-up, fresh id per run; \`--version\` $VERSION_ITER iterations. Wall = fork to reap; RSS and CPU = the runtime's reaped process tree (wait4 rusage, harness is a child subreaper)."
	echo
	"$TMP/benchrun" report -run "$TMP/run.json" -version "$TMP/version.json" "${repargs[@]}"
	echo
	for name in "${ACTIVE[@]}"; do echo "- left behind by $name after the runs: ${LEFT[$name]}"; done
	if [ "$HOST_CHANGED" = 1 ]; then
		echo "- host changed for crun: hugetlb mounted as a v1 hierarchy at $HUGETLB_V1 (BENCH_ALLOW_HOST_CHANGES=1)"
	fi
} >"$report"

if [ -n "${BENCH_JSON_DIR:-}" ]; then
	mkdir -p "$BENCH_JSON_DIR"
	cp "$TMP/run.json" "$BENCH_JSON_DIR/runtime-run.json"
	cp "$TMP/version.json" "$BENCH_JSON_DIR/runtime-version.json"
fi
if [ -n "${BENCH_OUT:-}" ]; then cp "$report" "$BENCH_OUT"; fi
echo
cat "$report"

fails=$(jq '[.runtimes[].summary.failures] | add' "$TMP/run.json")
if [ "$fails" != 0 ]; then
	log "$fails run(s) failed"
	exit 1
fi
