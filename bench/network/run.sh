#!/usr/bin/env bash
# bench/network/run.sh — what the default bridge network costs: berth against
# docker (dockerd 20.10 + containerd) and podman (netavark), on one busybox
# image.
#
# Measures:
#   - `run --rm busybox true` with the engine's default network (a bridge)
#     and with `--network none`, interleaved round-robin (order rotated each
#     round): berth (docker CLI), berth (its own CLI), dockerd (docker CLI),
#     podman; the bridge's cost per contender is median(bridge) −
#     median(none), also given as the median of the per-round differences;
#   - TCP throughput between two containers over the engine's default bridge
#     (a client container sends to the server container's bridge address)
#     against loopback (both ends in the server container, 127.0.0.1): the
#     sender is bench/network/netbench (static Go, 128 KiB writes, timed until
#     the receiver has counted every byte) and busybox `dd | nc` (1 KiB
#     writes, timed in the container until nc has the receiver's count and
#     exits), the receiver netbench;
# and prints markdown tables for bench/RESULTS.md.
#
# Every engine runs in a network namespace of the script's own (one per
# engine, so that berth's and docker's 172.17.0.0/16 bridges do not meet):
# `unshare --net=FILE`, then the berth daemon, containerd and dockerd (with
# its bridge and iptables this time) are started under `nsenter --net=FILE`,
# and every podman command runs under it, so netavark's bridge and firewall
# rules land there too. Bridges, veths, nftables/iptables rules and
# ip_forward then live in those namespaces, and traffic only goes between
# containers the script made. Stores, sockets and state are under one temp
# dir, as in bench/containers. At exit the script removes its containers,
# stops the daemons by pid, unmounts the namespace files (the namespaces go
# with them) and checks that the host's network state is as before.
#
# Environment:
#   BERTH=path          berth binary (default <repo>/bin/berth, built with `make berth` when
#                       missing or older than a source file; BENCH_BUILD=0 never builds)
#   DOCKER_CLI=docker   the docker CLI (for berth and dockerd)
#   DOCKERD=, CONTAINERD=, PODMAN=   peer binaries (default: from PATH)
#   ENGINES="berth docker podman"    which engines to try (peers are optional)
#   BENCH_ROUNDS=20     measured rounds of `run --rm` (BENCH_WARMUP=3 unmeasured first)
#   BENCH_TCP_REPS=7    streams per engine, path and sender (BENCH_TCP_WARMUP=1 unrecorded first)
#   BENCH_TCP_MB=1024   MiB per netbench stream
#   BENCH_NC_MB=256     MiB per busybox nc stream (0: no nc streams)
#   BENCH_OUT=file      also write the markdown report there
#   BENCH_JSON_DIR=dir  also keep the raw JSON there
#   KEEP_TMP=1          keep the temp dir (daemons are stopped anyway)
#
# Needs: root, go, jq, timeout, nsenter and unshare (util-linux), ip, busybox-static.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)

ROUNDS=${BENCH_ROUNDS:-20}
WARMUP=${BENCH_WARMUP:-3}
TCP_REPS=${BENCH_TCP_REPS:-7}
TCP_WARMUP=${BENCH_TCP_WARMUP:-1}
TCP_MB=${BENCH_TCP_MB:-1024}
NC_MB=${BENCH_NC_MB:-256}
ENGINES=${ENGINES:-berth docker podman}
DOCKER_CLI=${DOCKER_CLI:-docker}
DOCKERD=${DOCKERD:-dockerd}
CONTAINERD=${CONTAINERD:-containerd}
PODMAN=${PODMAN:-podman}
BUSYBOX=${BUSYBOX:-/bin/busybox}
IMG=busybox:latest
PORT=5001

# shellcheck source=bench/lib.sh
. "$(dirname "$0")/../lib.sh"

[ "$(id -u)" = 0 ] || die "must run as root (the engines need it)"
for t in go jq timeout nsenter unshare ip awk; do command -v $t >/dev/null || die "$t is needed"; done
[ -x "$BUSYBOX" ] || die "no busybox at $BUSYBOX (apt-get install -y busybox-static)"
command -v "$DOCKER_CLI" >/dev/null || die "no docker CLI ($DOCKER_CLI)"
for v in "$ROUNDS" "$WARMUP" "$TCP_REPS" "$TCP_WARMUP" "$TCP_MB" "$NC_MB"; do
	case $v in '' | *[!0-9]*) die "BENCH_* counts must be whole numbers (got '$v')" ;; esac
done
if [ "$TCP_MB" -lt 1 ] || [ "$TCP_MB" -gt 8192 ]; then die "BENCH_TCP_MB must be 1..8192"; fi
[ "$NC_MB" -le 4096 ] || die "BENCH_NC_MB must be 0..4096"

# Short: berth's sockets live under the exec root ($T/bx).
T=$(mktemp -d /tmp/nb.XXXXXX)
chmod 711 "$T"
declare -A PID=() WHY=() LABEL=() SRVIP=()
STARTED=() # daemons this script started, stopped at exit
ACTIVE=()

# ---------------------------------------------------------------- host state
# /run/netns: podman makes each container's network namespace file there.
HOST_PATHS="/run/docker /run/containerd /run/containers /run/libpod /run/berth /run/netns /var/run/docker.sock
/opt/containerd /var/lib/docker /var/lib/containerd /var/lib/berth /etc/docker /etc/containers/networks
/root/.docker /root/.config/containers /root/.local/share/containers /etc/cni /var/lib/cni"
HOST_BEFORE=$(mktemp /tmp/nb-host.XXXXXX)
host_state >"$HOST_BEFORE"
# Rootful podman 4.3 keeps netavark's address database in
# /run/containers/networks whatever its roots (not configurable): removed at
# exit if the run made it (with our containers gone it holds nothing).
NETAVARK_DB=/run/containers/networks/ipam.db
NETAVARK_DB_BEFORE=0
if [ -e "$NETAVARK_DB" ]; then NETAVARK_DB_BEFORE=1; fi

cleanup() {
	local rc=$? e
	set +e
	trap - INT TERM
	for e in "${ACTIVE[@]}"; do remove_all "$e"; done
	if [ "$NETAVARK_DB_BEFORE" = 0 ] && [ -f "$NETAVARK_DB" ]; then rm -f "$NETAVARK_DB"; fi
	teardown "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- helpers, image
log "temp dir $T"
(cd "$REPO" && go build -o "$T/ctrbench" ./bench/containers/ctrbench) || die "cannot build bench/containers/ctrbench"
(cd "$REPO" && CGO_ENABLED=0 go build -o "$T/netbench" ./bench/network/netbench) || die "cannot build bench/network/netbench"
CB=$T/ctrbench
NB=$T/netbench

R=$T/rootfs
busybox_rootfs "$R"
cp "$NB" "$R/bin/netbench"
tar -C "$R" --numeric-owner -cf "$T/busybox.tar" .
log "image: $(du -h "$T/busybox.tar" | cut -f1) tar (busybox and netbench)"

# ---------------------------------------------------------------- engines
engine_env
for e in $ENGINES; do
	case $e in
	berth) make_netns berth && start_berth ;;
	docker) make_netns docker && start_dockerd "$T/docker" ;;
	podman) make_netns podman && start_podman ;;
	*) die "unknown engine $e (berth, docker, podman)" ;;
	esac
done

# Every daemon started must be in a namespace of ours, not in the host's.
host_ns=$(readlink /proc/self/ns/net)
for p in "${STARTED[@]}"; do
	[ "$(readlink "/proc/$p/ns/net" 2>/dev/null)" != "$host_ns" ] || die "pid $p runs in the host's network namespace"
done

# Import the image, and one probe run each on the default network.
PROBED=()
for e in "${ACTIVE[@]}"; do
	import_probe "$e" "$T/busybox.tar" "$IMG" && PROBED+=("$e")
done
has berth || die "berth could not run the image"
log "contenders: ${PROBED[*]}"

# ---------------------------------------------------------------- run --rm
rts=()
for e in "${PROBED[@]}"; do
	case $e in
	berth)
		rts+=(-rt "berth-bridge=$DOCKER_CLI -H $BSOCK run --rm $IMG true")
		rts+=(-rt "berth-none=$DOCKER_CLI -H $BSOCK run --rm --network none $IMG true")
		rts+=(-rt "berthcli-bridge=$BERTHBIN -H $BSOCK run --rm $IMG true")
		rts+=(-rt "berthcli-none=$BERTHBIN -H $BSOCK run --rm --network none $IMG true") ;;
	docker)
		rts+=(-rt "docker-bridge=$DOCKER_CLI -H $DSOCK run --rm $IMG true")
		rts+=(-rt "docker-none=$DOCKER_CLI -H $DSOCK run --rm --network none $IMG true") ;;
	podman)
		rts+=(-rt "podman-bridge=${PODMANCMD[*]} run --rm $IMG true")
		rts+=(-rt "podman-none=${PODMANCMD[*]} run --rm --network none $IMG true") ;;
	esac
done
log "run --rm: $((${#rts[@]} / 2)) contenders interleaved, $WARMUP warm-up + $ROUNDS measured rounds"
"$CB" time -rounds "$ROUNDS" -warmup "$WARMUP" -prefix nb -out "$T/runs.json" "${rts[@]}"

# ---------------------------------------------------------------- throughput
# Per engine a server container (netbench serve, on the default network) and
# a client container; the server's address from inside it (berth's API at
# HEAD may not report it in inspect).
for e in "${PROBED[@]}"; do
	clicmd "$e"
	if ! timeout 60 "${CLI[@]}" run -d --name nb-srv "$IMG" /bin/netbench serve -addr ":$PORT" >/dev/null 2>"$T/$e-srv.err" ||
		! timeout 60 "${CLI[@]}" run -d --name nb-cli "$IMG" sleep 3600 >/dev/null 2>>"$T/$e-srv.err"; then
		log "$e: cannot start the stream containers: $(first_line "$T/$e-srv.err"); no throughput figures"
		continue
	fi
	ip=$(timeout 30 "${CLI[@]}" exec nb-srv ip -4 -o addr show eth0 | awk '{split($4, a, "/"); print a[1]; exit}') || true
	ok=0
	for ((i = 0; i < 40 && ok == 0; i++)); do
		if [ -n "$ip" ] && timeout 30 "${CLI[@]}" exec nb-cli /bin/netbench send -addr "$ip:$PORT" -mb 1 >/dev/null 2>"$T/$e-probe.err"; then ok=1; else sleep 0.25; fi
	done
	if [ "$ok" = 1 ]; then
		SRVIP[$e]=$ip
		log "$e: server container at $ip"
	else
		log "$e: no stream to the server container (${ip:-no address}): $(first_line "$T/$e-probe.err"); no throughput figures"
	fi
done

TCP=$T/tcp.jsonl
: >"$TCP"
# stream engine path sender record: one stream; a JSON line in $TCP if record is 1.
stream() {
	local e=$1 path=$2 tool=$3 ctr=nb-cli addr=${SRVIP[$1]} out secs bytes err=""
	[ "$path" = loopback ] && ctr=nb-srv addr=127.0.0.1
	clicmd "$e"
	case $tool in
	netbench)
		bytes=$((TCP_MB << 20))
		if out=$(timeout 600 "${CLI[@]}" exec "$ctr" /bin/netbench send -addr "$addr:$PORT" -mb "$TCP_MB" 2>"$T/stream.err"); then
			secs=$(jq -r .seconds <<<"$out")
		else err=$(first_line "$T/stream.err"); fi ;;
	nc)
		bytes=$((NC_MB << 20))
		# nc prints the server's count as it comes back, then exits on the server's close:
		# the time covers every byte received.
		if out=$(timeout 600 "${CLI[@]}" exec "$ctr" sh -c "s=\$EPOCHREALTIME; dd if=/dev/zero bs=64k count=$((NC_MB * 16)) 2>/dev/null | nc $addr $PORT && echo \$s \$EPOCHREALTIME" 2>"$T/stream.err") &&
			[ "$(head -n1 <<<"$out")" = "$bytes" ]; then
			secs=$(tail -n1 <<<"$out" | awk '{printf "%.6f", $2 - $1}')
		else err="no count from the server: $(head -n1 <<<"${out:-}") $(first_line "$T/stream.err")"; fi ;;
	esac
	[ "$4" = 1 ] || return 0
	jq -nc --arg engine "$e" --arg path "$path" --arg tool "$tool" --argjson bytes "$bytes" \
		--argjson seconds "${secs:-0}" --arg err "$err" --arg load "$(cut -d' ' -f1-3 /proc/loadavg)" \
		'{engine: $engine, path: $path, tool: $tool, bytes: $bytes, seconds: $seconds, err: $err, loadavg: $load}' >>"$TCP"
}
STREAMERS=()
for e in "${PROBED[@]}"; do [ -n "${SRVIP[$e]:-}" ] && STREAMERS+=("$e"); done
TOOLS=(netbench)
[ "$NC_MB" -gt 0 ] && TOOLS+=(nc)
if [ ${#STREAMERS[@]} -gt 0 ]; then
	log "streams: ${STREAMERS[*]}; $TCP_WARMUP warm-up + $TCP_REPS rounds of (${TOOLS[*]}) × (bridge loopback), engines rotating"
	n=${#STREAMERS[@]}
	for ((r = -TCP_WARMUP; r < TCP_REPS; r++)); do
		for ((k = 0; k < n; k++)); do
			e=${STREAMERS[$(((r % n + n + k) % n))]}
			paths=(bridge loopback)
			if [ $(((r + TCP_WARMUP) % 2)) = 1 ]; then paths=(loopback bridge); fi
			for tool in "${TOOLS[@]}"; do
				for p in "${paths[@]}"; do stream "$e" "$p" "$tool" "$([ "$r" -ge 0 ] && echo 1 || echo 0)"; done
			done
		done
	done
fi

# ---------------------------------------------------------------- report
repargs=(-label "berth-bridge=${LABEL[berth]} (docker CLI), default network (bridge)"
	-label "berth-none=${LABEL[berth]} (docker CLI), --network none"
	-label "berthcli-bridge=${LABEL[berth]} (berth CLI), default network (bridge)"
	-label "berthcli-none=${LABEL[berth]} (berth CLI), --network none"
	-label "s:berth-bridge=berth (docker CLI), bridge" -label "s:berthcli-bridge=berth (berth CLI), bridge"
	-label "s:docker-bridge=docker, bridge" -label "s:podman-bridge=podman, bridge")
costargs=(-label "berth=${LABEL[berth]} (docker CLI)" -label "berthcli=${LABEL[berth]} (berth CLI)")
tcpargs=(-label "eng:berth=${LABEL[berth]}" -label "netbench=netbench (128 KiB writes), $TCP_MB MiB"
	-label "nc=busybox \`nc\` fed by \`dd\` (1 KiB writes), $NC_MB MiB" -label "s:docker=docker")
for e in docker podman; do
	if [ -n "${LABEL[$e]:-}" ]; then
		repargs+=(-label "$e-bridge=${LABEL[$e]}, default network (bridge)" -label "$e-none=${LABEL[$e]}, --network none")
		costargs+=(-label "$e=${LABEL[$e]}")
		tcpargs+=(-label "eng:$e=${LABEL[$e]}")
	fi
	if [ -n "${WHY[$e]:-}" ]; then repargs+=(-unavail "$e=${WHY[$e]}"); fi
done
repargs+=(-ratio berth-bridge=docker-bridge -ratio berthcli-bridge=docker-bridge -ratio berth-bridge=podman-bridge)

report=$T/report.md
{
	echo "Machine: $(machine_line "$T")"
	echo
	echo "Each engine in a network namespace of the script's own (its daemons started under \`nsenter --net\`, podman run under it), with its default networking: berth's bridge berth0 and nftables table, dockerd with docker0 and iptables, podman with netavark's bridge and iptables rules. Clients: docker CLI $("$DOCKER_CLI" version --format '{{.Client.Version}}' 2>/dev/null) for berth and dockerd, berth's own CLI as separate rows, podman for podman (behind \`nsenter\`, about 1 ms, in both of its rows). Image: busybox from Debian's busybox-static plus the static netbench, imported into each engine."
	echo
	"$CB" report -runs "$T/runs.json" "${repargs[@]}"
	"$NB" report -runs "$T/runs.json" -tcp "$TCP" -ref docker "${costargs[@]}" "${tcpargs[@]}"
	for e in docker podman; do
		if [ -n "${WHY[$e]:-}" ]; then echo "- $e: not measured: ${WHY[$e]}"; fi
	done
	for e in "${PROBED[@]}"; do
		if [ -z "${SRVIP[$e]:-}" ]; then echo "- ${LABEL[$e]}: no throughput figures (the stream containers did not start or could not reach each other)."; fi
	done
	init_note
} >"$report"

publish "$report" "$T/runs.json" "$TCP"

fails=$(jq '[.series[].failures] | add' "$T/runs.json")
tf=$(jq -s '[.[] | select(.err != "")] | length' "$TCP")
if [ "$fails" != 0 ] || [ "$tf" != 0 ]; then
	log "$fails run(s) and $tf stream(s) failed"
	exit 1
fi
