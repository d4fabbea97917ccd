#!/bin/bash
# bench/gain-scan.sh [OUT_DIR] [BUILD] - requirements and oracle runs for
# bench/gain.sh, on the soundness corpus (tests/workloads/corpus) and
# wl_demo.
#
# For each workload (tests/workloads/corpus/drive.sh starts and drives it):
#   OUT_DIR/W.reachable.json  migratable scan PID --json
#   OUT_DIR/W.full.json       migratable scan PID --json --method full
#   OUT_DIR/oracle/W.json     migratable observe PID --check --json
#                             --seconds $SECONDS_PER (default 2) while the
#                             workload is driven: the features its code
#                             really executed (features_required)
# Defaults: OUT_DIR build/gain, BUILD build.  $WORKLOADS overrides the list.
# A workload whose program is not installed is skipped (status 77).  Exit 1
# if the oracle saw code the scan missed (files kept, gain.sh reports it)
# or a workload failed (reported, its files removed).
# Needs Debian packages python3-numpy redis-server redis-tools sqlite3 gzip
# zstd xz-utils openssl for the whole corpus.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
out=${1:-build/gain}
build=${2:-build}
secs=${SECONDS_PER:-2}
workloads=${WORKLOADS:-"c_lazy c_now cxx python_numpy redis sqlite3 gzip zstd xz openssl wl_demo"}
export MIGRATABLE=$root/$build/migratable
export CORPUS=$root/$build/workloads/corpus
export WORKLOADS_DIR=$root/$build/workloads

[ -x "$MIGRATABLE" ] || { echo "gain-scan.sh: $MIGRATABLE not built (run make)" >&2; exit 2; }
case " $workloads " in
*" wl_demo "*)
	[ -x "$WORKLOADS_DIR/wl_demo" ] ||
		{ echo "gain-scan.sh: $WORKLOADS_DIR/wl_demo not built (make workloads)" >&2; exit 2; } ;;
esac
# The corpus is a make target (built once, with a stamp, never sanitized).
make -s BUILD="$build" workloads || exit 2
mkdir -p "$out/oracle" || exit 2
# Stale files of an earlier run would be summarised as if fresh.
rm -f "$out"/*.json "$out"/oracle/*.json

bad=0
for w in $workloads; do
	start=$(date +%s.%N)
	SCAN_OUT=$out/$w tests/workloads/corpus/drive.sh "$w" "$out/oracle/$w.json" "$secs" \
		2>"$out/oracle/$w.err"
	rc=$?
	wall=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
	case $rc in
	0)  echo "gain-scan.sh: $w: scanned and observed in $wall s" >&2 ;;
	1)  echo "gain-scan.sh: $w: the oracle saw code the reachable scan missed (kept):" >&2
	    sed 's/^/  /' "$out/oracle/$w.err" >&2
	    bad=1 ;;
	77) echo "gain-scan.sh: $w: skipped (not installed)" >&2
	    rm -f "$out/$w".*.json "$out/oracle/$w.json" ;;
	*)  echo "gain-scan.sh: $w: failed (status $rc):" >&2
	    sed 's/^/  /' "$out/oracle/$w.err" >&2
	    rm -f "$out/$w".*.json "$out/oracle/$w.json"
	    bad=1 ;;
	esac
done
exit $bad
