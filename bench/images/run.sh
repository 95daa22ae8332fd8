#!/usr/bin/env bash
# bench/images/run.sh — `load` of a 500 MB, 10-layer image: berth against
# docker (dockerd 20.10 + containerd) and podman, interleaved.
#
# Measures, with one image made of random bytes (bench/images/imgbench mkimage):
#   - `load -i ARCHIVE` wall time, engine CPU time and peak RSS, for the plain
#     "docker save" archive, the archive gzipped and the archive with gzipped
#     layer tars; every engine loads every variant once per round, the order of
#     the engines rotating from round to round; after each load the image is
#     removed again and the engine's store checked to be empty, so that the
#     next load unpacks everything again;
#   - the same plus a sync(2) afterwards (berth syncs its layers before a load
#     returns, docker and podman leave their writes in the page cache);
#   - the RSS and PSS of the idle daemons (berth; dockerd + containerd) once
#     started, and after a load and BENCH_IDLE seconds of idleness;
#   - how much disk each engine's store takes after one load;
# and prints a markdown table for bench/RESULTS.md.
#
# Every engine runs on its own: the script starts a berth daemon, a containerd
# and a dockerd of its own (own data and exec roots, unix sockets only, no
# bridge, no iptables, no ip_forward) and gives podman its own root, runroot
# and config; everything lives in a temp dir that is removed at exit. Only the
# processes it started are stopped, by pid. Host caches are not dropped: the
# archives stay in the page cache after the warm-up round, for every engine
# alike, and a sync(2) before each load keeps one engine's write-back out of
# the next one's time.
#
# Environment:
#   BERTH=path          berth binary (default: <repo>/bin/berth, built with `make` when
#                       missing or older than a source file; BENCH_BUILD=0 never builds)
#   BERTH_OPTIONAL=1    if berth is missing, fails to build, start or load, measure the peers anyway
#   BERTH_CLIENT=docker the client for berth: docker (the docker CLI, as for dockerd) or berth
#   DOCKER_CLI=docker   the docker CLI (both daemons are driven by it; API version negotiated)
#   DOCKERD=, CONTAINERD=, PODMAN=   peer binaries (default: from PATH)
#   ENGINES="berth docker podman"    which engines to try (docker and podman are optional:
#                       reported as unavailable when missing or when they fail the warm-up)
#   BENCH_ROUNDS=5      measured rounds (each: every variant on every engine)
#   BENCH_WARMUP=1      unmeasured rounds first (they also find the variants an engine cannot load)
#   BENCH_VARIANTS="tar tar.gz gzlayers"
#   BENCH_SCALE=1       image size factor (0.05 for a quick try of the script)
#   BENCH_IDLE=30       seconds of idleness before the "after a load" memory reading
#   LOAD_TIMEOUT=600    seconds one load may take before it is killed (counted as failed)
#   BENCH_OUT=file      also write the markdown report there
#   BENCH_JSON_DIR=dir  also keep the raw JSON lines (runs, memory) and image.json there
#   KEEP_TMP=1          keep the temp dir (archives, stores, daemon logs); daemons are stopped anyway
#
# Needs: root, go (to build the helper), jq, timeout; about 10 GB free in TMPDIR (scale 1).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)

ROUNDS=${BENCH_ROUNDS:-5}
WARMUP=${BENCH_WARMUP:-1}
VARIANTS=${BENCH_VARIANTS:-tar tar.gz gzlayers}
SCALE=${BENCH_SCALE:-1}
IDLE=${BENCH_IDLE:-30}
LOAD_TIMEOUT=${LOAD_TIMEOUT:-600}
ENGINES=${ENGINES:-berth docker podman}
BERTH_CLIENT=${BERTH_CLIENT:-docker}
DOCKER_CLI=${DOCKER_CLI:-docker}
DOCKERD=${DOCKERD:-dockerd}
CONTAINERD=${CONTAINERD:-containerd}
PODMAN=${PODMAN:-podman}
TAG=berth-bench/images:latest

# shellcheck source=bench/lib.sh
. "$(dirname "$0")/../lib.sh"

[ "$(id -u)" = 0 ] || die "must run as root (the engines need it)"
command -v go >/dev/null || die "go is needed to build bench/images/imgbench"
command -v jq >/dev/null || die "jq is needed (apt-get install -y jq)"
command -v timeout >/dev/null || die "timeout (coreutils) is needed"
case $BERTH_CLIENT in docker | berth) ;; *) die "BERTH_CLIENT must be docker or berth" ;; esac
if want docker || { want berth && [ "$BERTH_CLIENT" = docker ]; }; then
	command -v "$DOCKER_CLI" >/dev/null || die "no docker CLI ($DOCKER_CLI); set DOCKER_CLI=..."
fi
for v in $VARIANTS; do
	case $v in tar | tar.gz | gzlayers) ;; *) die "unknown variant $v (tar, tar.gz, gzlayers)" ;; esac
done
case " $VARIANTS " in *" tar "*) ;; *) die "BENCH_VARIANTS must include tar (the plain archive)" ;; esac

TMP=$(mktemp -d "${TMPDIR:-/tmp}/berth-imgbench.XXXXXX")
chmod 711 "$TMP"
free_kb=$(df -Pk "$TMP" | awk 'NR==2 {print $4}')
need_kb=$(awk -v s="$SCALE" 'BEGIN {printf "%d", 10e6 * s + 1e6}')
if [ "$free_kb" -lt "$need_kb" ]; then
	rmdir "$TMP"
	die "not enough room in ${TMPDIR:-/tmp}: $((free_kb / 1024)) MB free, want $((need_kb / 1024)) MB"
fi

declare -A PID=() WHY=() LABEL=() UNSUP=() DISK=() DIRTY=()
ACTIVE=()
STARTED=() # pids this script started, stopped at exit

# ---------------------------------------------------------------- host state
# Paths an engine might create outside its roots (dockerd's plugin dir,
# podman's network run dir, containerd's opt dir ...). Those that appear during
# the run and hold nothing but empty directories are removed at exit; anything
# else that changed is reported.
HOST_PATHS="/run/docker /run/containerd /run/containers /run/libpod /var/run/docker.sock /opt/containerd
/var/lib/docker /var/lib/containerd /var/lib/containers /etc/docker /etc/containers/networks
/root/.docker /root/.config/containers /root/.local/share/containers /var/tmp"
host_state >"$TMP/host.before"

# ---------------------------------------------------------------- cleanup
descendants() { # pid -> its descendants, deepest last
	local c
	for c in $(ps -o pid= --ppid "$1" 2>/dev/null); do
		echo "$c"
		descendants "$c"
	done
}
ours() { # pid -> 0 if it is alive and still ours: every daemon we start names $TMP in its arguments
	[ -r "/proc/$1/cmdline" ] || return 1
	tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -qF "$TMP"
}
stop_pid() { # pid seconds: TERM, wait, KILL; and whatever it had started
	local pid=$1 secs=$2 kids k i
	ours "$pid" || return 0
	kids=$(descendants "$pid")
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < secs * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		log "cleanup: pid $pid did not stop in ${secs}s, killing it"
		kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
	for k in $kids; do
		if ours "$k"; then
			log "cleanup: stopping pid $k, left behind by $pid"
			kill -TERM "$k" 2>/dev/null || true
			sleep 1
			kill -KILL "$k" 2>/dev/null || true
		fi
	done
}
cleanup() {
	local rc=$? i
	set +e
	# Daemons, last started first (dockerd before its containerd).
	for ((i = ${#STARTED[@]} - 1; i >= 0; i--)); do stop_pid "${STARTED[$i]}" 30; done
	release_tmp "$TMP"
	exit $rc
}
HOST_BEFORE=$(mktemp "${TMPDIR:-/tmp}/berth-imgbench-host.XXXXXX")
cp "$TMP/host.before" "$HOST_BEFORE"
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- helper, image
log "temp dir $TMP"
log "building the helper"
(cd "$REPO" && go build -o "$TMP/imgbench" ./bench/images/imgbench) || die "cannot build bench/images/imgbench"
IMGBENCH=$TMP/imgbench

log "making the image (scale $SCALE): 10 layers of random bytes, three archives"
"$IMGBENCH" mkimage -dir "$TMP/img" -scale "$SCALE" -tag "$TAG" || die "imgbench mkimage failed"
declare -A ARCHIVE=([tar]=$TMP/img/image.tar [tar.gz]=$TMP/img/image.tar.gz [gzlayers]=$TMP/img/image-gzlayers.tar)
log "archives: $(find "$TMP/img" -name 'image*.tar*' -printf '%f %s\n' | sort | awk '{printf "%s %.0f MB  ", $1, $2/1e6}')"

# ---------------------------------------------------------------- engines
export DOCKER_CONFIG=$TMP/docker-cli # no user config, no credential helpers
unset DOCKER_HOST DOCKER_CONTEXT DOCKER_TLS_VERIFY DOCKER_CERT_PATH
mkdir -p "$DOCKER_CONFIG"

not_available() { # engine reason
	if [ "$1" = berth ] && [ "${BERTH_OPTIONAL:-0}" != 1 ]; then
		die "berth: $2 (BERTH_OPTIONAL=1 measures only the peers)"
	fi
	log "$1: $2; not measured"
	WHY[$1]=$2
}

wait_api() { # engine host pid log: until `CLIENT version` answers (60 s)
	local i
	clicmd "$1"
	for ((i = 0; i < 300; i++)); do
		if ! kill -0 "$3" 2>/dev/null; then
			log "$1 daemon exited: $(tail -n3 "$4" | tr '\n' ' ' | cut -c1-300)"
			return 1
		fi
		if timeout 5 "${CLI[@]}" version >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.2
	done
	log "$1 daemon did not answer on $2 in 60 s"
	return 1
}

start_berth() {
	local bin=${BERTH:-$REPO/bin/berth} stale
	if [ -z "${BERTH:-}" ] && [ "${BENCH_BUILD:-1}" = 1 ]; then
		stale=""
		[ -x "$bin" ] && stale=$(berth_stale "$bin")
		if [ ! -x "$bin" ] || [ -n "$stale" ]; then
			if [ -n "$stale" ]; then log "building berth with make ($stale is newer than $bin)"; else log "building berth with make ($bin missing)"; fi
			if ! (cd "$REPO" && timeout 1200 make berth) >"$TMP/make.log" 2>&1; then
				tail -n 20 "$TMP/make.log" >&2
				not_available berth "build failed"
				return
			fi
		fi
	fi
	if [ ! -x "$bin" ]; then
		not_available berth "missing: $bin (build it with make, or set BERTH=...)"
		return
	fi
	# A copy, so that a rebuild by someone else during the run changes nothing.
	mkdir -p "$TMP/bin" "$TMP/berth"
	cp "$bin" "$TMP/bin/berth"
	BERTHBIN=$TMP/bin/berth
	LABEL[berth]="berth $("$BERTHBIN" --version 2>/dev/null | sed 's/^berth version //' | cut -c1-40)"
	BSOCK=unix://$TMP/berth/berth.sock
	BDATA=$TMP/berth/data
	run_dir "$TMP/berth/exec" # runtime state on a tmpfs, as lib.sh gives every engine
	# --bridge none: no container runs here, and the host's network stays as it is.
	"$BERTHBIN" daemon --bridge none -H "$BSOCK" --data-root "$BDATA" --exec-root "$TMP/berth/exec" \
		>"$TMP/berth/daemon.log" 2>&1 </dev/null &
	PID[berth]=$!
	STARTED+=("${PID[berth]}")
	if ! wait_api berth "$BSOCK" "${PID[berth]}" "$TMP/berth/daemon.log"; then
		not_available berth "the daemon did not start: $(first_line "$TMP/berth/daemon.log")"
		return
	fi
	ACTIVE+=(berth)
}

start_podman() {
	local p=$TMP/podman
	if ! command -v "$PODMAN" >/dev/null; then
		not_available podman "not installed"
		return
	fi
	mkdir -p "$p/root" "$p/tmp" "$p/bigtmp" "$p/networks"
	run_dir "$p/run"
	# podman 4.3 asks for nofile 1048576 unless told otherwise (PEERS.md);
	# no journald here, no systemd.
	cat >"$p/containers.conf" <<-EOF
		[containers]
		default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
		[engine]
		events_logger = "none"
		cgroup_manager = "cgroupfs"
		image_copy_tmp_dir = "$p/bigtmp"
		[network]
		network_config_dir = "$p/networks"
	EOF
	cat >"$p/storage.conf" <<-EOF
		[storage]
		driver = "overlay"
		runroot = "$p/run"
		graphroot = "$p/root"
	EOF
	PODMANCMD=(env CONTAINERS_CONF="$p/containers.conf" CONTAINERS_STORAGE_CONF="$p/storage.conf"
		TMPDIR="$p/bigtmp" "$(command -v "$PODMAN")" --root "$p/root" --runroot "$p/run"
		--storage-driver overlay --tmpdir "$p/tmp")
	PROOT=$p/root
	if ! timeout 60 "${PODMANCMD[@]}" images -q >/dev/null 2>"$p/probe.err"; then
		not_available podman "does not start: $(first_line "$p/probe.err")"
		return
	fi
	LABEL[podman]="podman $("${PODMANCMD[@]}" --version | awk '{print $3}')"
	ACTIVE+=(podman)
}

# ---------------------------------------------------------------- per engine
# loadcmd engine archive -> LOADCMD
loadcmd() {
	case $1 in
	berth)
		if [ "$BERTH_CLIENT" = berth ]; then
			LOADCMD=("$BERTHBIN" -H "$BSOCK" load -i "$2")
		else
			LOADCMD=("$DOCKER_CLI" -H "$BSOCK" load -i "$2")
		fi ;;
	docker) LOADCMD=("$DOCKER_CLI" -H "$DSOCK" load -i "$2") ;;
	podman) LOADCMD=("${PODMANCMD[@]}" load -i "$2") ;;
	esac
}
clicmd() { # engine -> CLI, the engine's client
	case $1 in
	berth)
		if [ "$BERTH_CLIENT" = berth ]; then CLI=("$BERTHBIN" -H "$BSOCK"); else CLI=("$DOCKER_CLI" -H "$BSOCK"); fi ;;
	docker) CLI=("$DOCKER_CLI" -H "$DSOCK") ;;
	podman) CLI=("${PODMANCMD[@]}") ;;
	esac
}
store_dir() {
	case $1 in berth) echo "$BDATA" ;; docker) echo "$DDATA" ;; podman) echo "$PROOT" ;; esac
}
# What an engine still holds of the image: empty when it holds nothing.
leftovers() {
	local d
	case $1 in
	berth)
		d=$BDATA
		find "$d/snapshots/layers" "$d/snapshots/tmp" "$d/content/blobs/sha256" "$d/content/ingest" \
			-mindepth 1 -maxdepth 1 2>/dev/null || true ;;
	docker)
		d=$DDATA
		find "$d/overlay2" "$d/image/overlay2/layerdb/sha256" "$d/tmp" -mindepth 1 -maxdepth 1 \
			! -path "$d/overlay2/l" 2>/dev/null || true ;;
	podman)
		d=$PROOT
		{ find "$d/overlay" -mindepth 1 -maxdepth 1 ! -path "$d/overlay/l" ! -name .has-mount-program; timeout 60 "${PODMANCMD[@]}" images -q; } 2>/dev/null || true ;;
	esac
}
# remove engine: drop the image and check that the store is empty again.
remove_image() {
	local e=$1 left
	clicmd "$e"
	timeout 120 "${CLI[@]}" image rm -f "$TAG" >/dev/null 2>&1 || true
	left=$(leftovers "$e")
	if [ -n "$left" ]; then
		timeout 300 "${CLI[@]}" image prune -a -f >/dev/null 2>&1 || true
		left=$(leftovers "$e")
	fi
	if [ -n "$left" ]; then
		log "WARNING: $e still holds $(echo "$left" | wc -l) entries after image rm and prune: $(echo "$left" | head -n3 | tr '\n' ' ')"
		DIRTY[$e]=$((${DIRTY[$e]:-0} + 1))
	fi
}
daemon_pids() {
	case $1 in berth) echo "${PID[berth]}" ;; docker) echo "${PID[docker]},${PID[containerd]}" ;; podman) echo "" ;; esac
}
# measure engine variant iter outfile
measure() {
	local e=$1 v=$2 i=$3 out=$4 pids
	local watch=()
	pids=$(daemon_pids "$e")
	case $e in
	berth) watch=(-watch "$pids" -hwm "$pids") ;;
	docker) watch=(-watch "$pids") ;;
	esac
	loadcmd "$e" "${ARCHIVE[$v]}"
	"$IMGBENCH" run -out "$out" -engine "$e" -variant "$v" -iter "$i" -interval 100ms -sync "${watch[@]}" \
		-- timeout -k 10 "$LOAD_TIMEOUT" "${LOADCMD[@]}"
}
memory() { # when engines...
	local e when=$1
	shift
	for e in "$@"; do
		[ "$e" = podman ] && continue
		"$IMGBENCH" mem -out "$TMP/mem.jsonl" -engine "$e" -when "$when" -pids "$(daemon_pids "$e")"
	done
}
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

# ---------------------------------------------------------------- measure
for e in $ENGINES; do
	case $e in
	berth) start_berth ;;
	docker) start_dockerd "$TMP/docker" ;;
	podman) start_podman ;;
	*) die "unknown engine $e (berth, docker, podman)" ;;
	esac
done
[ ${#ACTIVE[@]} -gt 0 ] || die "no engine to measure"
log "engines: ${ACTIVE[*]}"

sleep 5
memory "once started" "${ACTIVE[@]}"
LOADS=("$(loadavg)")

if [ "$WARMUP" -gt 0 ]; then
	log "warm-up: $WARMUP round(s), not measured; finds what each engine can load"
fi
for ((w = 1; w <= WARMUP; w++)); do
	for v in $VARIANTS; do
		for e in "${ACTIVE[@]}"; do
			[ -n "${WHY[$e]:-}" ] || [ -n "${UNSUP[$e/$v]:-}" ] && continue
			: >"$TMP/warm.jsonl"
			measure "$e" "$v" "$w" "$TMP/warm.jsonl"
			if [ "$(jq -r '.exit' "$TMP/warm.jsonl")" != 0 ]; then
				msg=$(jq -r '.stderr' "$TMP/warm.jsonl" | grep -v '^\s*$' | grep -iv '^\s*\*' | head -n1 | cut -c1-70)
				if [ "$v" = tar ]; then
					not_available "$e" "cannot load the plain archive: $msg"
				else
					[ "$e" = berth ] && log "WARNING: berth cannot load the $v variant: $msg"
					UNSUP[$e/$v]="failed in the warm-up round, not measured: $msg"
					log "$e cannot load the $v variant: $msg"
				fi
			elif [ "$v" = tar ] && [ "$w" = 1 ]; then
				DISK[$e]=$(du -sb "$(store_dir "$e")" | cut -f1)
			fi
			remove_image "$e"
		done
	done
done
MEASURED=()
for e in "${ACTIVE[@]}"; do [ -z "${WHY[$e]:-}" ] && MEASURED+=("$e"); done
[ ${#MEASURED[@]} -gt 0 ] || die "no engine could load the image"

n=${#MEASURED[@]}
: >"$TMP/runs.jsonl"
for ((r = 1; r <= ROUNDS; r++)); do
	order=()
	for ((k = 0; k < n; k++)); do order+=("${MEASURED[$(((r - 1 + k) % n))]}"); done
	log "round $r/$ROUNDS: ${order[*]} (load average $(loadavg))"
	LOADS+=("$(loadavg)")
	for v in $VARIANTS; do
		for e in "${order[@]}"; do
			[ -n "${UNSUP[$e/$v]:-}" ] && continue
			measure "$e" "$v" "$r" "$TMP/runs.jsonl"
			remove_image "$e"
		done
	done
done
LOADS+=("$(loadavg)")

# Idle memory after a load: the image stays loaded.
daemons=()
for e in "${MEASURED[@]}"; do [ "$e" != podman ] && daemons+=("$e"); done
if [ ${#daemons[@]} -gt 0 ]; then
	for e in "${daemons[@]}"; do
		loadcmd "$e" "${ARCHIVE[tar]}"
		timeout "$LOAD_TIMEOUT" "${LOADCMD[@]}" >/dev/null || log "WARNING: $e: the load before the idle reading failed"
	done
	log "idle for ${IDLE}s, then reading the daemons' memory"
	sleep "$IDLE"
	memory "after a load, ${IDLE} s idle" "${daemons[@]}"
fi

# ---------------------------------------------------------------- report
repargs=()
for e in berth docker podman; do
	if [ -n "${LABEL[$e]:-}" ]; then repargs+=(-label "$e=${LABEL[$e]}"); fi
	if [ -n "${WHY[$e]:-}" ]; then
		repargs+=(-unavail "$e=${WHY[$e]}")
	elif ! want "$e"; then
		repargs+=(-unavail "$e=not measured")
	fi
	if [ -n "${DISK[$e]:-}" ]; then repargs+=(-disk "$e=${DISK[$e]}"); fi
	for v in $VARIANTS; do
		if [ -n "${UNSUP[$e/$v]:-}" ]; then repargs+=(-unsupported "$e/$v=${UNSUP[$e/$v]}"); fi
	done
done

. /etc/os-release
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
mem=$(awk '/MemTotal/ {printf "%.1f GB", $2/1048576}' /proc/meminfo)
fs=$(df -PT "$TMP" | awk 'NR==2 {print $2 " on " $1}')
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
	cg="cgroup v2"
else
	cg=$(cat /sys/fs/cgroup/unified/cgroup.controllers 2>/dev/null || true)
	cg="cgroup v1 controllers + cgroup2 at /sys/fs/cgroup/unified holding ${cg:-no controller}"
fi
machine="$PRETTY_NAME ($(cat /etc/debian_version 2>/dev/null || echo ?)), kernel $(uname -r), $(nproc) cores ($cpu), $mem RAM, $cg, stores on $fs; $(date -u '+%Y-%m-%d %H:%M UTC')"
la_min=$(printf '%s\n' "${LOADS[@]}" | awk '{print $1}' | sort -n | head -n1)
la_max=$(printf '%s\n' "${LOADS[@]}" | awk '{print $1}' | sort -n | tail -n1)
if [ "${BERTH_CLIENT}" = berth ]; then bclient="berth's own client"; else bclient="the docker CLI"; fi

report=$TMP/report.md
{
	echo "Machine: $machine"
	echo
	echo "\`load -i ARCHIVE\` through each engine's client (docker CLI $("$DOCKER_CLI" version --format '{{.Client.Version}}' 2>/dev/null) for dockerd, $bclient for berth, podman for podman), $ROUNDS rounds after $WARMUP warm-up round(s); each round loads every variant on every engine, the engines' order rotating; after each load the image is removed and the store checked empty. Archives in the page cache (not dropped), \`sync\` before each load. Wall = the client's start to exit. CPU = the client plus the daemons (berth; dockerd + containerd). Peak RSS = berth's VmHWM, dockerd + containerd sampled every 100 ms, podman's maxrss. 1-minute load average over the run: $la_min–$la_max (2 cores; other work on the machine adds noise)."
	echo
	"$IMGBENCH" report -runs "$TMP/runs.jsonl" -mem "$TMP/mem.jsonl" -image "$TMP/img/image.json" \
		-variants "$(echo "$VARIANTS" | tr ' ' ',')" "${repargs[@]}"
	for e in "${MEASURED[@]}"; do
		if [ -n "${DIRTY[$e]:-}" ]; then echo "- $e: the store was not empty after ${DIRTY[$e]} removal(s) (image rm -f, image prune -a -f)"; fi
	done
} >"$report"

if [ -n "${BENCH_JSON_DIR:-}" ]; then
	mkdir -p "$BENCH_JSON_DIR"
	cp "$TMP/runs.jsonl" "$BENCH_JSON_DIR/images-runs.jsonl"
	cp "$TMP/mem.jsonl" "$BENCH_JSON_DIR/images-mem.jsonl"
	cp "$TMP/img/image.json" "$BENCH_JSON_DIR/images-image.json"
fi
if [ -n "${BENCH_OUT:-}" ]; then cp "$report" "$BENCH_OUT"; fi
echo
cat "$report"

fails=$(jq -s '[.[] | select(.exit != 0 or (.signal // "") != "")] | length' "$TMP/runs.jsonl")
if [ "$fails" != 0 ]; then
	log "$fails load(s) failed"
	exit 1
fi
