#!/usr/bin/env bash
# Install what migratable needs to build and test on Debian 12.
# Idempotent: apt is only called when a package is missing.
set -euo pipefail

packages=(
	build-essential pkg-config clang libclang-rt-14-dev
	libzydis-dev libelf-dev libdw-dev libjson-c-dev libglib2.0-dev
	libprotobuf-c-dev protobuf-c-compiler libxml2-dev
	libarchive-dev    # container checkpoint archives (scan/check --checkpoint)
	libcmocka-dev
	# real programs the tests and benchmarks scan
	python3 python3-numpy redis-server redis-tools sqlite3 zstd xz-utils gzip openssl
	binutils libvirt0
	# ld.so's and libc's symbols, for the dispatch state the scan reads
	libc6-dbg
	# the study-like workloads of make recall (tests/workloads/study): libcrypto, OpenBLAS
	libssl-dev libopenblas-pthread-dev
	# CRIU test harness (a Debian 13 root is built with debootstrap)
	debootstrap
	# check --format html is rendered in headless Chromium (test_html)
	chromium
)
# JIT engines the tests scan (test_jit): a command, and the package that
# provides it when it is missing (a machine may have them from elsewhere).
commands=(
	javac:openjdk-17-jdk-headless
	node:nodejs
)

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing+=("$p")
done
for c in "${commands[@]}"; do
	command -v "${c%%:*}" >/dev/null 2>&1 || missing+=("${c#*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
	SUDO=
	[ "$(id -u)" -eq 0 ] || SUDO=sudo
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
