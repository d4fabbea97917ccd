#!/usr/bin/env bash
# bench/gain.sh - how many more targets does a workload-specific check
# accept than CRIU's own policy?  (docs/gain.md)
#
#   bench/gain.sh [REQ_DIR] [CATALOG_DIR] [BUILD]
#
# REQ_DIR      saved `migratable scan --json` files, one per workload and
#              method (e.g. redis.reachable.json, redis.full.json; the
#              method is read from each file's "method", the workload name
#              is the file name up to the first dot), and optionally
#              REQ_DIR/oracle/<workload>.json, saved `migratable observe
#              --json` runs.  Default (or ""): scan and observe the corpus
#              now with bench/gain-scan.sh into BUILD/gain.
# CATALOG_DIR  target profiles (default ../shared/data/catalogs/aws-us-west-2)
# BUILD        build directory holding `migratable` (default build)
#
# For each workload it counts the targets judged compatible by
#   reachable  --policy workload on the reachable scan,
#   full       --policy workload on the full scan (if present),
#   oracle     --policy workload on the features the oracle saw execute,
#   criu-like  --policy criu-like, source = this host's profile
#              (CRIU's instruction mask over feature lists; unknowns count
#              as not compatible for every policy).  The source is first
#              restricted to the flags the catalog can express at all (the
#              union of its profiles' lists): a flag no target records
#              (tsc, mmxext, xgetbv1 in the XED-derived AWS data) would
#              otherwise fail CRIU's rule everywhere and inflate the gain.
#              The dropped flags are printed.
# and prints the ratio reachable / criu-like and its median.  A target
# compatible under `workload` that lacks a feature the oracle saw executed
# is a contradiction.  Exit 1 on a contradiction, or when $GAIN_MIN is set
# and the median ratio is below it (the ratio depends on the source CPU:
# no threshold is applied unless asked for), 0 otherwise, 2 on bad input.
# Where ../shared/data/lmd-aws-us-west-2 exists, real CRIU verdicts and
# migrations of that dataset are summarised as context (lmd_context.py).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
req_dir=${1:-}
catalog=${2:-$root/../shared/data/catalogs/aws-us-west-2}
build=${3:-build}
bin=$build/migratable
lmd=$root/../shared/data/lmd-aws-us-west-2

[ -x "$bin" ] || { echo "gain.sh: $bin not built (run make)" >&2; exit 2; }
[ -d "$catalog" ] || { echo "gain.sh: no catalog directory $catalog" >&2; exit 2; }
scan_rc=0
if [ -z "$req_dir" ]; then
	req_dir=$build/gain
	"$here/gain-scan.sh" "$req_dir" "$build" || scan_rc=$?
	# 1: a workload failed or the oracle saw a miss; summarise what we have.
	[ "$scan_rc" -le 1 ] || exit 2
	echo
fi
[ -d "$req_dir" ] || { echo "gain.sh: no requirements directory $req_dir" >&2; exit 2; }
shopt -s nullglob
files=("$req_dir"/*.json)
[ ${#files[@]} -gt 0 ] || { echo "gain.sh: no *.json in $req_dir" >&2; exit 2; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# `check` exits 1 when some target is not compatible: that is data here.
run_check() {
	local out=$1; shift
	local rc=0
	"$bin" check "$@" --format json >"$out" 2>"$out.err" || rc=$?
	if [ "$rc" -gt 1 ]; then
		echo "gain.sh: migratable check $* failed: $(cat "$out.err")" >&2
		exit 2
	fi
}

# The CRIU-like source, and which host flags the restriction drops.
"$bin" host --json >"$tmp/host.json"
echo "source: this host, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)" \
	"(family $(sed -n 's/^cpu family[[:space:]]*: //p' /proc/cpuinfo | head -n 1)," \
	"model $(sed -n 's/^model[[:space:]]*: //p' /proc/cpuinfo | head -n 1))"
echo '{"name": "no features", "features": []}' >"$tmp/empty.json"
run_check "$tmp/mask.json" --policy criu-like --source "$tmp/host.json" --target "$tmp/empty.json"
python3 "$here/gain/restrict_source.py" "$tmp/host.json" "$catalog" \
	"$tmp/source-info.json" "$tmp/mask.json" >"$tmp/source.json"
run_check "$tmp/criu-like.json" --policy criu-like --source "$tmp/source.json" --target "$catalog"

# Saved scans go to check as they are: the round trip is part of what runs.
for f in "${files[@]}"; do
	run_check "$tmp/$(basename "$f").verdicts" --requirements "$f" --target "$catalog"
done
for f in "$req_dir"/oracle/*.json; do
	w=$(basename "$f" .json)
	python3 "$here/gain/oracle_req.py" "$f" "$tmp/oracle-req.json"
	run_check "$tmp/$w.oracle.verdicts" --requirements "$tmp/oracle-req.json" --target "$catalog"
done

rc=0
python3 "$here/gain/summarize.py" "$tmp/criu-like.json" "$tmp" "$tmp/source-info.json" \
	"${files[@]}" || rc=$?
if [ -d "$lmd/migration-outcomes" ]; then
	echo
	python3 "$here/gain/lmd_context.py" "$bin" "$lmd" "$catalog" || rc=2
fi
[ "$scan_rc" -eq 0 ] || rc=1
exit $rc
