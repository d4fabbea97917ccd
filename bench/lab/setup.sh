#!/usr/bin/env bash
# bench/lab/setup.sh [LABDIR] - build (once) and cache what the migration
# lab (bench/lab.sh) boots: a Debian 13 root with CRIU 4.1 and the Debian
# programs of the corpus, a Debian 13 kernel, and an initramfs that mounts
# the root over virtio-9p.  Prints LABDIR on the last line of stdout.
#
#   LABDIR/root/        copy of tests/criu/build-root.sh's root, plus
#                       python3-numpy redis-server redis-tools sqlite3 gzip
#                       zstd xz-utils openssl (the guest's / and the dumps'
#                       root: the same files at the same paths)
#   LABDIR/vmlinuz      the kernel of linux-image-$KVER-unsigned (trixie)
#   LABDIR/root/usr/lib/modules/KVER  that kernel's modules (depmod'ed)
#   LABDIR/modules/     the 9p modules of that kernel (netfs 9pnet
#                       9pnet_virtio 9p), uncompressed
#   LABDIR/initrd.img   busybox (static, from the host's busybox-static),
#                       the modules and bench/lab/initramfs-init as /init
#   LABDIR/kernel.version
#
# LABDIR defaults to ${XDG_CACHE_HOME:-$HOME/.cache}/migratable/lab.  Each
# part is rebuilt only when its stamp is missing or from another version.
# Needs root, Debian's archive, and the host packages qemu-system-x86,
# busybox-static and cpio (installed here with apt-get when missing).
# Exit status: 0 ready; 77 cannot be built here (callers skip); 1 failure.
set -u -o pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
lab=${1:-${XDG_CACHE_HOME:-$HOME/.cache}/migratable/lab}
root_version=2
kernel_pkg_re='^linux-image-6\.12\.[0-9]+\+deb13-amd64-unsigned$'
packages="python3-numpy redis-server redis-tools sqlite3 gzip zstd xz-utils openssl kmod"

skip() { echo "lab setup: $*" >&2; exit 77; }
die() { echo "lab setup: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || skip "needs root"
mkdir -p "$lab" || die "cannot create $lab"

missing=
for p in qemu-system-x86 busybox-static cpio; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "lab setup: installing$missing" >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing >&2 ||
		skip "apt-get install$missing failed"
fi

# The root ---------------------------------------------------------------
if [ "$(cat "$lab/root/.lab-root-complete" 2>/dev/null)" != "$root_version" ]; then
	base=$("$repo/tests/criu/build-root.sh" | tail -n 1)
	rc=${PIPESTATUS[0]}
	[ "$rc" -eq 0 ] || exit "$rc"
	rm -rf --one-file-system "$lab/root" "$lab/root.tmp"
	echo "lab setup: copying $base and installing $packages" >&2
	cp -a "$base" "$lab/root.tmp" || die "cannot copy $base"
	"$repo/tests/criu/in-root.sh" "$lab/root.tmp" sh -c "apt-get update -q &&
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $packages &&
		rm -f /var/cache/apt/archives/*.deb" >"$lab/root.log" 2>&1 ||
		{ tail -5 "$lab/root.log" >&2; die "installing packages in the root failed"; }
	echo "$root_version" >"$lab/root.tmp/.lab-root-complete"
	mv "$lab/root.tmp" "$lab/root" || exit 1
fi

# The kernel -------------------------------------------------------------
kver=$(cat "$lab/kernel.version" 2>/dev/null)
if [ -z "$kver" ] || [ ! -f "$lab/vmlinuz" ] || [ ! -f "$lab/modules/9p.ko" ] ||
	[ ! -f "$lab/root/usr/lib/modules/$kver/modules.dep" ]; then
	rm -rf "$lab/debs" "$lab/kernel" "$lab/modules" "$lab/kernel.version"
	mkdir -p "$lab/debs" "$lab/modules" || exit 1
	pkg=$("$repo/tests/criu/in-root.sh" "$lab/root" sh -c "apt-get update -q >/dev/null 2>&1;
		apt-cache search --names-only 'linux-image-6.12' | cut -d' ' -f1" |
		grep -E "$kernel_pkg_re" | sort -V | tail -n 1)
	[ -n "$pkg" ] || die "no $kernel_pkg_re in the trixie archive"
	echo "lab setup: downloading $pkg" >&2
	"$repo/tests/criu/in-root.sh" --bind "$lab/debs:/debs" "$lab/root" \
		sh -c "cd /debs && apt-get download -q $pkg" >"$lab/debs/log" 2>&1 ||
		{ tail -3 "$lab/debs/log" >&2; die "apt-get download $pkg failed"; }
	mkdir -p "$lab/kernel" && dpkg-deb -x "$lab/debs/${pkg}"_*.deb "$lab/kernel" ||
		die "cannot unpack $pkg"
	kver=$(ls "$lab/kernel/usr/lib/modules" | head -n 1)
	cp "$lab/kernel/boot/vmlinuz-$kver" "$lab/vmlinuz" || exit 1
	# The four modules 9p needs (netfs, 9pnet, 9pnet_virtio, 9p), uncompressed.
	mods=$lab/kernel/usr/lib/modules/$kver/kernel
	rm -rf "$lab/root/usr/lib/modules/$kver"
	mkdir -p "$lab/root/usr/lib/modules" &&
		cp -a "$lab/kernel/usr/lib/modules/$kver" "$lab/root/usr/lib/modules/" || exit 1
	# The guest loads the rest on demand (CRIU's probes need sock_diag,
	# nf_tables, tun, veth, ...): depmod inside the root.
	"$repo/tests/criu/in-root.sh" "$lab/root" depmod -a "$kver" || die "depmod failed"
	for m in fs/netfs/netfs net/9p/9pnet net/9p/9pnet_virtio fs/9p/9p; do
		xz -dc "$mods/$m.ko.xz" >"$lab/modules/$(basename "$m").ko" || die "module $m missing"
	done
	rm -rf "$lab/debs" "$lab/kernel"
	echo "$kver" >"$lab/kernel.version"
fi

# The initramfs: busybox, the modules, /init (rebuilt when /init changes).
init_sum=$(sha256sum <"$here/initramfs-init" | cut -c1-16)
if [ "$(cat "$lab/initrd.stamp" 2>/dev/null)" != "$init_sum" ] || [ ! -f "$lab/initrd.img" ]; then
	ird=$lab/initrd.tmp
	rm -rf "$ird"
	mkdir -p "$ird/bin" "$ird/lib" "$ird/proc" "$ird/sys" "$ird/dev" "$ird/newroot" || exit 1
	cp /bin/busybox "$ird/bin/busybox" || die "no /bin/busybox (busybox-static)"
	cp "$lab"/modules/*.ko "$ird/lib/" || exit 1
	cp "$here/initramfs-init" "$ird/init" && chmod 755 "$ird/init" || exit 1
	(cd "$ird" && find . | cpio -o -H newc --quiet | gzip -1) >"$lab/initrd.img" || die "cpio failed"
	rm -rf "$ird"
	echo "$init_sum" >"$lab/initrd.stamp"
fi
echo "$lab"
