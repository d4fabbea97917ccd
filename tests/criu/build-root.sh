#!/usr/bin/env bash
# build-root.sh - build (once) a minimal Debian 13 "trixie" root with CRIU 4.x.
#
#   tests/criu/build-root.sh [DIR]
#
# Debian 12's criu (3.17) cannot dump on kernels >= 6.13 (new vDSO/vvar
# layout); trixie's criu 4.1 can, so the CRIU tests run criu inside this
# root (see in-root.sh).  DIR defaults to
# ${XDG_CACHE_HOME:-$HOME/.cache}/migratable/criu-trixie-root-v$version and
# is reused when its stamp file says a previous build completed.  Prints
# DIR on the last line of stdout.
#
# Besides criu, the root has what the CRIU plugin (src/criu-plugin/) needs:
# libcriu-dev for its interface header (criu-plugin.h of this criu; the
# plugin build uses only /usr/include/criu from it), and the runtime
# libraries libmigratable links (trixie's names: libelf1t64, libdw1t64,
# libjson-c5, libglib2.0-0t64, libprotobuf-c1, libxml2).  Zydis is not
# among them: trixie's has another soname (libZydis.so.4.1), so the tests
# copy the host's next to the plugin.
#
# Exit status: 0 the root is ready; 77 it cannot be built here (not root,
# no debootstrap and no way to install it, archive unreachable): callers
# skip; anything else is a real failure.
#
# Only Debian's archive is used.  The trixie signing keys come with
# bookworm's debian-archive-keyring (>= 2023.3+deb12u1); when they are
# missing we fail with 77 rather than silently dropping signature checks,
# unless MIGRATABLE_CRIU_NO_CHECK_GPG=1 is set (last resort, documented in
# docs/criu.md).
set -u
version=2        # bump when the package list changes (it names the directory)
packages=criu,iproute2,procps,libcriu-dev,libelf1t64,libdw1t64,libjson-c5,libglib2.0-0t64,libprotobuf-c1,libxml2
# A new version gets a new directory: worktrees of older versions keep
# theirs instead of rebuilding one directory back and forth.
root=${1:-${XDG_CACHE_HOME:-$HOME/.cache}/migratable/criu-trixie-root-v$version}
mirror=${MIGRATABLE_DEBIAN_MIRROR:-http://deb.debian.org/debian}
stamp=$root/.migratable-root-complete

skip() { echo "build-root: cannot build the CRIU root: $*" >&2; exit 77; }

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$version" ] && [ -x "$root/usr/sbin/criu" ]; then
	echo "$root"
	exit 0
fi

[ "$(id -u)" = 0 ] || skip "needs root (debootstrap, namespaces)"

if ! command -v debootstrap >/dev/null 2>&1; then
	command -v apt-get >/dev/null 2>&1 || skip "no debootstrap and no apt-get"
	echo "build-root: installing debootstrap" >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >&2 ||
		skip "apt-get install debootstrap failed"
fi

keyring=/usr/share/keyrings/debian-archive-trixie-stable.gpg
gpg_opt=()
if [ -f "$keyring" ]; then
	gpg_opt=(--keyring=/usr/share/keyrings/debian-archive-keyring.gpg)
elif [ "${MIGRATABLE_CRIU_NO_CHECK_GPG:-0}" = 1 ]; then
	echo "build-root: WARNING: no trixie keyring, --no-check-gpg as requested" >&2
	gpg_opt=(--no-check-gpg)
else
	skip "no trixie signing key (update debian-archive-keyring, or set MIGRATABLE_CRIU_NO_CHECK_GPG=1)"
fi

# A partial root from an interrupted run is not trusted: start over.
if [ -e "$root" ]; then
	echo "build-root: removing incomplete root $root" >&2
	rm -rf --one-file-system "$root" || exit 1
fi
mkdir -p "$(dirname "$root")" || exit 1
tmp=$root.tmp.$$
rm -rf --one-file-system "$tmp"
trap 'rm -rf --one-file-system "$tmp"' EXIT

echo "build-root: debootstrap trixie into $root (1-2 minutes)" >&2
start=$(date +%s)
if ! debootstrap --variant=minbase "${gpg_opt[@]}" \
	--include="$packages" \
	trixie "$tmp" "$mirror" >"$tmp.log" 2>&1; then
	tail -5 "$tmp.log" >&2
	if grep -qiE 'Failed getting release file|Temporary failure|Could not resolve|Connection refused|unable to fetch' "$tmp.log"; then
		rm -f "$tmp.log"
		skip "Debian archive $mirror unreachable"
	fi
	echo "build-root: debootstrap failed (log above)" >&2
	rm -f "$tmp.log"
	exit 1
fi
rm -f "$tmp.log"
[ -x "$tmp/usr/sbin/criu" ] || { echo "build-root: criu missing from the new root" >&2; exit 1; }
# Keep the image small: no cached .debs.
rm -f "$tmp"/var/cache/apt/archives/*.deb
echo "$version" >"$tmp/.migratable-root-complete"
mv "$tmp" "$root" || exit 1
trap - EXIT
echo "build-root: done in $(( $(date +%s) - start )) s" >&2
echo "$root"
