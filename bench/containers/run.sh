#!/usr/bin/env bash
# bench/containers/run.sh — containers through the engine: berth against
# docker (dockerd 20.10 + containerd) and podman, and bare `crun run` as the
# floor, on one busybox image.
#
# Measures:
#   - `run --rm busybox true` with `--network none`, interleaved round-robin
#     (order rotated each round): berth (docker CLI), berth (its own CLI),
#     dockerd (docker CLI), podman, bare `crun run` of a busybox bundle; and
#     berth with its default network (its bridge; bench/network compares the
#     bridges' costs);
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
# own root, runroot, tmpdir and config. The berth daemon runs in a network
# namespace of the script's own, where its bridge and nftables table live.
# Nothing leaves the machine and the host's network is not changed (checked
# at exit).
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

# shellcheck source=bench/lib.sh
. "$(dirname "$0")/../lib.sh"

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

# ---------------------------------------------------------------- cleanup
# Supervisors of our containers: their command lines name the temp dir.
# berth's are "berth shim --spare DIR" (a shim is started ahead of its
# container), "berth shim --resume FD STATEDIR" once a supervising shim has
# handed over to its light second phase, and "berth shim --sleep PID FDS FD
# EXE STATEDIR" while that phase sleeps (the C sleeper, a second of quiet
# later): the count includes the one idle spare. Read as ${!re_var}.
# shellcheck disable=SC2034
SHIM_RE_berth="^berth shim (--spare |--resume [0-9]+ |--sleep [0-9]+ [0-9,]+ [0-9]+ [^ ]+ )?$T/" \
	SHIM_RE_docker="containerd-shim-runc-v2 .*$T/" \
	SHIM_RE_podman="conmon .*$T/"
cleanup() {
	local rc=$? e id
	set +e
	trap - INT TERM
	for e in "${ACTIVE[@]}"; do
		[ "$e" = crun ] && continue
		remove_all "$e"
	done
	if [ -d "$T/crunroot" ]; then
		for id in $(ls "$T/crunroot" 2>/dev/null); do "$CRUN" --root "$T/crunroot" delete -f "$id" >/dev/null 2>&1; done
	fi
	teardown "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- helper, image
log "temp dir $T"
(cd "$REPO" && go build -o "$T/ctrbench" ./bench/containers/ctrbench) || die "cannot build bench/containers/ctrbench"
CB=$T/ctrbench

R=$T/bundle/rootfs
busybox_rootfs "$R"
tar -C "$R" --numeric-owner -cf "$T/busybox.tar" .
log "image: $(du -h "$T/busybox.tar" | cut -f1) tar, $(find "$R" | wc -l) entries"

# ---------------------------------------------------------------- engines
engine_env

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

for e in $ENGINES; do
	case $e in
	berth) make_netns berth && start_berth ;;
	docker) start_dockerd "$T/docker" ;;
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
	import_probe "$e" "$T/busybox.tar" "$IMG" --network none && PROBED+=("$e")
done
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
	-label "berthdef=${LABEL[berth]} (docker CLI), default network (its bridge)")
for e in docker podman crun; do
	if [ -n "${LABEL[$e]:-}" ]; then
		repargs+=(-label "eng:$e=${LABEL[$e]}")
		case $e in crun) repargs+=(-label "crun=${LABEL[crun]} run (bundle, new netns)") ;; *) repargs+=(-label "$e=${LABEL[$e]}, --network none") ;; esac
	fi
	if [ -n "${WHY[$e]:-}" ]; then repargs+=(-unavail "$e=${WHY[$e]}"); fi
done
repargs+=(-label "s:berth=berth (docker CLI)" -label "s:berthcli=berth (berth CLI)" -label s:docker=docker -label s:podman=podman -label "s:crun=bare crun" -label "s:berthnosec=berth (docker CLI, seccomp=unconfined)")
repargs+=(-ratio berth=docker -ratio berth=podman -ratio berth=crun -ratio berthcli=crun -ratio berthnosec=crun -ratio docker=berth)

machine=$(machine_line "$T")

report=$T/report.md
{
	echo "Machine: $machine"
	echo
	echo "Clients: docker CLI $("$DOCKER_CLI" version --format '{{.Client.Version}}' 2>/dev/null) for berth and dockerd; berth's own CLI as a separate row; podman for podman. Image: busybox from Debian's busybox-static, imported into each engine. Other work on the machine (compiles, tests) adds noise: see the load averages."
	echo
	"$CB" report -runs "$T/runs.json" -api "$T/api.jsonl" -batch "$T/batch.jsonl" -mem "$MEM" "${repargs[@]}"
	echo "- Default network: berth's is its bridge (the row above; the berth daemon runs in a network namespace of the script's own, see bench/network for the bridges compared). docker runs here with \`--bridge=none\`, and podman's default (a netavark bridge) would add iptables rules and turn on ip_forward, so neither default-network figure is measured here (shared/notes/PEERS.md has docker 255 ms, podman 312 ms from an idle machine)."
	echo "- podman has no daemon: its per-container process is conmon; \`podman\` itself exits after each command."
	init_note
	for e in berth docker podman; do
		if [ -n "${RMTIME[$e]:-}" ]; then echo "- $e: \`rm -f\` of the batch, one at a time$([ "$e" = podman ] && echo ' (`-t 0`, else podman waits 10 s for SIGTERM first)'): ${RMTIME[$e]} s; left afterwards: ${LEFTOVER[$e]}"; fi
	done
} >"$report"

publish "$report" "$T/runs.json" "$T/api.jsonl" "$T/batch.jsonl" "$MEM"

fails=$(jq '[.series[].failures] | add' "$T/runs.json")
bf=$(jq -s '[.[].failures] | add // 0' "$T/batch.jsonl")
if [ "$fails" != 0 ] || [ "$bf" != 0 ]; then
	log "$fails run(s) and $bf batch run(s) failed"
	exit 1
fi
