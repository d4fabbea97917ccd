#!/usr/bin/env bash
# bench/gain.sh - how many more targets does a workload-specific check
# accept than CRIU's own policy?
#
#   bench/gain.sh [REQ_DIR] [CATALOG_DIR] [BUILD]
#
# REQ_DIR      saved `migratable scan --json` files, one per workload
#              (default bench/gain/requirements).  The scan method is read
#              from each file's "method"; a workload may have a reachable
#              and a full scan (e.g. redis.reachable.json, redis.full.json;
#              the workload name is the file name up to the first dot).
# CATALOG_DIR  target profiles (default ../shared/data/catalogs/aws-us-west-2)
# BUILD        build directory holding `migratable` (default build)
#
# For each workload it counts the targets judged compatible by
#   reachable  --policy workload on the reachable scan,
#   full       --policy workload on the full scan (if present),
#   criu-like  --policy criu-like, source = this host's profile
#              (CRIU's instruction mask over feature lists; unknowns count
#              as not compatible for every policy).  The source is first
#              restricted to the flags the catalog can express at all (the
#              union of its profiles' lists): a flag no target records
#              (tsc, mmxext, xgetbv1 in the XED-derived AWS data) would
#              otherwise fail CRIU's rule everywhere and inflate the gain.
# and prints the ratio reachable / criu-like and its median.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
req_dir=${1:-$here/gain/requirements}
catalog=${2:-$here/../../shared/data/catalogs/aws-us-west-2}
build=${3:-build}
bin=$build/migratable

[ -x "$bin" ] || { echo "gain.sh: $bin not built (run make)" >&2; exit 2; }
[ -d "$catalog" ] || { echo "gain.sh: no catalog directory $catalog" >&2; exit 2; }
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
	"$bin" check "$@" --target "$catalog" --format json >"$out" 2>"$out.err" || rc=$?
	if [ "$rc" -gt 1 ]; then
		echo "gain.sh: migratable check $* failed: $(cat "$out.err")" >&2
		exit 2
	fi
}

"$bin" host --json >"$tmp/host.json"
python3 "$here/gain/restrict_source.py" "$tmp/host.json" "$catalog" >"$tmp/source.json"
run_check "$tmp/criu-like.json" --policy criu-like --source "$tmp/source.json"
for f in "${files[@]}"; do
	run_check "$tmp/$(basename "$f").verdicts" --requirements "$f"
done
python3 "$here/gain/summarize.py" "$tmp/criu-like.json" "$tmp" "${files[@]}"
