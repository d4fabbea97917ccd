#!/usr/bin/env bash
# scripts/make-aws-catalog.sh [DATA] [BIN] [OUT] - make the installed AWS
# catalog, catalogs/aws-us-west-2.json, from the reference data
# (DATA, default ../shared/data; read DATA/../README.md):
#   DATA/catalogs/aws-us-west-2/*.json   383 minimal profiles (name, features, unknown)
#   DATA/lmd-aws-us-west-2/              the raw dataset they were derived from
# with `migratable catalog build` (BIN, default build/migratable), so the
# shipped file is exactly what that command makes of the 383 profiles
# (tests/integration/test_catalog_cli.c rebuilds it and compares).  Run it
# once when the data changes and commit the result; the product never
# reads DATA.
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:-../shared/data}
bin=${2:-build/migratable}
out=${3:-catalogs/aws-us-west-2.json}
profiles=$data/catalogs/aws-us-west-2
lmd=$data/lmd-aws-us-west-2

# The profiles must be the dataset's instance types, no more, no fewer.
types() { for f in "$@"; do f=${f##*/}; echo "${f%.*}"; done | sort; }
if ! diff <(types "$profiles"/*.json) <(types "$lmd"/isa-sets/*.csv) >/dev/null; then
	echo "make-aws-catalog.sh: $profiles and $lmd/isa-sets list different instance types" >&2
	exit 1
fi
n=$(types "$profiles"/*.json | wc -l)
# The study's own grouping (by XED ISA set, finer than feature flags).
study_groups=$(sed -n 's/.*"total_groups": *\([0-9]*\).*/\1/p' "$lmd/groups.json" | head -n 1)
[ -n "$study_groups" ] || { echo "make-aws-catalog.sh: no total_groups in $lmd/groups.json" >&2; exit 1; }

"$bin" catalog build "$profiles" -o "$out" --name aws-us-west-2 --alias aws \
	--date 2023-07 \
	--description "AWS EC2 x86-64 instance types, region us-west-2 ($n types): CPU features per type" \
	--provenance "LiveMigrate-Detector study (ddps-lab), public dataset: XED ISA-set support per instance type, AWS us-west-2, instance list of 2023-07, CPUID collected on each type. Converted to Linux flag names, dropping values its collector read from CPUID leaves above the CPU's maximum (AMX on pre-AMX CPUs); 'unknown' lists what the data cannot decide; a flag in neither list is absent. The study grouped the $n types into $study_groups groups by ISA set. An instance type can land on more than one CPU generation: each profile is one sample of it." \
	>/dev/null
echo "make-aws-catalog.sh: wrote $out ($n instance types)"
