#!/bin/bash
# bench/soundness.sh [BUILD] - soundness and precision of `scan` against the
# int3 oracle on the workload corpus (tests/workloads/corpus/).
#
# For each workload: one snapshot is scanned with methods full and
# reachable, then `migratable observe` records which units execute for
# $SECONDS_PER (default 2) seconds while the workload is driven.  Prints a
# Markdown table; exits 1 if any executed unit or feature was missed.
# Needs: build/migratable; Debian packages python3-numpy redis-server
# redis-tools sqlite3 gzip zstd xz-utils openssl (missing ones are skipped).
set -u
build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export MIGRATABLE=$root/$build/migratable
export CORPUS=$root/$build/workloads/corpus
secs=${SECONDS_PER:-2}
workloads=${WORKLOADS:-"c_lazy c_now cxx python_numpy redis sqlite3 gzip zstd xz openssl"}
[ -x "$MIGRATABLE" ] || { echo "soundness.sh: $MIGRATABLE not built" >&2; exit 2; }
# The corpus is a make target (built once, with a stamp, never sanitized).
make -s BUILD="$build" workloads || exit 2
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
bad=0
for w in $workloads; do
	start=$(date +%s.%N)
	tests/workloads/corpus/drive.sh "$w" "$out/$w.json" "$secs" 2>"$out/$w.err"
	rc=$?
	end=$(date +%s.%N)
	echo "$rc $(awk -v a="$start" -v b="$end" 'BEGIN { print b - a }')" >"$out/$w.rc"
	case $rc in
	0) ;;
	77) ;;
	*) bad=1; sed 's/^/  /' "$out/$w.err" >&2 ;;
	esac
done
python3 - "$out" $workloads <<'PY'
import json, sys, os
out, names = sys.argv[1], sys.argv[2:]
print("| workload | full: features | reachable: features | reachable / total units | executed units | oracle features | unit misses | feature misses | reachable saves over full | plant ms | wall s |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for n in names:
    rc, wall = open(f"{out}/{n}.rc").read().split()
    p = f"{out}/{n}.json"
    if rc == "77" or not os.path.exists(p) or os.path.getsize(p) == 0:
        print(f"| {n} | skipped (not installed or failed: status {rc}) |||||||||| {float(wall):.1f} |")
        continue
    d = json.load(open(p))
    s, sc = d["soundness"], d["scan"]
    full, reach = set(sc["full"]["required"]), set(sc["reachable"]["required"])
    saved = sorted(full - reach)
    print(f"| {n} | {len(full)} | {len(reach)} | {sc['reachable']['units_reachable']} / {sc['reachable']['units_total']}"
          f" | {s['executed']} | {len(d['features_required'])} | {len(s['unit_misses'])}"
          f" | {len(s['feature_misses'])} | {', '.join(saved) if saved else '-'}"
          f" | {d['stats']['plant_ms']:.1f} | {float(wall):.1f} |")
    for m in s["unit_misses"]:
        print(f"|   MISS | {m['name']} | {m['module']} | {m['address']} | {m['why']} |||||||")
    if s["feature_misses"]:
        print(f"|   FEATURE MISS | {', '.join(s['feature_misses'])} ||||||||||")
PY
exit $bad
