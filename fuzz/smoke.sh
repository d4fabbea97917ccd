#!/usr/bin/env bash
# fuzz/smoke.sh [SECONDS] [BUILD] - run every libFuzzer target built by
# `make fuzz` (BUILD/fuzz/fuzz_*, default build-fuzz) for SECONDS each
# (default 10), starting from the project's own test inputs where they
# fit, in a fresh corpus directory.  A crash, leak, timeout or abort() of
# a target's own check fails the run; its input is kept in
# BUILD/fuzz-artifacts/.  CI runs it (.ci/run); `make fuzz` plus a longer
# SECONDS is the way to fuzz for real.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
build=${2:-build-fuzz}
art=$build/fuzz-artifacts
mkdir -p "$art"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

seeds() {   # seeds TARGET DIR: copy fitting test inputs into DIR
	case $1 in
	fuzz_profile)      cp tests/data/cpuid/*.json tests/data/verdict/criu/*.json "$2" ;;
	fuzz_requirements) cp tests/data/verdict/req-*.json "$2" ;;
	fuzz_nfd)          cp tests/data/verdict/kubectl-nodes.json "$2" ;;
	fuzz_libvirt)      cp tests/data/verdict/libvirt-map/index.xml "$2/" 2>/dev/null || true ;;
	fuzz_catalog)      cp tests/data/catalogs/*.json catalogs/*.json "$2" ;;
	fuzz_prices)       cp tests/data/verdict/spot-prices.json tests/data/verdict/bad/spot-*.json "$2" ;;
	fuzz_archive)      archive_seed "$2" ;;
	*) ;;
	esac
}

# A checkpoint archive in the documented layout: checkpoint/ with an
# inventory and a pstree image (magic words, one length-prefixed message),
# the JSON dumps, a rootfs-diff.tar holding one file, deleted.files.
archive_seed() {
	local d=$tmp/archive-seed
	mkdir -p "$d/checkpoint" "$d/diff/etc"
	printf '\x16\x31\x31\x58\x02\x00\x00\x00\x08\x02' >"$d/checkpoint/inventory.img"
	printf '\x19\x43\x56\x54\x30\x30\x27\x50\x06\x00\x00\x00\x08\x01\x10\x00\x28\x01' \
		>"$d/checkpoint/pstree.img"
	echo '{}' >"$d/config.dump"
	echo '{}' >"$d/spec.dump"
	echo '["/etc/motd"]' >"$d/deleted.files"
	echo host >"$d/diff/etc/hostname"
	tar -C "$d/diff" -cf "$d/rootfs-diff.tar" etc
	tar -C "$d" -cf "$1/seed.tar" checkpoint config.dump spec.dump deleted.files rootfs-diff.tar
	tar -C "$d" -czf "$1/seed.tar.gz" checkpoint rootfs-diff.tar
}

status=0
for t in "$build"/fuzz/fuzz_*; do
	[ -x "$t" ] || continue
	name=$(basename "$t")
	corpus=$tmp/$name
	mkdir -p "$corpus"
	seeds "$name" "$corpus"
	if "$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
		-artifact_prefix="$art/$name-" "$corpus" >"$tmp/$name.log" 2>&1; then
		echo "fuzz: $name: $(grep -o 'Done [0-9]* runs' "$tmp/$name.log" || echo done) in $secs s, no finding"
	else
		echo "fuzz: $name: FINDING (input in $art):"
		tail -n 30 "$tmp/$name.log"
		status=1
	fi
done
exit $status
