#!/usr/bin/env bash
# bench/recall.sh [SOURCE] [--also all|none|"TYPE ..."] - recall of
# `migratable check` against the LiveMigrate-Detector study's real CRIU
# migrations between AWS instance types (docs/recall.md).
#
# The ten study-like workloads (tests/workloads/study, `make
# study-workloads`) are started here, LD_BIND_NOW=1, dispatching as on
# SOURCE (default c6a.large): natively when this CPU has exactly the
# features that matter, else with the switches of bench/recall/study.py
# (glibc, OpenSSL, OpenBLAS, the workloads' own CPUID checks); the oracle
# (`migratable observe --check`) verifies what they really executed.
# Each is checked with `check PID --source SOURCE --target <the study's
# destinations>` and compared with the study's outcomes: migrated-ok
# count, ours, recall, unsafe verdicts, CRIU's recall, criu-like's.
# --also (default all): the other study sources too, one summary line
# each; every table in BUILD/recall/recall.md.
# $BUILD (default build), $SECONDS_PER (oracle window, default 2), $CATALOG
# (a directory of profiles instead of the aws-us-west-2 one, e.g. with
# one profile changed to test a hypothesis).
# Needs ../shared/data (catalog profiles, the study's outcomes).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
cd "$root"
build=${BUILD:-build}
source=c6a.large
also=all
while [ $# -gt 0 ]; do
	case $1 in
	--also) also=${2:?--also needs a value}; shift 2 ;;
	-*) echo "recall.sh: unknown option $1" >&2; exit 2 ;;
	*) source=$1; shift ;;
	esac
done
bin=$root/$build/migratable
catalog=${CATALOG:-$root/../shared/data/catalogs/aws-us-west-2}
lmd=$root/../shared/data/lmd-aws-us-west-2
tsv=$root/../shared/data/cpuid-reference.tsv
[ -x "$bin" ] || { echo "recall.sh: $bin not built (run make)" >&2; exit 2; }
[ -d "$catalog" ] && [ -d "$lmd/migration-outcomes" ] && [ -f "$tsv" ] ||
	{ echo "recall.sh: needs ../shared/data (catalogs, lmd-aws-us-west-2)" >&2; exit 2; }
for c in redis-server redis-benchmark redis-cli /usr/bin/python3; do
	command -v "$c" >/dev/null || { echo "recall.sh: $c not installed (scripts/install-deps.sh)" >&2; exit 2; }
done
for f in study_pku study_rdseed study_sha study_rsa study_dgemm \
	libstudy_pku.so libstudy_rdseed.so libstudy_rsa.so; do
	[ -e "$build/workloads/study/$f" ] ||
		{ echo "recall.sh: $build/workloads/study/$f missing (make study-workloads)" >&2; exit 2; }
done
python3 -B "$here/recall/study.py" >&2
out=$build/recall
mkdir -p "$out"
"$bin" host --json >"$out/host.json"
echo "recall.sh: this host: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)" >&2
exec python3 -B "$here/recall/run.py" --bin "$bin" --root "$root" --build "$build" \
	--catalog "$catalog" --lmd "$lmd" --tsv "$tsv" --host "$out/host.json" --out "$out" \
	--seconds "${SECONDS_PER:-2}" --also "$also" "$source"
