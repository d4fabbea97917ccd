#!/bin/bash
# bench/run.sh [BUILD_DIR] [bench.py options]: the performance benchmark of
# `migratable scan` (issue 6), run by `make bench`. Prints a table and writes
# BUILD_DIR/bench/results.json; see bench/bench.py and docs/performance.md.
#
#   bench/run.sh build             full run (about 3 minutes on 2 cores)
#   bench/run.sh build --quick     one repetition, small sizes (smoke test)
#   bench/run.sh profile [BUILD]   perf profile of the python3+numpy reachable scan
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
cd "$root"

if [ "${1:-}" = profile ]; then
	shift
	exec "$here/profile.sh" "$@"
fi

build=${1:-build}
[ $# -gt 0 ] && shift

for tool in /usr/bin/python3 objdump redis-server; do
	command -v "$tool" >/dev/null || { echo "bench: $tool is missing" >&2; exit 1; }
done
/usr/bin/python3 -c 'import numpy' 2>/dev/null ||
	{ echo "bench: /usr/bin/python3 has no numpy (apt-get install python3-numpy)" >&2; exit 1; }
# The workloads are normally built by `make bench`; build them when run alone.
if [ ! -x "$build/migratable" ] || [ ! -x "$build/workloads/wl_bench_bigheap" ] ||
   [ ! -x "$build/workloads/wl_bench_dlopen" ] || [ ! -x "$build/workloads/wl_idle" ]; then
	make -s BUILD="$build" "$build/migratable" "$build/workloads/wl_idle" \
		"$build/workloads/wl_bench_bigheap" "$build/workloads/wl_bench_dlopen"
fi

# bench.py kills what it starts; this trap is the backstop (e.g. SIGKILL of
# bench.py): every workload runs in its own process group, listed in $pids.
pids=$(mktemp /tmp/migratable-bench-pids.XXXXXX)
py=""
cleanup() {
	if [ -n "$py" ] && kill -0 "$py" 2>/dev/null; then
		kill -TERM "$py" 2>/dev/null || true
		wait "$py" 2>/dev/null || true
	fi
	while read -r pid; do
		kill -KILL -- "-$pid" 2>/dev/null || true
	done < "$pids"
	rm -f "$pids"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

# In the background and waited for, so that a signal to this script runs
# the traps at once instead of after bench.py finishes.
/usr/bin/python3 "$here/bench.py" "$build" --pidfile "$pids" "$@" &
py=$!
rc=0
wait "$py" || rc=$?
py=""
exit "$rc"
