#!/usr/bin/env bash
# bench/run-targets.sh [CONDITION...] - `migratable run` on the corpus
# (docs/run.md, "Measure"): for each condition the soundness corpus is
# started under `migratable run` (tests/workloads/corpus/drive.sh with
# $LAUNCH), scanned and observed by the int3 oracle (bench/gain-scan.sh
# into BUILD/run-targets/COND), and bench/run/summarize.py counts the AWS
# types (383, catalogs/aws-us-west-2.json) compatible by the scan and by
# the oracle's observed features, the contradictions, and whether every
# named target is compatible; also by a scan under --assume
# glibc-contracts,tzcnt-as-bsf ($SCAN_ASSUME, empty: not), column scan+A.
# Then
# bench/run/slowdown.py times each workload's own loop with and without
# the restriction.
#
# Conditions: none (no run), aws (--catalog aws), and AWS families whose
# profiles come from ../shared/data/catalogs/aws-us-west-2 (c4 c5a m5 c6a
# by default: every type of the family is a target).  $BUILD (default
# build), $REPS (timing repetitions, default 5), $SKIP_TIMING=1.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
cd "$root"
build=${BUILD:-build}
bin=$root/$build/migratable
profiles=$root/../shared/data/catalogs/aws-us-west-2
[ -x "$bin" ] || { echo "run-targets.sh: $bin not built (run make)" >&2; exit 2; }
[ -d "$profiles" ] || { echo "run-targets.sh: needs ../shared/data (family profiles)" >&2; exit 2; }
[ $# -gt 0 ] || set -- none aws c4 c5a m5 c6a
out=$build/run-targets
mkdir -p "$out"
grep -m1 "model name" /proc/cpuinfo | sed 's/.*: /cpu: /'

# The `run` options of a condition, one per line.
targets_of() {
	case $1 in
	none) ;;
	aws) echo "--catalog"; echo "aws" ;;
	*)
		local f n=0
		for f in "$profiles/$1".*.json; do
			[ -f "$f" ] || continue
			echo "--target"; echo "$f"; n=$((n + 1))
		done
		[ $n -gt 0 ] || { echo "run-targets.sh: no profiles $profiles/$1.*.json" >&2; return 2; }
		;;
	esac
}

for cond in "$@"; do
	mapfile -t targs < <(targets_of "$cond")
	dir=$out/$cond
	mkdir -p "$dir"
	printf '%s\n' "${targs[@]}" >"$dir/targets"
	if [ "$cond" = none ]; then
		unset LAUNCH
		: >"$dir/plan.txt"
	else
		"$bin" run "${targs[@]}" --dry-run -- true >"$dir/plan.txt"
		export LAUNCH="$bin run --quiet ${targs[*]} --"
	fi
	echo "== $cond"
	SCAN_ASSUME=${SCAN_ASSUME-glibc-contracts,tzcnt-as-bsf} WORKLOADS=${WORKLOADS:-"c_lazy c_now cxx python_numpy redis sqlite3 gzip zstd xz openssl"} \
		"$here/gain-scan.sh" "$dir" "$build" || true   # misses are reported by summarize.py
done
unset LAUNCH
python3 "$here/run/summarize.py" "$bin" "$out" "$@"
[ "${SKIP_TIMING:-}" = 1 ] || python3 "$here/run/slowdown.py" "$bin" "$out" "${REPS:-5}" "$@"
