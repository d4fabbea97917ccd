#!/usr/bin/env bash
# bench/gain-source.sh [SOURCE_TYPE...] - the gain of bench/gain.sh for
# other source CPUs than this machine, emulated (docs/gain.md).
#
# For each AWS instance type of the catalog (default: m6a.large c5a.large
# m5.large r4.large c4.8xlarge: Zen 3, Zen 2, Skylake-SP, Broadwell,
# Haswell), the corpus is started with
# the dispatch switches of bench/gain/emulate_source.py, so that glibc,
# OpenSSL and numpy choose the code paths they would choose there, then
# scanned and observed (bench/gain-scan.sh into BUILD/gain-source/TYPE).
# Requirements are intersected with the type's features, the CRIU-like
# baseline uses the type's profile as its source, and a workload the
# oracle saw executing a feature the type lacks is reported as not
# emulated (bench/gain/summarize_source.py).  $BUILD (default build).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
cd "$root"
build=${BUILD:-build}
bin=$build/migratable
catalog=$root/../shared/data/catalogs/aws-us-west-2
tsv=$root/../shared/data/cpuid-reference.tsv
[ -x "$bin" ] || { echo "gain-source.sh: $bin not built (run make)" >&2; exit 2; }
[ -d "$catalog" ] && [ -f "$tsv" ] || { echo "gain-source.sh: needs ../shared/data" >&2; exit 2; }
[ $# -gt 0 ] || set -- m6a.large c5a.large m5.large r4.large c4.8xlarge
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$bin" host --json >"$tmp/host.json"

for type in "$@"; do
	src=$catalog/$type.json
	[ -f "$src" ] || { echo "gain-source.sh: no profile $src" >&2; exit 2; }
	out=$build/gain-source/$type
	rc=0
	"$bin" check --policy criu-like --source "$src" --target "$catalog" --format json \
		>"$tmp/criu-like.json" || rc=$?
	[ "$rc" -le 1 ] || exit 2
	echo "== $type"
	(
		eval "$(python3 "$here/gain/emulate_source.py" "$src" "$tmp/host.json" "$tsv" "$catalog")"
		echo "GLIBC_TUNABLES=$GLIBC_TUNABLES OPENSSL_ia32cap=$OPENSSL_ia32cap" \
			"NPY_DISABLE_CPU_FEATURES=\"$NPY_DISABLE_CPU_FEATURES\""
		"$here/gain-scan.sh" "$out" "$build" || true   # misses are reported below
	)
	python3 "$here/gain/summarize_source.py" "$bin" "$src" "$catalog" "$tmp/criu-like.json" "$out"
	echo
done
