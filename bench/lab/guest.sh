#!/bin/bash
# guest.sh - PID 1 of a lab guest (bench/lab.sh), in the lab root mounted
# over 9p, with the run directory at /lab.  Reads /lab/configs/NAME (NAME:
# lab.name= of the kernel command line; MODEL, WORKLOADS, WINDOW, MODE,
# OUTNAME), writes /lab/out/$OUTNAME/: profile.json (`migratable
# host --json`: the CPU this QEMU model really offers), and per workload
# W.result, W.reaper, W.restore.log (restore-one.sh), dmesg.txt, then
# powers the guest off.  MODE=dump dumps the workloads into /lab/dumps
# (bench/lab/dump-all.sh) instead of restoring them.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mkdir -p /dev/pts /dev/shm
mount -t devpts -o newinstance,ptmxmode=0666,mode=620 devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
ip link set lo up
ulimit -c 0
echo 1 >/proc/sys/kernel/sysrq
now_ms() { date +%s%3N; }
# Which guest this is: lab.name= on the kernel command line (bench/lab.sh).
name=$(sed -n 's/.*lab\.name=\([^ ]*\).*/\1/p' /proc/cmdline)
. "/lab/configs/$name"
out=/lab/out/${OUTNAME:-$MODEL}
mkdir -p "$out"
{
	echo "kernel=$(uname -r)"
	echo "boot_s=$(cut -d' ' -f1 /proc/uptime)"
	echo "cpu=$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
	echo "flags=$(grep -m1 '^flags' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
} >"$out/guest.env"
/lab/bin/migratable host --json --name "$MODEL" >"$out/profile.json" 2>"$out/profile.err"
if [ "${MODE:-restore}" = dump ]; then
	# The source end in a guest too (bench/lab.sh --dump-on MODEL).
	# in-root.sh pivots into the root: that needs a mount other than the
	# one switch_root left over the initramfs (pivot_root: EBUSY).
	mkdir -p /mnt/labroot && mount --bind / /mnt/labroot
	# 9p cannot hold FIFOs (mkfifo: ENXIO): dump into a tmpfs, then copy
	# (the FIFOs are left behind; restore-one.sh makes them anew).
	mkdir -p /mnt/dumps && mount -t tmpfs tmpfs /mnt/dumps
	HARNESS=/lab/scripts/criu /lab/scripts/dump-all.sh /mnt/labroot /mnt/dumps /lab/corpus $WORKLOADS \
		>"$out/dump-all.log" 2>&1
	cp -a /mnt/dumps/. /lab/dumps/ 2>>"$out/dump-copy.err"
	WORKLOADS=
fi
for w in $WORKLOADS; do
	t0=$(now_ms)
	unshare --pid --fork --mount --propagation private \
		/lab/bin/lab_reaper "$out/$w.reaper" bash /lab/scripts/restore-one.sh "$w" "$out" \
		>"$out/$w.log" 2>&1
	echo "wall_ms=$(( $(now_ms) - t0 ))" >>"$out/$w.result"
done
dmesg >"$out/dmesg.txt"
echo "guest_s=$(cut -d' ' -f1 /proc/uptime)" >>"$out/guest.env"
touch "$out/done"
sync
echo o >/proc/sysrq-trigger
sleep 10
