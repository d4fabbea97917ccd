#!/usr/bin/env bash
# in-root.sh - run a command inside a Debian root, in new mount and PID
# namespaces, the root entered with pivot_root (not chroot: CRIU wants a
# real root mount and its own /proc).
#
#   tests/criu/in-root.sh [--bind HOSTDIR:INSIDE]... ROOT CMD [ARG...]
#
# Inside: ROOT is /, with a fresh /proc (of the new PID namespace), /sys,
# a tmpfs /dev with null zero full random urandom tty, a private devpts
# (/dev/ptmx -> pts/ptmx) and /dev/shm; each --bind mounts HOSTDIR at
# INSIDE.  CMD runs as PID 1 of the new PID namespace: when it exits (or
# is killed from outside) every process inside dies with it.  Nothing is
# mounted in the caller's namespace.
set -u
binds=()
while [ $# -gt 0 ]; do
	case $1 in
	--bind) binds+=("$2"); shift 2 ;;
	--) shift; break ;;
	*) break ;;
	esac
done
if [ $# -lt 2 ]; then
	echo "usage: $0 [--bind HOSTDIR:INSIDE]... ROOT CMD [ARG...]" >&2
	exit 2
fi
root=$(realpath "$1") || exit 1
shift
[ -d "$root/proc" ] && [ -d "$root/usr" ] || { echo "in-root: $root is not a root file system" >&2; exit 1; }

stage2='
set -eu
root=$1 nbinds=$2
shift 2
binds=("${@:1:$nbinds}")
shift "$nbinds"
cmd=("$@")
mount --bind "$root" "$root"
mount -t proc -o nosuid,nodev,noexec proc "$root/proc"
mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$root/sys" 2>/dev/null ||
	echo "in-root: warning: cannot mount sysfs" >&2
mount -t tmpfs -o mode=755,nosuid tmpfs "$root/dev"
for n in "null 1 3" "zero 1 5" "full 1 7" "random 1 8" "urandom 1 9" "tty 5 0"; do
	read -r name major minor <<<"$n"
	mknod -m 666 "$root/dev/$name" c "$major" "$minor"
done
mkdir "$root/dev/pts" "$root/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=620 devpts "$root/dev/pts"
ln -s pts/ptmx "$root/dev/ptmx"
mount -t tmpfs -o nosuid,nodev tmpfs "$root/dev/shm"
ln -s /proc/self/fd "$root/dev/fd"
ln -s /proc/self/fd/0 "$root/dev/stdin"
ln -s /proc/self/fd/1 "$root/dev/stdout"
ln -s /proc/self/fd/2 "$root/dev/stderr"
for b in ${binds[@]+"${binds[@]}"}; do
	host=${b%%:*} inside=${b#*:}
	mkdir -p "$root$inside"
	mount --bind "$host" "$root$inside"
done
mkdir -p "$root/.oldroot"
cd "$root"
pivot_root . .oldroot
cd /
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
/usr/bin/umount -l /.oldroot
exec "${cmd[@]}"
'
exec unshare --mount --pid --fork --propagation private -- \
	bash -c "$stage2" in-root "$root" "${#binds[@]}" ${binds[@]+"${binds[@]}"} "$@"
