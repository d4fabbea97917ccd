#!/bin/bash
# bench/profile.sh [BUILD_DIR] [METHOD] [WORKLOAD]: where the time of a scan
# goes. Starts WORKLOAD (numpy, the default: python3+numpy; or bigheap:SIZE,
# e.g. bigheap:1G, for the memory side), runs `perf record -g` on one
# `migratable scan PID --method METHOD` (default reachable) and prints the
# top DSOs, the top symbols by self time and by inclusive time; the full
# report is kept in BUILD_DIR/bench/profile.txt. Run via `bench/run.sh profile`.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cd "$(dirname "$here")"
build=${1:-build}
method=${2:-reachable}
workload=${3:-numpy}
out=$build/bench
mkdir -p "$out"
command -v perf >/dev/null || { echo "profile: perf is missing (apt-get install linux-perf)" >&2; exit 1; }

wl=""
fifo=$(mktemp -u /tmp/migratable-profile.XXXXXX)
cleanup() {
	[ -n "$wl" ] && kill -- "-$wl" 2>/dev/null || true
	rm -f "$fifo"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkfifo "$fifo"
case $workload in
numpy) setsid /usr/bin/python3 "$here/np_matmul.py" > "$fifo" & ;;
bigheap:*) setsid "$build/workloads/wl_bench_bigheap" "${workload#bigheap:}" 64 > "$fifo" & ;;
*) echo "profile: unknown workload '$workload' (numpy, bigheap:SIZE)" >&2; exit 2 ;;
esac
wl=$!
read -r -t 120 line < "$fifo" || { echo "profile: workload not ready" >&2; exit 1; }
case $line in *ready*) ;; *) echo "profile: workload said '$line'" >&2; exit 1 ;; esac

# DWARF unwinding: the build keeps no frame pointers (-O2), and the
# inclusive figures need whole call chains.
perf record -q -g --call-graph dwarf,16384 -F 1999 -o "$out/perf.data" "$build/migratable" scan "$wl" --json \
	--method "$method" > /dev/null
# head closes the pipe early: perf's SIGPIPE is not a failure here.
set +o pipefail
{
	echo "== perf: migratable scan ($workload) --method $method; load average $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "== by DSO (self)"
	perf report -i "$out/perf.data" --no-children --stdio -g none --sort dso 2>/dev/null |
		grep '%' | head -8
	echo "== top symbols (self)"
	perf report -i "$out/perf.data" --no-children --stdio -g none --sort dso,symbol 2>/dev/null |
		grep '%' | head -25
	echo "== top symbols (inclusive, children counted)"
	perf report -i "$out/perf.data" --children --stdio -g none --sort symbol 2>/dev/null |
		grep '%' | grep -v '\] 0x0000' | head -30
} | tee "$out/profile.txt"
