#!/usr/bin/env bash
# bench/containers/run.sh — containers through the engine: berth against
# docker (dockerd 20.10 + containerd) and podman, and bare `crun run` as the
# floor, on one busybox image.
#
# Measures:
#   - `run --rm busybox true` with `--network none`, interleaved round-robin
#     (order rotated each round): berth (docker CLI), berth (its own CLI),
#     dockerd (docker CLI), podman, bare `crun run` of a busybox bundle; and
#     berth with its default network (which is "none" until bridge networking
#     lands, so it does not touch the host);
#   - the API calls of one such run (create, attach, start, exit + removal),
#     made one by one over the socket, for berth and dockerd;
#   - N (50) × `run -d --network none busybox sleep 600` per engine,
#     sequential, timed as a whole; with those running, the RSS and PSS of each
#     per-container supervisor (berth shim; containerd-shim-runc-v2; conmon) and
#     of the daemons (berth; dockerd + containerd; podman has none), against
#     the daemons' idle figures; then `rm -f` of all of them, one at a time, and
#     a check that no supervisor process and no extra mount is left;
# and prints markdown tables for bench/RESULTS.md.
#
# Everything runs privately under one short temp dir (the berth exec root must
# stay short: unix socket paths): a berth daemon, a containerd and a dockerd
# of the script's own (no bridge, no iptables, no ip_forward), podman with its
# own root, runroot, tmpdir and config. No container has a network: nothing
# leaves the machine and the host's network is not changed (checked at exit).
# The default-network figures of docker and podman are not measured: docker
# runs here without its bridge, and podman's default (netavark bridge) adds
# iptables rules and turns on ip_forward.
#
# Environment:
#   BERTH=path          berth binary (default <repo>/bin/berth, built with `make berth` when
#                       missing or older than a source file; BENCH_BUILD=0 never builds)
#   DOCKER_CLI=docker   the docker CLI (28.x on the PATH here; negotiates API 1.41 with dockerd 20.10)
#   DOCKERD=, CONTAINERD=, PODMAN=, CRUN=   peer binaries (default: from PATH)
#   ENGINES="berth docker podman crun"      which contenders to try (peers are optional)
#   BENCH_ROUNDS=30     measured rounds of `run --rm` (BENCH_WARMUP=3 unmeasured first)
#   BENCH_BATCH=50      containers per engine in the `run -d` batch
#   BENCH_API=10        API-call breakdown runs per engine (0: skip)
#   BENCH_OUT=file      also write the markdown report there
#   BENCH_JSON_DIR=dir  also keep the raw JSON there
#   KEEP_TMP=1          keep the temp dir (daemons are stopped anyway)
#
# Needs: root, go (to build the helper), jq, timeout, busybox-static.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)

ROUNDS=${BENCH_ROUNDS:-30}
WARMUP=${BENCH_WARMUP:-3}
BATCH=${BENCH_BATCH:-50}
APIRUNS=${BENCH_API:-10}
ENGINES=${ENGINES:-berth docker podman crun}
DOCKER_CLI=${DOCKER_CLI:-docker}
DOCKERD=${DOCKERD:-dockerd}
CONTAINERD=${CONTAINERD:-containerd}
PODMAN=${PODMAN:-podman}
CRUN=${CRUN:-crun}
BUSYBOX=${BUSYBOX:-/bin/busybox}
IMG=busybox:latest

log() { printf '[bench] %s\n' "$*" >&2; }
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/../lib.sh"
die() { printf '[bench] ERROR: %s\n' "$*" >&2; exit 1; }
want() { case " $ENGINES " in *" $1 "*) return 0 ;; esac; return 1; }

[ "$(id -u)" = 0 ] || die "must run as root (the engines need it)"
for t in go jq timeout; do command -v $t >/dev/null || die "$t is needed"; done
[ -x "$BUSYBOX" ] || die "no busybox at $BUSYBOX (apt-get install -y busybox-static)"
command -v "$DOCKER_CLI" >/dev/null || die "no docker CLI ($DOCKER_CLI)"

# Short: berth's sockets live under the exec root ($T/bx).
T=$(mktemp -d /tmp/cb.XXXXXX)
chmod 711 "$T"
declare -A PID=() WHY=() LABEL=()
STARTED=() # daemons this script started, stopped at exit
ACTIVE=()

# ---------------------------------------------------------------- host state
HOST_PATHS="/run/docker /run/containerd /run/containers /run/libpod /run/berth /var/run/docker.sock
/opt/containerd /var/lib/docker /var/lib/containerd /var/lib/berth /etc/docker /etc/containers/networks
/root/.docker /root/.config/containers /root/.local/share/containers"
HOST_BEFORE=$(mktemp /tmp/cb-host.XXXXXX)
host_state >"$HOST_BEFORE"
# berth installs its init program in runtime.DefaultInitDir whatever the exec root.
INITDIR=/run/berth/init
INIT_BEFORE=$(ls "$INITDIR" 2>/dev/null | sort | tr '\n' ' ')

# ---------------------------------------------------------------- cleanup
# Supervisors of our containers: their command lines name the temp dir.
# berth's are "berth shim --spare DIR" (a shim is started ahead of its
# container): the count includes the one idle spare.
SHIM_RE_berth="^berth shim (--spare )?$T/"
SHIM_RE_docker="containerd-shim-runc-v2 .*$T/"
SHIM_RE_podman="conmon .*$T/"
pids_matching() { # regex -> pids whose command line matches
	local d
	for d in /proc/[0-9]*; do
		[ "${d#/proc/}" = "$$" ] && continue
		{ tr '\0' ' ' <"$d/cmdline"; } 2>/dev/null | grep -qE "$1" && echo "${d#/proc/}"
	done
	return 0
}
ours() { # pid -> 0 if alive and ours (started by us, or naming the temp dir)
	local p
	[ -r "/proc/$1/cmdline" ] || return 1
	for p in "${STARTED[@]}"; do [ "$p" = "$1" ] && return 0; done
	{ tr '\0' ' ' <"/proc/$1/cmdline"; } 2>/dev/null | grep -qF "$T"
}
stop_pid() { # pid seconds
	local pid=$1 secs=$2 i
	ours "$pid" || return 0
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
}
remove_all() { # engine: remove every container it holds, one at a time (dockerd deadlocks on parallel rm)
	local e=$1 ids id
	clicmd "$e"
	ids=$(timeout 30 "${CLI[@]}" ps -aq 2>/dev/null) || return 0
	for id in $ids; do timeout 60 "${CLI[@]}" rm -f "${RMARGS[@]}" "$id" >/dev/null 2>&1 || true; done
}
cleanup() {
	local rc=$? i m p e
	set +e
	trap - INT TERM
	for e in "${ACTIVE[@]}"; do
		[ "$e" = crun ] && continue
		remove_all "$e"
	done
	if [ -d "$T/crunroot" ]; then
		for id in $(ls "$T/crunroot" 2>/dev/null); do "$CRUN" --root "$T/crunroot" delete -f "$id" >/dev/null 2>&1; done
	fi
	# Daemons, last started first.
	for ((i = ${#STARTED[@]} - 1; i >= 0; i--)); do stop_pid "${STARTED[$i]}" 30; done
	# Supervisors (and their containers) still alive: by pid, only those naming $T.
	for re in "$SHIM_RE_berth" "$SHIM_RE_docker" "$SHIM_RE_podman" "$T/"; do
		for p in $(pids_matching "$re"); do
			ours "$p" || continue
			log "cleanup: stopping leftover pid $p ($(tr '\0' ' ' <"/proc/$p/cmdline" | cut -c1-80))"
			kill -KILL "$p" 2>/dev/null
		done
	done
	sleep 0.5
	for m in $(awk -v t="$T/" 'index($5, t) == 1 {print $5}' /proc/self/mountinfo | sort -r); do
		umount "$m" 2>/dev/null || umount -l "$m"
	done
	if [ "${KEEP_TMP:-0}" = 1 ]; then log "kept $T"; else rm -rf "$T" 2>/dev/null || rm -rf "$T"; fi
	for p in $HOST_PATHS; do
		grep -q "^path $p " "$HOST_BEFORE" && continue
		[ -d "$p" ] || continue
		find "$p" -depth -type d -empty -delete 2>/dev/null
		[ -e "$p" ] && log "WARNING: the run created $p (not empty, left in place)"
	done
	host_state >"$HOST_BEFORE.after"
	if ! diff -q "$HOST_BEFORE" "$HOST_BEFORE.after" >/dev/null; then
		log "WARNING: the host differs from before the run:"
		diff "$HOST_BEFORE" "$HOST_BEFORE.after" | grep '^[<>]' | sed 's/^/[bench]   /' >&2
	else
		log "host state as before the run (network, nft/iptables, engine paths)"
	fi
	rm -f "$HOST_BEFORE" "$HOST_BEFORE.after"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- helper, image
log "temp dir $T"
(cd "$REPO" && go build -o "$T/ctrbench" ./bench/containers/ctrbench) || die "cannot build bench/containers/ctrbench"
CB=$T/ctrbench

# A busybox root: the static binary, its applet links, passwd and group.
R=$T/bundle/rootfs
mkdir -p "$R/bin" "$R/etc" "$R/proc" "$R/sys" "$R/dev" "$R/tmp" "$R/root"
cp "$BUSYBOX" "$R/bin/busybox"
for p in $("$BUSYBOX" --list-full); do
	mkdir -p "$R/$(dirname "$p")"
	[ -e "$R/$p" ] || [ -L "$R/$p" ] || ln -s /bin/busybox "$R/$p"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$R/etc/passwd"
printf 'root:x:0:\nnobody:x:65534:\n' >"$R/etc/group"
tar -C "$R" --numeric-owner -cf "$T/busybox.tar" .
log "image: $(du -h "$T/busybox.tar" | cut -f1) tar, $(find "$R" | wc -l) entries"

# ---------------------------------------------------------------- engines
export DOCKER_CONFIG=$T/docker-cli # no user config, no credential helpers
unset DOCKER_HOST DOCKER_CONTEXT DOCKER_TLS_VERIFY DOCKER_CERT_PATH
mkdir -p "$DOCKER_CONFIG"
echo '{}' >"$DOCKER_CONFIG/config.json" # podman reads it too (auth)
not_available() { # engine reason
	[ "$1" = berth ] && die "berth: $2"
	log "$1: $2; not measured"
	WHY[$1]=$2
}
first_line() { head -n1 "$1" 2>/dev/null | cut -c1-160; }
wait_api() { # engine host pid log
	local i
	for ((i = 0; i < 300; i++)); do
		kill -0 "$3" 2>/dev/null || { log "$1 exited: $(tail -n3 "$4" | tr '\n' ' ' | cut -c1-300)"; return 1; }
		timeout 5 "$DOCKER_CLI" -H "$2" version --format '{{.Server.APIVersion}}' >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	log "$1 did not answer on $2 in 60 s"
	return 1
}
berth_stale() {
	find "$REPO" \( -name '*.go' -o -name go.mod -o -name go.sum -o -name Makefile -o -name '*.c' \) \
		-newer "$1" -not -name '*_test.go' -not -path "$REPO/bench/*" -not -path '*/testdata/*' \
		-not -path "$REPO/.git/*" -print -quit
}

start_berth() {
	local bin=${BERTH:-$REPO/bin/berth} stale=""
	if [ -z "${BERTH:-}" ] && [ "${BENCH_BUILD:-1}" = 1 ]; then
		[ -x "$bin" ] && stale=$(berth_stale "$bin")
		if [ ! -x "$bin" ] || [ -n "$stale" ]; then
			log "building berth with make (${stale:-$bin missing}${stale:+ is newer than $bin})"
			(cd "$REPO" && timeout 1200 make berth) >"$T/make.log" 2>&1 || { tail -n 20 "$T/make.log" >&2; die "berth: build failed"; }
		fi
	fi
	[ -x "$bin" ] || die "berth: missing $bin"
	mkdir -p "$T/bin" "$T/berth"
	cp "$bin" "$T/bin/berth" # a rebuild by someone else during the run changes nothing
	BERTHBIN=$T/bin/berth
	LABEL[berth]="berth $("$BERTHBIN" --version 2>/dev/null | sed 's/^berth version //' | cut -c1-40)"
	BSOCK=unix://$T/berth/berth.sock
	"$BERTHBIN" daemon -H "$BSOCK" --data-root "$T/berth/data" --exec-root "$T/bx" \
		>"$T/berth/daemon.log" 2>&1 </dev/null &
	PID[berth]=$!
	STARTED+=("${PID[berth]}")
	wait_api berth "$BSOCK" "${PID[berth]}" "$T/berth/daemon.log" || die "berth: the daemon did not start: $(first_line "$T/berth/daemon.log")"
	ACTIVE+=(berth)
}

start_docker() { start_dockerd "$T/docker"; }

start_podman() {
	local p=$T/podman
	command -v "$PODMAN" >/dev/null || { not_available podman "not installed"; return; }
	mkdir -p "$p/root" "$p/run" "$p/tmp" "$p/networks"
	# podman 4.3 asks for nofile 1048576 unless told otherwise (shared/notes/PEERS.md).
	cat >"$p/containers.conf" <<-EOF
		[containers]
		default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
		[engine]
		cgroup_manager = "cgroupfs"
		events_logger = "file"
		events_logfile_path = "$p/events.log"
		[network]
		network_config_dir = "$p/networks"
	EOF
	cat >"$p/storage.conf" <<-EOF
		[storage]
		driver = "overlay"
		runroot = "$p/run"
		graphroot = "$p/root"
	EOF
	# Read by podman only; exported so that the timed command line is podman's own.
	export CONTAINERS_CONF=$p/containers.conf CONTAINERS_STORAGE_CONF=$p/storage.conf
	PODMANCMD=("$(command -v "$PODMAN")" --root "$p/root" --runroot "$p/run" --tmpdir "$p/tmp"
		--storage-driver overlay --cgroup-manager cgroupfs --events-backend file)
	timeout 60 "${PODMANCMD[@]}" images -q >/dev/null 2>"$p/probe.err" || { not_available podman "does not start: $(first_line "$p/probe.err")"; return; }
	LABEL[podman]="podman $("${PODMANCMD[@]}" --version | awk '{print $3}')"
	ACTIVE+=(podman)
}

start_crun() {
	command -v "$CRUN" >/dev/null || { not_available crun "not installed"; return; }
	mkdir -p "$T/crunroot"
	(cd "$T/bundle" && "$CRUN" spec)
	jq '.process.args = ["/bin/true"] | .process.terminal = false' "$T/bundle/config.json" >"$T/bundle/c.json"
	mv "$T/bundle/c.json" "$T/bundle/config.json"
	CRUNCMD=("$(command -v "$CRUN")" --root "$T/crunroot")
	LABEL[crun]="bare crun $("$CRUN" --version | head -n1 | awk '{print $3}')"
	ACTIVE+=(crun)
}

clicmd() { # engine -> CLI, and RMARGS: what makes `rm -f` kill at once
	RMARGS=()
	case $1 in
	berth) CLI=("$DOCKER_CLI" -H "$BSOCK") ;;
	berthcli) CLI=("$BERTHBIN" -H "$BSOCK") ;;
	docker) CLI=("$DOCKER_CLI" -H "$DSOCK") ;;
	# podman's rm -f stops with SIGTERM and the 10 s timeout first (sleep as pid 1 ignores it)
	podman) CLI=("${PODMANCMD[@]}") RMARGS=(-t 0) ;;
	esac
}

for e in $ENGINES; do
	case $e in
	berth) start_berth ;;
	docker) start_docker ;;
	podman) start_podman ;;
	crun) start_crun ;;
	*) die "unknown engine $e" ;;
	esac
done

# Import the image, and one probe run each.
PROBED=()
for e in "${ACTIVE[@]}"; do
	if [ "$e" = crun ]; then
		if "${CRUNCMD[@]}" run --bundle "$T/bundle" cb-probe </dev/null >/dev/null 2>"$T/crun.err"; then
			PROBED+=(crun)
		else
			"${CRUNCMD[@]}" delete -f cb-probe >/dev/null 2>&1 || true
			msg=$(first_line "$T/crun.err")
			case $msg in *hybrid*) msg="$msg (see bench/README.md, runtime: BENCH_ALLOW_HOST_CHANGES)" ;; esac
			not_available crun "$msg"
		fi
		continue
	fi
	clicmd "$e"
	if ! timeout 120 "${CLI[@]}" import "$T/busybox.tar" "$IMG" >/dev/null 2>"$T/$e-import.err"; then
		not_available "$e" "import failed: $(first_line "$T/$e-import.err")"
		continue
	fi
	if ! timeout 60 "${CLI[@]}" run --rm --network none "$IMG" true </dev/null >"$T/$e-probe.out" 2>&1; then
		not_available "$e" "run failed: $(first_line "$T/$e-probe.out")"
		continue
	fi
	PROBED+=("$e")
done
has() { local x; for x in "${PROBED[@]}"; do [ "$x" = "$1" ] && return 0; done; return 1; }
has berth || die "berth could not run the image"
log "contenders: ${PROBED[*]}"

daemon_pids() {
	case $1 in berth) echo "${PID[berth]}" ;; docker) echo "${PID[docker]},${PID[containerd]}" ;; esac
}
MEM=$T/mem.jsonl
: >"$MEM"
sleep 3
for e in berth docker; do
	has "$e" && "$CB" mem -out "$MEM" -name "$e" -what daemon -when "idle, image imported" -pids "$(daemon_pids "$e")"
done

# ---------------------------------------------------------------- run --rm
rts=()
for e in "${PROBED[@]}"; do
	case $e in
	berth)
		rts+=(-rt "berth=$DOCKER_CLI -H $BSOCK run --rm --network none $IMG true")
		rts+=(-rt "berthcli=$BERTHBIN -H $BSOCK run --rm --network none $IMG true")
		rts+=(-rt "berthdef=$DOCKER_CLI -H $BSOCK run --rm $IMG true")
		# The crun bundle has no seccomp filter; Docker's default profile is part of berth's time.
		rts+=(-rt "berthnosec=$DOCKER_CLI -H $BSOCK run --rm --network none --security-opt seccomp=unconfined $IMG true") ;;
	docker) rts+=(-rt "docker=$DOCKER_CLI -H $DSOCK run --rm --network none $IMG true") ;;
	podman) rts+=(-rt "podman=${PODMANCMD[*]} run --rm --network none $IMG true") ;;
	crun) rts+=(-rt "crun=${CRUNCMD[*]} run --bundle $T/bundle {id}") ;;
	esac
done
log "run --rm: $((${#rts[@]} / 2)) contenders interleaved, $WARMUP warm-up + $ROUNDS measured rounds"
"$CB" time -rounds "$ROUNDS" -warmup "$WARMUP" -prefix cb -out "$T/runs.json" "${rts[@]}"

# ---------------------------------------------------------------- API breakdown
: >"$T/api.jsonl"
if [ "$APIRUNS" -gt 0 ]; then
	log "API calls of run --rm: $APIRUNS per engine, alternating"
	for ((i = 0; i < APIRUNS; i++)); do
		"$CB" api -name berth -sock "${BSOCK#unix://}" -n 1 -out "$T/api.jsonl"
		if has docker; then "$CB" api -name docker -sock "${DSOCK#unix://}" -n 1 -out "$T/api.jsonl"; fi
	done
fi

# ---------------------------------------------------------------- batch
: >"$T/batch.jsonl"
declare -A RMTIME=() LEFTOVER=()
mounts_under() { # dir... -> number of mounts below them
	local d n=0
	for d in "$@"; do n=$((n + $(awk -v t="$d/" 'index($5, t) == 1' /proc/self/mountinfo | wc -l))); done
	echo "$n"
}
engine_dir() { case $1 in berth) echo "$T/berth $T/bx" ;; docker) echo "$T/docker" ;; podman) echo "$T/podman" ;; esac; }
for e in berth docker podman; do
	has "$e" || continue
	clicmd "$e"
	re_var=SHIM_RE_$e
	m0=$(mounts_under $(engine_dir "$e"))
	log "$e: $BATCH × run -d sleep 600"
	"$CB" batch -name "$e" -n "$BATCH" -out "$T/batch.jsonl" -ids "$T/$e.ids" -- \
		"${CLI[@]}" run -d --network none "$IMG" sleep 600
	sleep 3
	"$CB" mem -out "$MEM" -name "$e" -what shim -when "$(case $e in berth) echo "berth shim" ;; docker) echo containerd-shim-runc-v2 ;; podman) echo conmon ;; esac)" -match "${!re_var}"
	if [ "$e" != podman ]; then
		"$CB" mem -out "$MEM" -name "$e" -what daemon -when "with $(wc -w <"$T/$e.ids") containers running" -pids "$(daemon_pids "$e")"
	fi
	t0=$EPOCHREALTIME
	for id in $(cat "$T/$e.ids"); do timeout 60 "${CLI[@]}" rm -f "${RMARGS[@]}" "$id" >/dev/null 2>&1 || log "$e: rm -f $id failed"; done
	RMTIME[$e]=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.2f", b - a}')
	sleep 2
	left_c=$(timeout 30 "${CLI[@]}" ps -aq | wc -l)
	left_p=0
	for p in $(pids_matching "${!re_var}"); do
		# berth's idle spare shim has no container (no child): not left over.
		[ "$e" = berth ] && [ -z "$(cat /proc/$p/task/*/children 2>/dev/null)" ] && continue
		left_p=$((left_p + 1))
	done
	m1=$(mounts_under $(engine_dir "$e"))
	LEFTOVER[$e]="$left_c container(s), $left_p supervisor process(es), mounts under its dirs $m0 before the batch and $m1 after rm"
	log "$e: rm -f of $BATCH took ${RMTIME[$e]} s; left: ${LEFTOVER[$e]}"
done

# ---------------------------------------------------------------- report
repargs=(-label "berth=${LABEL[berth]} (docker CLI), --network none"
	-label "berthcli=${LABEL[berth]} (berth CLI), --network none"
	-label "eng:berth=${LABEL[berth]}"
	-label "berthnosec=${LABEL[berth]} (docker CLI), --network none, seccomp=unconfined"
	-label "berthdef=${LABEL[berth]} (docker CLI), default network (= none in berth today)")
for e in docker podman crun; do
	if [ -n "${LABEL[$e]:-}" ]; then
		repargs+=(-label "eng:$e=${LABEL[$e]}")
		case $e in crun) repargs+=(-label "crun=${LABEL[crun]} run (bundle, new netns)") ;; *) repargs+=(-label "$e=${LABEL[$e]}, --network none") ;; esac
	fi
	if [ -n "${WHY[$e]:-}" ]; then repargs+=(-unavail "$e=${WHY[$e]}"); fi
done
repargs+=(-label "s:berth=berth (docker CLI)" -label "s:berthcli=berth (berth CLI)" -label s:docker=docker -label s:podman=podman -label "s:crun=bare crun" -label "s:berthnosec=berth (docker CLI, seccomp=unconfined)")
repargs+=(-ratio berth=docker -ratio berth=podman -ratio berth=crun -ratio berthcli=crun -ratio berthnosec=crun -ratio docker=berth)

. /etc/os-release
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
mem=$(awk '/MemTotal/ {printf "%.1f GB", $2/1048576}' /proc/meminfo)
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then cg="cgroup v2"; else
	cg="cgroup v1 controllers + cgroup2 at /sys/fs/cgroup/unified holding '$(cat /sys/fs/cgroup/unified/cgroup.controllers 2>/dev/null)'"
fi
fs=$(df -PT "$T" | awk 'NR==2 {print $2}')
machine="$PRETTY_NAME ($(cat /etc/debian_version 2>/dev/null || echo ?)), kernel $(uname -r), $(nproc) cores ($cpu), $mem RAM, $cg, stores on $fs; $(date -u '+%Y-%m-%d %H:%M UTC')"

report=$T/report.md
{
	echo "Machine: $machine"
	echo
	echo "Clients: docker CLI $("$DOCKER_CLI" version --format '{{.Client.Version}}' 2>/dev/null) for berth and dockerd; berth's own CLI as a separate row; podman for podman. Image: busybox from Debian's busybox-static, imported into each engine. Other work on the machine (compiles, tests) adds noise: see the load averages."
	echo
	"$CB" report -runs "$T/runs.json" -api "$T/api.jsonl" -batch "$T/batch.jsonl" -mem "$MEM" "${repargs[@]}"
	echo "- Default network: berth's default is \`none\` until bridge networking lands (the row above). docker runs here with \`--bridge=none\`, and podman's default (a netavark bridge) would add iptables rules and turn on ip_forward, so neither default-network figure is measured here (shared/notes/PEERS.md has docker 255 ms, podman 312 ms from an idle machine)."
	echo "- podman has no daemon: its per-container process is conmon; \`podman\` itself exits after each command."
	# New files there whose hash our binary names (other berths on the machine write there too).
	new_init=""
	for f in $(comm -13 <(echo "$INIT_BEFORE" | tr ' ' '\n' | sed '/^$/d') <(ls "$INITDIR" 2>/dev/null | sort)); do
		grep -qaF "${f#berth-init-}" "$BERTHBIN" && new_init="$new_init $INITDIR/$f"
	done
	if [ -n "$new_init" ]; then
		echo "- berth wrote outside its --exec-root:$new_init (its init program: runtime.DefaultInitDir is fixed). Left in place, as another berth may use it."
	fi
	for e in berth docker podman; do
		if [ -n "${RMTIME[$e]:-}" ]; then echo "- $e: \`rm -f\` of the batch, one at a time$([ "$e" = podman ] && echo ' (`-t 0`, else podman waits 10 s for SIGTERM first)'): ${RMTIME[$e]} s; left afterwards: ${LEFTOVER[$e]}"; fi
	done
} >"$report"

if [ -n "${BENCH_JSON_DIR:-}" ]; then
	mkdir -p "$BENCH_JSON_DIR"
	cp "$T/runs.json" "$T/api.jsonl" "$T/batch.jsonl" "$MEM" "$BENCH_JSON_DIR/"
fi
if [ -n "${BENCH_OUT:-}" ]; then cp "$report" "$BENCH_OUT"; fi
echo
cat "$report"

fails=$(jq '[.series[].failures] | add' "$T/runs.json")
bf=$(jq -s '[.[].failures] | add // 0' "$T/batch.jsonl")
if [ "$fails" != 0 ] || [ "$bf" != 0 ]; then
	log "$fails run(s) and $bf batch run(s) failed"
	exit 1
fi
