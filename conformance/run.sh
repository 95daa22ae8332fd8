#!/usr/bin/env bash
# conformance/run.sh — run the OCI runtime-tools validation suite against an
# OCI runtime (berth by default, or any runc-compatible runtime).
#
# Usage:
#   conformance/run.sh [RUNTIME [ARGS...]]
#
#   RUNTIME may be a single executable (e.g. /usr/sbin/runc) or a command with
#   leading arguments (e.g. "/usr/local/bin/berth runtime"); in the latter case
#   a tiny wrapper script is generated, because the harness exec's $RUNTIME as a
#   single executable path (exec.LookPath) and passes no global flags.
#   Without arguments, $RUNTIME from the environment is used (word-split), and
#   failing that "berth runtime" with berth from $BERTH_BIN, else built from
#   ./cmd/berth of this repository, else found in $PATH.
#   Example: conformance/run.sh /usr/sbin/runc
#            BERTH_BIN=./bin/berth conformance/run.sh
#
# Environment:
#   RUNTIME                 runtime command (if no positional args)
#   BERTH_CONFORMANCE_DIR   build/cache dir of runtime-tools
#                           (default /var/cache/berth/runtime-tools)
#   CONFORMANCE_TIMEOUT     per-test-file timeout in seconds (default 60)
#   CONFORMANCE_TESTS       only run these tests (space/comma separated names,
#                           e.g. "create state kill"); floor is not enforced then
#   CONFORMANCE_LOGDIR      where TAP logs go (default: a fresh dir under
#                           ${TMPDIR:-/tmp}, kept after the run)
#   CONFORMANCE_FLOOR       minimum number of passing files (overrides the
#                           file conformance/floor)
#   CONFORMANCE_REBUILD=1   force rebuilding the runtime-tools binaries
#   CONFORMANCE_ALLOW_EMPTY=0  strict: a file needs at least one "ok" line.
#                           The default (1) also passes files that exit 0
#                           with no test point and no YAML "error"
#                           diagnostic: the hook tests and process_*_fail
#                           report failure only that way.
#
# Files next to this script (optional):
#   floor                   an integer: minimum number of passing files
#   expected-pass.txt       test names (one per line, '#' comments) that MUST pass
#
# Output (stdout): one line per test file, "PASS name" or
# "FAIL name (reason: ...)", then a closing line "N passed, N failed".
# Progress and diagnostics go to stderr.
#
# Exit status: 0 ok; 1 floor not met or an expected test failed;
#              2 setup/build error.

set -euo pipefail

RT_MODULE=github.com/opencontainers/runtime-tools
RT_VERSION=v0.9.1-0.20260316125833-8a4db579f5c8

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$SCRIPT_DIR/.." && pwd)
CACHE_DIR=${BERTH_CONFORMANCE_DIR:-/var/cache/berth/runtime-tools}
TEST_TIMEOUT=${CONFORMANCE_TIMEOUT:-60}

log() { printf '[conformance] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 2; }

for tool in go make tar timeout flock awk sed; do
	command -v "$tool" >/dev/null 2>&1 || die "required tool '$tool' not found"
done

# ---------------------------------------------------------------------------
# Work dir: wrapper, per-test TMPDIRs (bundles), logs.
# ---------------------------------------------------------------------------
WORK_DIR=$(mktemp -d "${TMPDIR:-/tmp}/berth-conformance.XXXXXX")
LOG_DIR=${CONFORMANCE_LOGDIR:-$WORK_DIR/logs}
mkdir -p "$LOG_DIR" "$WORK_DIR/bin" "$WORK_DIR/tmp"
# mktemp -d gives 0700; containers with user namespaces (linux_uid_mappings,
# linux_ns_nopath) run as a mapped uid that must be able to reach the bundle.
chmod 0755 "$WORK_DIR" "$WORK_DIR/bin" "$WORK_DIR/tmp"
RUN_MARK="berth-conformance-$$-$RANDOM$RANDOM"

# ---------------------------------------------------------------------------
# 1. Build runtime-tools (cached).
# ---------------------------------------------------------------------------
build_runtime_tools() {
	local stamp="$CACHE_DIR/.berth-conformance-built"
	local want="$RT_MODULE@$RT_VERSION"
	if [[ "${CONFORMANCE_REBUILD:-0}" != 1 && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
		log "using cached runtime-tools build in $CACHE_DIR"
		return 0
	fi

	log "fetching $want via the Go module proxy"
	local fetch_mod
	fetch_mod=$(mktemp -d "${TMPDIR:-/tmp}/berth-conformance-fetch.XXXXXX")
	local json dir
	json=$(cd "$fetch_mod" && go mod init berth-conformance-fetch >/dev/null 2>&1 &&
		GOFLAGS=-mod=mod go mod download -json "$want") || {
		rm -rf "$fetch_mod"; die "go mod download $want failed: $json"; }
	rm -rf "$fetch_mod"
	dir=$(printf '%s\n' "$json" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p' | head -n1)
	[[ -n "$dir" && -f "$dir/Makefile" ]] || die "could not locate downloaded module dir (got '$dir')"

	local staging="$CACHE_DIR.staging.$$"
	rm -rf "$CACHE_DIR".staging.* # leftovers of interrupted builds (we hold the lock)
	mkdir -p "$(dirname "$CACHE_DIR")"
	cp -R "$dir" "$staging"
	chmod -R u+w "$staging"
	# The module zip ships vendor/modules.txt but not the vendored code; drop it
	# so dependencies come from the module proxy instead.
	rm -rf "$staging/vendor"

	log "building runtimetest, oci-runtime-tool and validation executables (this takes a while the first time)"
	# CGO off: runtimetest is linked statically and nothing here needs cgo.
	if ! (cd "$staging" && env GOFLAGS="-mod=mod -buildvcs=false" CGO_ENABLED=0 \
		make runtimetest tool validation-executables >"$WORK_DIR/build.log" 2>&1); then
		tail -n 40 "$WORK_DIR/build.log" >&2
		rm -rf "$staging"
		die "building runtime-tools failed (full log: $WORK_DIR/build.log)"
	fi
	printf '%s' "$want" >"$staging/.berth-conformance-built"
	rm -rf "$CACHE_DIR"
	mv "$staging" "$CACHE_DIR"
	log "runtime-tools built in $CACHE_DIR"
}

mkdir -p "$(dirname "$CACHE_DIR")"
exec 9>"$CACHE_DIR.lock"
flock 9
build_runtime_tools
flock -s 9 # keep a shared lock while running so a concurrent rebuild waits

# ---------------------------------------------------------------------------
# 2. Resolve the runtime command.
# ---------------------------------------------------------------------------
RT_CMD=()
if (($# > 0)); then
	RT_CMD=("$@")
elif [[ -n "${RUNTIME:-}" ]]; then
	read -r -a RT_CMD <<<"$RUNTIME"
else
	berth=${BERTH_BIN:-}
	if [[ -z "$berth" ]]; then
		if [[ -d "$REPO_DIR/cmd/berth" ]]; then
			log "building berth from $REPO_DIR/cmd/berth"
			(cd "$REPO_DIR" && go build -o "$WORK_DIR/bin/berth" ./cmd/berth) || die "building berth failed"
			berth=$WORK_DIR/bin/berth
		elif command -v berth >/dev/null 2>&1; then
			berth=$(command -v berth)
		else
			die "no runtime given and no berth binary found (pass RUNTIME or set BERTH_BIN)"
		fi
	fi
	RT_CMD=("$berth" runtime)
fi
rt0=$(command -v "${RT_CMD[0]}" 2>/dev/null) || die "runtime '${RT_CMD[0]}' not found"
[[ "$rt0" == /* ]] || rt0=$(cd "$(dirname "$rt0")" && pwd)/$(basename "$rt0")
RT_CMD[0]=$rt0
if ((${#RT_CMD[@]} == 1)); then
	RT_EXE=$rt0
else
	RT_EXE=$WORK_DIR/bin/oci-runtime
	{
		echo '#!/bin/sh'
		printf 'exec'
		printf ' %q' "${RT_CMD[@]}"
		printf ' "$@"\n'
	} >"$RT_EXE"
	chmod 755 "$RT_EXE"
fi
log "runtime: ${RT_CMD[*]} (RUNTIME=$RT_EXE)"

# ---------------------------------------------------------------------------
# Cleanup helpers.
# ---------------------------------------------------------------------------
list_ids() {
	local out
	if out=$("$RT_EXE" list -q 2>/dev/null); then
		printf '%s\n' "$out" | awk 'NF {print $1}'
	else
		"$RT_EXE" list 2>/dev/null | awk 'NR > 1 && NF {print $1}' || true
	fi
}

BASELINE_IDS=$(list_ids | sort -u)

is_uuid() { [[ "$1" =~ ^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$ ]]; }

# Delete containers that appeared during this run and belong to it: bundle
# under our work dir, or (state unreadable) a UUID id as the harness uses.
# Also covers tests that use the cache dir itself as the bundle (bundle ".").
cleanup_containers() {
	local id bundle leaked=0
	while read -r id; do
		[[ -n "$id" ]] || continue
		grep -qxF -- "$id" <<<"$BASELINE_IDS" && continue
		bundle=$("$RT_EXE" state "$id" 2>/dev/null | sed -n 's/.*"bundle"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p' | head -n1) || true
		if [[ -n "$bundle" ]]; then
			[[ "$bundle" == "$WORK_DIR"/* || "$bundle" == "$CACHE_DIR" || "$bundle" == "$CACHE_DIR"/* ]] || continue
		else
			is_uuid "$id" || continue
		fi
		leaked=$((leaked + 1))
		"$RT_EXE" delete --force "$id" >/dev/null 2>&1 || {
			"$RT_EXE" kill "$id" KILL >/dev/null 2>&1 || true
			sleep 0.5
			"$RT_EXE" delete "$id" >/dev/null 2>&1 || log "warning: could not delete leaked container $id"
		}
	done < <(list_ids)
	((leaked == 0)) || log "cleaned up $leaked leaked container(s)"
	return 0
}

# Kill stray processes spawned by test binaries (e.g. 'unshare ... sleep 10000'
# from the namespace tests, which run in their own process group). They are
# recognised by a marker in their environment that only our test children have.
kill_marked_processes() {
	local p pids=()
	for p in /proc/[0-9]*; do
		p=${p#/proc/}
		[[ "$p" == "$$" ]] && continue
		if grep -qzxF "BERTH_CONFORMANCE_MARK=$RUN_MARK" "/proc/$p/environ" 2>/dev/null; then
			pids+=("$p")
		fi
	done
	if ((${#pids[@]})); then
		kill -KILL "${pids[@]}" 2>/dev/null || true
	fi
	return 0
}

# Cgroups the validation tests ask for (runtime-tools cgroups.AbsCgroupPath
# "/cgrouptest" and RelCgroupPath "testdir/cgrouptest/container", the latter
# relative to the runtime's own cgroup) can be left behind when create fails.
# rmdir (never recursive) only those that did not exist before the run; rmdir
# refuses non-empty or populated cgroups anyway.
cg_test_dirs() {
	find /sys/fs/cgroup -mindepth 1 -depth -type d \( -path '*/testdir/cgrouptest/container' \
		-o -path '*/testdir/cgrouptest' -o -path '*/testdir' -o -name cgrouptest \) 2>/dev/null || true
}
BASELINE_CGROUPS=$(cg_test_dirs)
cleanup_cgroups() {
	local d
	while read -r d; do
		[[ -n "$d" ]] || continue
		grep -qxF -- "$d" <<<"$BASELINE_CGROUPS" && continue
		rmdir "$d" 2>/dev/null || true
	done < <(cg_test_dirs)
	return 0
}

# Remove a dir only after making sure nothing is mounted below it (a buggy
# runtime could leave host bind mounts inside a bundle's rootfs).
safe_rm() {
	local dir=$1 mnts m
	[[ -e "$dir" ]] || return 0
	mnts=$(awk -v d="$dir/" 'index($5, d) == 1 {print $5}' /proc/self/mountinfo | sort -r)
	for m in $mnts; do
		umount -l "$m" 2>/dev/null || true
	done
	if awk -v d="$dir/" 'index($5, d) == 1 {found=1} END {exit !found}' /proc/self/mountinfo; then
		log "warning: mounts remain under $dir; not removing it"
		return 0
	fi
	rm -rf --one-file-system "$dir" 2>/dev/null || rm -rf "$dir" 2>/dev/null || true
}

# shellcheck disable=SC2317  # invoked via trap
cleanup_all() {
	local rc=$?
	trap - EXIT INT TERM
	# Interrupted mid-test: stop the test binary (and its helpers) first so it
	# cannot create more containers while we clean up.
	kill_marked_processes
	cleanup_containers
	kill_marked_processes
	cleanup_cgroups
	safe_rm "$WORK_DIR/tmp"
	safe_rm "$WORK_DIR/bin"
	if [[ "$LOG_DIR" != "$WORK_DIR"/* ]]; then
		safe_rm "$WORK_DIR"
	fi
	exit "$rc"
}
trap cleanup_all EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------
# 3. Run the tests.
# ---------------------------------------------------------------------------
cd "$CACHE_DIR"
mapfile -t ALL_TESTS < <(find validation -mindepth 2 -maxdepth 2 -name '*.t' -type f | sed 's#^validation/\([^/]*\)/.*#\1#' | sort -u)
((${#ALL_TESTS[@]} > 0)) || die "no validation executables found in $CACHE_DIR/validation"

TESTS=()
SUBSET=0
if [[ -n "${CONFORMANCE_TESTS:-}" ]]; then
	SUBSET=1
	for name in ${CONFORMANCE_TESTS//,/ }; do
		[[ -x "validation/$name/$name.t" ]] || die "unknown test '$name'"
		TESTS+=("$name")
	done
else
	TESTS=("${ALL_TESTS[@]}")
fi

log "running ${#TESTS[@]} test files (timeout ${TEST_TIMEOUT}s each); logs in $LOG_DIR"

# Evaluate one TAP log: prints the failure reason, or nothing if it passed.
#  - fail if the exit code is non-zero
#  - fail on any top-level "not ok" line (TAP "# TODO" ones don't count)
#  - fail on "Bail out!"
#  - fail if there is no top-level "ok" line at all (skips count as ok)
# Only lines starting in column 0 are considered: nested output of runtimetest
# inside YAML diagnostics is indented.
evaluate() {
	local tap=$1 errf=$2 rc=$3 line
	line=$(grep -E '^not ok' "$tap" | grep -viE '#[[:space:]]*TODO' | head -n1 || true)
	if [[ -n "$line" ]]; then
		printf '%s' "${line:0:200}"
		((rc == 0)) || printf ' [exit %d]' "$rc"
		return
	fi
	if line=$(grep -m1 -E '^Bail out!' "$tap"); then
		printf '%s' "${line:0:200}"
		return
	fi
	if ((rc == 124 || rc == 137)); then
		printf 'timeout after %ss' "$TEST_TIMEOUT"
		return
	fi
	if ((rc != 0)); then
		line=$(grep -m1 -v '^[[:space:]]*$' "$errf" 2>/dev/null || true)
		printf 'exit code %d%s' "$rc" "${line:+: ${line:0:160}}"
		return
	fi
	if ! grep -qE '^ok' "$tap"; then
		# Some tests never emit a test point: the hook tests (plan "1..0", failure
		# only reported as a YAML "error" diagnostic) and *_fail tests (no output
		# at all on success, util.Fatal on failure).
		line=$(grep -m1 -E '^[[:space:]]+"?error"?:[[:space:]]*"?[^"[:space:]]' "$tap" | sed 's/^[[:space:]]*//' || true)
		if [[ "${CONFORMANCE_ALLOW_EMPTY:-1}" == 1 && -z "$line" ]]; then
			return
		fi
		printf 'no ok lines%s' "${line:+; ${line:0:160}}"
		return
	fi
}

PASSED=()
FAILED=()
SUMMARY=$LOG_DIR/summary.tsv
printf 'test\tresult\texit\tseconds\treason\n' >"$SUMMARY"
RUN_START=$(date +%s)
for name in "${TESTS[@]}"; do
	ttmp=$WORK_DIR/tmp/$name
	mkdir -p "$ttmp"
	chmod 1777 "$ttmp"
	t0=$(date +%s.%N)
	set +e
	env BERTH_CONFORMANCE_MARK="$RUN_MARK" RUNTIME="$RT_EXE" TMPDIR="$ttmp" \
		timeout -k 10 "$TEST_TIMEOUT" "./validation/$name/$name.t" \
		</dev/null >"$LOG_DIR/$name.tap" 2>"$LOG_DIR/$name.stderr" 9>&- &
	wait $! # background + wait so INT/TERM traps run immediately
	rc=$?
	set -e
	secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}')
	cleanup_containers
	kill_marked_processes
	cleanup_cgroups
	safe_rm "$ttmp"
	reason=$(evaluate "$LOG_DIR/$name.tap" "$LOG_DIR/$name.stderr" "$rc")
	if [[ -z "$reason" ]]; then
		PASSED+=("$name")
		echo "PASS $name"
		printf '%s\tPASS\t%d\t%s\t\n' "$name" "$rc" "$secs" >>"$SUMMARY"
	else
		FAILED+=("$name")
		echo "FAIL $name (reason: $reason)"
		printf '%s\tFAIL\t%d\t%s\t%s\n' "$name" "$rc" "$secs" "$reason" >>"$SUMMARY"
	fi
done
RUN_SECS=$(($(date +%s) - RUN_START))
printf '%s\n' "${PASSED[@]+"${PASSED[@]}"}" | sed '/^$/d' >"$LOG_DIR/passed.txt"

npass=${#PASSED[@]}
nfail=${#FAILED[@]}
echo "$npass passed, $nfail failed"
log "suite took ${RUN_SECS}s; TAP logs and summary.tsv in $LOG_DIR"

# ---------------------------------------------------------------------------
# 4. Floor and expected-pass checks.
# ---------------------------------------------------------------------------
status=0
floor=${CONFORMANCE_FLOOR:-}
if [[ -z "$floor" && -f "$SCRIPT_DIR/floor" ]]; then
	floor=$(sed 's/#.*//' "$SCRIPT_DIR/floor" | tr -d '[:space:]')
fi
if [[ -n "$floor" ]]; then
	[[ "$floor" =~ ^[0-9]+$ ]] || die "invalid floor '$floor'"
	if ((SUBSET)); then
		log "subset run: floor ($floor) not enforced"
	elif ((npass < floor)); then
		log "FLOOR NOT MET: $npass passed < floor $floor"
		status=1
	else
		log "floor ok: $npass passed >= $floor"
	fi
fi
if [[ -f "$SCRIPT_DIR/expected-pass.txt" ]]; then
	while read -r name; do
		[[ -n "$name" ]] || continue
		if ((SUBSET)) && ! printf '%s\n' "${TESTS[@]}" | grep -qxF -- "$name"; then
			continue
		fi
		if ! printf '%s\n' "${PASSED[@]+"${PASSED[@]}"}" | grep -qxF -- "$name"; then
			log "EXPECTED TO PASS but did not: $name"
			status=1
		fi
	done < <(sed 's/#.*//; s/[[:space:]]//g' "$SCRIPT_DIR/expected-pass.txt")
fi
exit "$status"
