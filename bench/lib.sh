# bench/lib.sh — shell functions the benchmark scripts share (sourced).
#
# The caller defines the arrays PID and LABEL (associative), STARTED and
# ACTIVE, HOST_PATHS, and DOCKERD / CONTAINERD (the binaries); the functions
# under "engines in a temp dir" say what more they use. A script may define
# its own versions of functions after sourcing this file (bench/images/run.sh
# keeps its own not_available, wait_api, start_berth, cleanup ...).
#
# shellcheck shell=bash
# The arrays are the caller's (declared associative there), set here for it:
# shellcheck disable=SC2034,SC2154

# host_state prints what the host's network and engine paths look like, to
# compare before and after a run: a benchmark must leave them as it found them.
host_state() {
	local p
	echo "ip_forward $(cat /proc/sys/net/ipv4/ip_forward)"
	echo "links $(find /sys/class/net -mindepth 1 -maxdepth 1 -printf '%f ' | tr ' ' '\n' | sort | tr '\n' ' ')"
	if command -v nft >/dev/null; then echo "nft $(nft list ruleset 2>/dev/null | sha256sum | cut -c1-16)"; fi
	if command -v iptables-save >/dev/null; then
		echo "iptables $(iptables-save 2>/dev/null | grep -v '^#' | sha256sum | cut -c1-16)"
	fi
	for p in $HOST_PATHS; do
		if [ -e "$p" ]; then echo "path $p $(find "$p" -maxdepth 2 2>/dev/null | wc -l)"; fi
	done
}

# in_netns engine -> NSENTER: the command prefix that runs a program in the
# engine's private network namespace (NETNS[engine], a file the caller made
# with `unshare --net=FILE`), or nothing where it has none.
declare -A NETNS=()
in_netns() {
	NSENTER=()
	if [ -n "${NETNS[$1]:-}" ]; then NSENTER=(nsenter "--net=${NETNS[$1]}"); fi
}

# make_netns engine: a network namespace of the run's own for the engine,
# held by the file T/ns/ENGINE (unmounted at exit by teardown: the namespace
# goes with its last process), with its loopback up.
make_netns() {
	local f=$T/ns/$1
	mkdir -p "$T/ns"
	touch "$f"
	unshare --net="$f" true || die "cannot make a network namespace ($f)"
	nsenter --net="$f" ip link set lo up
	NETNS[$1]=$f
}

# run_dir dir: dir made and, unless BENCH_RUN_TMPFS=0, a tmpfs mounted on it
# (unmounted by release_tmp): where an engine keeps its runtime state
# (sockets, state files, bundles), as /run is a tmpfs where they run for real
# (berth's /run/berth, dockerd's /var/run/docker, containerd's
# /run/containerd, podman's /run/containers). Every engine gets the same.
run_dir() {
	mkdir -p "$1"
	[ "${BENCH_RUN_TMPFS:-1}" = 1 ] || return 0
	mount -t tmpfs -o mode=0711,size=1g bench-run "$1" || die "tmpfs on $1 failed"
}

# start_dockerd starts a private containerd and dockerd under a directory of
# the run's own. With no NETNS[docker], dockerd runs with no bridge, iptables
# or ip_forward, and leaves the host's network alone. With one, both run in
# that network namespace with docker's default networking (docker0, its
# iptables rules, ip_forward), all of which stay in the namespace. It sets
# DSOCK and DDATA.
start_dockerd() { # dir: our own containerd and dockerd under dir
	local d=$1 c netargs
	if ! command -v "$DOCKERD" >/dev/null || ! command -v "$CONTAINERD" >/dev/null; then
		not_available docker "not installed"
		return
	fi
	in_netns docker
	netargs=(--bridge=none --iptables=false --ip6tables=false --ip-forward=false --ip-masq=false)
	if [ ${#NSENTER[@]} -gt 0 ]; then netargs=(); fi
	mkdir -p "$d/containerd"
	run_dir "$d/containerd/state"
	run_dir "$d/exec"
	# containerd of our own, so that every path it uses (opt included) is ours.
	cat >"$d/containerd.toml" <<-EOF
		version = 2
		root = "$d/containerd/root"
		state = "$d/containerd/state"
		disabled_plugins = ["io.containerd.grpc.v1.cri"]
		[grpc]
		  address = "$d/containerd.sock"
		[ttrpc]
		  address = "$d/containerd.sock.ttrpc"
		[debug]
		  address = ""
		[plugins."io.containerd.internal.v1.opt"]
		  path = "$d/containerd/opt"
	EOF
	"${NSENTER[@]}" "$CONTAINERD" --config "$d/containerd.toml" --log-level warn >"$d/containerd.log" 2>&1 </dev/null &
	PID[containerd]=$!
	STARTED+=("${PID[containerd]}")
	for ((c = 0; c < 150; c++)); do
		[ -S "$d/containerd.sock" ] && break
		kill -0 "${PID[containerd]}" 2>/dev/null || break
		sleep 0.2
	done
	if [ ! -S "$d/containerd.sock" ]; then
		not_available docker "containerd did not start: $(first_line "$d/containerd.log")"
		return
	fi
	# The key file option only exists in the config file.
	printf '{"deprecated-key-path": "%s/key.json"}\n' "$d" >"$d/daemon.json"
	DSOCK=unix://$d/docker.sock
	DDATA=$d/data
	"${NSENTER[@]}" "$DOCKERD" --config-file "$d/daemon.json" --data-root "$DDATA" --exec-root "$d/exec" \
		-H "$DSOCK" --pidfile "$d/docker.pid" --containerd "$d/containerd.sock" \
		"${netargs[@]}" --storage-driver overlay2 --log-level warn >"$d/dockerd.log" 2>&1 </dev/null &
	PID[docker]=$!
	STARTED+=("${PID[docker]}")
	if ! wait_api docker "$DSOCK" "${PID[docker]}" "$d/dockerd.log"; then
		not_available docker "dockerd did not start: $(grep -m1 -i 'level=error\|failed' "$d/dockerd.log" | cut -c1-120)"
		return
	fi
	LABEL[docker]="docker $("$DOCKERD" --version | sed 's/Docker version \([^+,]*\).*/\1/') + containerd $("$CONTAINERD" --version | awk '{print $3}' | sed 's/[~+].*//')"
	ACTIVE+=(docker)
}

# ---------------------------------------------------------------- engines in a temp dir
# The functions below serve scripts that run every engine under one short
# temp dir T (berth's sockets live under its exec root T/bx, and a unix socket
# path must stay under 108 bytes) and drive them through the docker CLI
# (DOCKER_CLI), berth's own CLI and podman (PODMAN), die-ing when berth cannot
# be measured. They use T, REPO, STARTED, ACTIVE, PID, LABEL, WHY, HOST_PATHS
# and HOST_BEFORE of the caller.

log() { printf '[bench] %s\n' "$*" >&2; }
die() { printf '[bench] ERROR: %s\n' "$*" >&2; exit 1; }
want() { case " $ENGINES " in *" $1 "*) return 0 ;; esac; return 1; }
first_line() { head -n1 "$1" 2>/dev/null | cut -c1-160; }
not_available() { # engine reason
	[ "$1" = berth ] && die "berth: $2"
	log "$1: $2; not measured"
	WHY[$1]=$2
}
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

# busybox_rootfs dir: Debian's static busybox ($BUSYBOX), its applet links,
# passwd and group.
busybox_rootfs() {
	local r=$1 p
	mkdir -p "$r/bin" "$r/etc" "$r/proc" "$r/sys" "$r/dev" "$r/tmp" "$r/root"
	cp "$BUSYBOX" "$r/bin/busybox"
	for p in $("$BUSYBOX" --list-full); do
		mkdir -p "$r/$(dirname "$p")"
		[ -e "$r/$p" ] || [ -L "$r/$p" ] || ln -s /bin/busybox "$r/$p"
	done
	printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$r/etc/passwd"
	printf 'root:x:0:\nnobody:x:65534:\n' >"$r/etc/group"
}

# engine_env: a docker CLI with no user config, no credential helpers and no
# DOCKER_HOST (podman reads the config too, for auth).
engine_env() {
	export DOCKER_CONFIG=$T/docker-cli
	unset DOCKER_HOST DOCKER_CONTEXT DOCKER_TLS_VERIFY DOCKER_CERT_PATH
	mkdir -p "$DOCKER_CONFIG"
	echo '{}' >"$DOCKER_CONFIG/config.json"
}

berth_stale() { # bin -> the first source file newer than bin, if any
	find "$REPO" \( -name '*.go' -o -name go.mod -o -name go.sum -o -name Makefile -o -name '*.c' \) \
		-newer "$1" -not -name '*_test.go' -not -path "$REPO/bench/*" -not -path '*/testdata/*' \
		-not -path "$REPO/.git/*" -print -quit
}

# start_berth: a copy of $BERTH (default bin/berth, built with make when stale
# unless BENCH_BUILD=0) as a daemon on T/berth/berth.sock, in NETNS[berth]
# if there is one. Sets BERTHBIN and BSOCK.
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
	run_dir "$T/bx"
	cp "$bin" "$T/bin/berth" # a rebuild by someone else during the run changes nothing
	BERTHBIN=$T/bin/berth
	LABEL[berth]="berth $("$BERTHBIN" --version 2>/dev/null | sed 's/^berth version //' | cut -c1-40)"
	BSOCK=unix://$T/berth/berth.sock
	in_netns berth
	"${NSENTER[@]}" "$BERTHBIN" daemon -H "$BSOCK" --data-root "$T/berth/data" --exec-root "$T/bx" \
		>"$T/berth/daemon.log" 2>&1 </dev/null &
	PID[berth]=$!
	STARTED+=("${PID[berth]}")
	wait_api berth "$BSOCK" "${PID[berth]}" "$T/berth/daemon.log" || die "berth: the daemon did not start: $(first_line "$T/berth/daemon.log")"
	ACTIVE+=(berth)
}

# start_podman: podman with its own root, runroot, tmpdir and config under
# T/podman, in NETNS[podman] if there is one (then its netavark bridge and
# firewall rules live there). Sets PODMANCMD.
start_podman() {
	local p=$T/podman
	command -v "$PODMAN" >/dev/null || { not_available podman "not installed"; return; }
	mkdir -p "$p/root" "$p/tmp" "$p/networks"
	run_dir "$p/run"
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
	in_netns podman
	PODMANCMD=("${NSENTER[@]}" "$(command -v "$PODMAN")" --root "$p/root" --runroot "$p/run" --tmpdir "$p/tmp"
		--storage-driver overlay --cgroup-manager cgroupfs --events-backend file)
	timeout 60 "${PODMANCMD[@]}" images -q >/dev/null 2>"$p/probe.err" || { not_available podman "does not start: $(first_line "$p/probe.err")"; return; }
	LABEL[podman]="podman $("${PODMANCMD[@]}" --version | awk '{print $3}')"
	ACTIVE+=(podman)
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

# import_probe engine tarball image run-args...: import the image, then one
# `run --rm RUN-ARGS IMAGE true`; 1 (and the engine not measured) on failure.
import_probe() {
	local e=$1 tarball=$2 img=$3
	shift 3
	clicmd "$e"
	if ! timeout 120 "${CLI[@]}" import "$tarball" "$img" >/dev/null 2>"$T/$e-import.err"; then
		not_available "$e" "import failed: $(first_line "$T/$e-import.err")"
		return 1
	fi
	if ! timeout 60 "${CLI[@]}" run --rm "$@" "$img" true </dev/null >"$T/$e-probe.out" 2>&1; then
		not_available "$e" "run failed: $(first_line "$T/$e-probe.out")"
		return 1
	fi
}

# has engine: 0 if it is among the caller's PROBED (the engines that ran the image).
has() { local x; for x in "${PROBED[@]}"; do [ "$x" = "$1" ] && return 0; done; return 1; }

# machine_line dir: the machine, its kernel and cgroups, the file system of
# dir, and the time, for a report's first line.
machine_line() {
	local cpu mem cg fs
	# shellcheck disable=SC1091
	. /etc/os-release
	cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
	mem=$(awk '/MemTotal/ {printf "%.1f GB", $2/1048576}' /proc/meminfo)
	if [ -f /sys/fs/cgroup/cgroup.controllers ]; then cg="cgroup v2"; else
		cg="cgroup v1 controllers + cgroup2 at /sys/fs/cgroup/unified holding '$(cat /sys/fs/cgroup/unified/cgroup.controllers 2>/dev/null)'"
	fi
	fs=$(df -PT "$1" | awk 'NR==2 {print $2}')
	echo "$PRETTY_NAME ($(cat /etc/debian_version 2>/dev/null || echo ?)), kernel $(uname -r), $(nproc) cores ($cpu), $mem RAM, $cg, stores on $fs, runtime state on $([ "${BENCH_RUN_TMPFS:-1}" = 1 ] && echo tmpfs || echo "$fs"); $(date -u '+%Y-%m-%d %H:%M UTC')"
}

# berth installs its init program in runtime.DefaultInitDir whatever the exec
# root. init_note prints a report line naming the files there that were not
# in INIT_BEFORE (set at the start) and whose hash our binary names (other
# berths on the machine write there too), or nothing when there are none.
INITDIR=/run/berth/init
INIT_BEFORE=$(ls "$INITDIR" 2>/dev/null | sort | tr '\n' ' ')
init_note() {
	local f new=""
	for f in $(comm -13 <(echo "$INIT_BEFORE" | tr ' ' '\n' | sed '/^$/d') <(ls "$INITDIR" 2>/dev/null | sort)); do
		if grep -qaF "${f#berth-init-}" "$BERTHBIN"; then new+=" $INITDIR/$f"; fi
	done
	if [ -n "$new" ]; then
		echo "- berth wrote outside its --exec-root:$new (its init program: runtime.DefaultInitDir is fixed). Left in place, as another berth may use it."
	fi
}

# publish report raw-files...: the report to BENCH_OUT and the raw files to
# BENCH_JSON_DIR when asked, then the report on stdout.
publish() {
	local report=$1
	shift
	if [ -n "${BENCH_JSON_DIR:-}" ]; then
		mkdir -p "$BENCH_JSON_DIR"
		cp "$@" "$BENCH_JSON_DIR/"
	fi
	if [ -n "${BENCH_OUT:-}" ]; then cp "$report" "$BENCH_OUT"; fi
	echo
	cat "$report"
}

# ---------------------------------------------------------------- cleanup
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

# release_tmp dir: unmounts what is under dir (deepest first), removes it
# (unless KEEP_TMP=1), removes the empty directories the engines made among
# HOST_PATHS, and compares host_state with HOST_BEFORE (if set), saying how
# the host differs.
release_tmp() {
	local d=$1 m p
	for m in $(awk -v t="$d/" 'index($5, t) == 1 {print $5}' /proc/self/mountinfo | sort -r); do
		umount "$m" 2>/dev/null || umount -l "$m"
	done
	if [ "${KEEP_TMP:-0}" = 1 ]; then log "kept $d"; else rm -rf "$d" 2>/dev/null || rm -rf "$d"; fi
	[ -f "${HOST_BEFORE:-}" ] || return 0
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
}

# teardown rc: the end of every run, once its containers are removed: stops
# the daemons it started (last started first), kills whatever is left that
# names the temp dir (supervisors, their containers), unmounts what is under
# it (network namespace files included), removes it and the empty directories
# the engines made among HOST_PATHS, compares host_state with HOST_BEFORE, and
# exits with rc.
teardown() {
	local rc=$1 i p
	for ((i = ${#STARTED[@]} - 1; i >= 0; i--)); do stop_pid "${STARTED[$i]}" 30; done
	for p in $(pids_matching "$T/"); do
		ours "$p" || continue
		log "cleanup: stopping leftover pid $p ($(tr '\0' ' ' <"/proc/$p/cmdline" | cut -c1-80))"
		kill -KILL "$p" 2>/dev/null
	done
	sleep 0.5
	release_tmp "$T"
	exit "$rc"
}
