# bench/lib.sh — shell functions the benchmark scripts share (sourced).
#
# The caller defines: not_available ENGINE REASON, wait_api ENGINE HOST PID LOG,
# first_line FILE, the arrays PID (associative), STARTED, ACTIVE and LABEL
# (associative), HOST_PATHS, and DOCKERD / CONTAINERD (the binaries).

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

# start_dockerd starts a private containerd and dockerd under a directory of
# the run's own, with no bridge, iptables or ip_forward: dockerd leaves the
# host's network alone. It sets DSOCK and DDATA.
start_dockerd() { # dir: our own containerd and dockerd under dir
	local d=$1 c
	if ! command -v "$DOCKERD" >/dev/null || ! command -v "$CONTAINERD" >/dev/null; then
		not_available docker "not installed"
		return
	fi
	mkdir -p "$d/containerd"
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
	"$CONTAINERD" --config "$d/containerd.toml" --log-level warn >"$d/containerd.log" 2>&1 </dev/null &
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
	# No bridge, no iptables, no ip_forward: dockerd leaves the host's network alone.
	# The key file option only exists in the config file.
	printf '{"deprecated-key-path": "%s/key.json"}\n' "$d" >"$d/daemon.json"
	DSOCK=unix://$d/docker.sock
	DDATA=$d/data
	"$DOCKERD" --config-file "$d/daemon.json" --data-root "$DDATA" --exec-root "$d/exec" \
		-H "$DSOCK" --pidfile "$d/docker.pid" --containerd "$d/containerd.sock" \
		--bridge=none --iptables=false --ip6tables=false --ip-forward=false --ip-masq=false \
		--storage-driver overlay2 --log-level warn >"$d/dockerd.log" 2>&1 </dev/null &
	PID[docker]=$!
	STARTED+=("${PID[docker]}")
	if ! wait_api docker "$DSOCK" "${PID[docker]}" "$d/dockerd.log"; then
		not_available docker "dockerd did not start: $(grep -m1 -i 'level=error\|failed' "$d/dockerd.log" | cut -c1-120)"
		return
	fi
	LABEL[docker]="docker $("$DOCKERD" --version | sed 's/Docker version \([^+,]*\).*/\1/') + containerd $("$CONTAINERD" --version | awk '{print $3}' | sed 's/[~+].*//')"
	ACTIVE+=(docker)
}
