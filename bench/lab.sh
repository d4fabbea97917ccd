#!/bin/bash
# bench/lab.sh [options] [BUILD] - the migration lab (`make lab`,
# docs/lab.md): checkpoint the corpus workloads with CRIU, restore each
# checkpoint inside QEMU system emulation (TCG) under a range of -cpu
# models with CRIU's CPU check off (--cpu-cap=none), drive it for a
# window, and compare what happened with `migratable check`'s verdict for
# that model.  One boot per model restores every workload.
#
#   --quick            two models (Nehalem Haswell), two workloads (c_lazy openssl)
#   --models "M..."    QEMU -cpu models (default: Nehalem Westmere SandyBridge
#                      IvyBridge Haswell Broadwell Skylake-Client EPYC EPYC-Rome)
#   --workloads "W..." default: c_lazy c_now cxx python_numpy redis sqlite3
#                      gzip zstd xz openssl
#   --window S         seconds each restored workload is driven (default 8)
#   --dump-on MODEL    dump inside a guest with -cpu MODEL (e.g. max) instead
#                      of on this host: both ends are then the emulated CPU
#   --out DIR          keep everything there (default BUILD/lab)
#   --jobs N           guests at once (default 2: one vCPU each, 2 cores)
#
# Verdicts: `scan --criu-dir` of each dump, then `check --requirements`
# against (a) the profile `migratable host --json` measured inside the
# guest (what TCG really offers for that model: the verdict the lab
# scores) and (b) libvirt's model of the same name (--catalog libvirt).
# Prints the per-pair table and the summary (bench/lab/report.py); exit
# status 1 when some pair is unsafe (called compatible, died of SIGILL or
# failed to restore for a CPU reason), 77 when the lab cannot run here.
# The root, kernel and initramfs are cached (bench/lab/setup.sh).
set -u
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
models="Nehalem Westmere SandyBridge IvyBridge Haswell Broadwell Skylake-Client EPYC EPYC-Rome"
workloads="c_lazy c_now cxx python_numpy redis sqlite3 gzip zstd xz openssl"
window=8 dump_on= out= build=build jobs=2
while [ $# -gt 0 ]; do
	case $1 in
	--quick) models="Nehalem Haswell"; workloads="c_lazy openssl"; shift ;;
	--models) models=$2; shift 2 ;;
	--workloads) workloads=$2; shift 2 ;;
	--window) window=$2; shift 2 ;;
	--dump-on) dump_on=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	--jobs) jobs=$2; shift 2 ;;
	-h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
	-*) echo "lab.sh: unknown option $1" >&2; exit 2 ;;
	*) build=$1; shift ;;
	esac
done
out=$(realpath -m "${out:-$build/lab}")
log() { echo "lab: $*" >&2; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
t_start=$(now)

lab=$(bench/lab/setup.sh | tail -n 1)
rc=${PIPESTATUS[0]}
[ "$rc" -eq 0 ] || exit "$rc"
make -s -j2 BUILD="$build" all workloads || exit 2
mig=$repo/$build/migratable

# The run directory, shared with every guest as /lab --------------------
rm -rf "$out"
mkdir -p "$out"/{bin/lib,scripts/criu,corpus,dumps,out} || exit 1
cc -static -O2 -Wall -Wextra -Werror -o "$out/bin/lab_reaper" bench/lab/lab_reaper.c || exit 2
# migratable with this host's libraries, run through their own ld.so.
cp "$mig" "$out/bin/migratable.real" || exit 1
for l in $(ldd "$mig" | awk '/=> \// { print $3 } /ld-linux/ && !/=>/ { print $1 }'); do
	cp -L "$l" "$out/bin/lib/" || exit 1
done
cat >"$out/bin/migratable" <<'SH'
#!/bin/sh
exec /lab/bin/lib/ld-linux-x86-64.so.2 --library-path /lab/bin/lib /lab/bin/migratable.real "$@"
SH
chmod +x "$out/bin/migratable"
cp bench/lab/{guest.sh,restore-one.sh,dump-all.sh,workload.sh} "$out/scripts/" &&
	cp tests/criu/{dump-workload.sh,in-root.sh} "$out/scripts/criu/" &&
	cp "$build"/workloads/corpus/corpus_{c_lazy,c_now,cxx,plugin.so} \
		tests/workloads/corpus/py_numpy.py "$out/corpus/" || exit 1

# boot NAME MODEL MODE: one guest, -cpu MODEL, its results in out/NAME.
# One vCPU each: with two, MTTCG on QEMU 7.2 runs stale code while the
# guest kernel patches its text (int3 Oops in __schedule, kernel panic,
# see docs/lab.md); the two host cores run two guests at once instead.
boot() {
	local name=$1 model=$2 mode=$3 t0
	mkdir -p "$out/configs" "$out/out/$name"
	cat >"$out/configs/$name" <<CFG
MODEL=$model
OUTNAME=$name
MODE=$mode
WORKLOADS="$workloads"
WINDOW=$window
CFG
	t0=$(now)
	timeout 1800 qemu-system-x86_64 -accel tcg -cpu "$model" -smp 1 -m 3072 \
		-nodefaults -nographic -no-reboot -serial stdio \
		-kernel "$lab/vmlinuz" -initrd "$lab/initrd.img" \
		-append "console=ttyS0 panic=-1 quiet print_fatal_signals=1 lab.name=$name" \
		-virtfs "local,path=$lab/root,mount_tag=root,security_model=passthrough,id=root" \
		-virtfs "local,path=$out,mount_tag=lab,security_model=passthrough,id=lab" \
		</dev/null >"$out/out/$name/console.log" 2>&1
	echo "host_wall_s=$(secs "$t0" "$(now)")" >>"$out/out/$name/guest.env"
	grep 'TCG doesn.t support' "$out/out/$name/console.log" | sort -u |
		sed 's/.*feature: //' >"$out/out/$name/tcg-missing.txt"
	if [ -f "$out/out/$name/done" ]; then
		log "-cpu $model ($name): $(secs "$t0" "$(now)") s"
	else
		log "guest $name did not finish (see $out/out/$name/console.log)"
	fi
}

# 1. The checkpoints -----------------------------------------------------
t0=$(now)
if [ -z "$dump_on" ]; then
	log "dumping on this host: $workloads"
	bench/lab/dump-all.sh "$lab/root" "$out/dumps" "$out/corpus" $workloads >&2
	echo "source=host" >"$out/source.env"
else
	log "dumping inside a guest with -cpu $dump_on: $workloads"
	boot "dump-$dump_on" "$dump_on" dump
	cat "$out/out/dump-$dump_on/dump-all.log" >&2
	echo "source=qemu -cpu $dump_on" >"$out/source.env"
fi
echo "dump_s=$(secs "$t0" "$(now)")" >>"$out/source.env"
# The verdicts that do not depend on the guest: the scan and libvirt.
for w in $workloads; do
	d=$out/dumps/$w
	[ -f "$d/lab.env" ] || continue
	"$mig" scan --criu-dir "$d/img" --root "$lab/root" --json >"$d/scan.json" 2>"$d/scan.err" ||
		{ log "scan of the $w dump failed: $(head -c 300 "$d/scan.err")"; rm -f "$d/scan.json"; continue; }
	"$mig" check --requirements "$d/scan.json" --catalog libvirt --json >"$d/libvirt.json" 2>/dev/null
done

# 2. One boot per model --------------------------------------------------
t0=$(now)
running=0
for m in $models; do
	if [ "$running" -ge "$jobs" ]; then
		wait -n
		running=$((running - 1))
	fi
	log "booting -cpu $m"
	boot "$m" "$m" restore &
	running=$((running + 1))
done
wait
echo "restore_s=$(secs "$t0" "$(now)")" >>"$out/source.env"
for m in $models; do
	for w in $workloads; do
		[ -f "$out/dumps/$w/scan.json" ] && [ -s "$out/out/$m/profile.json" ] || continue
		"$mig" check --requirements "$out/dumps/$w/scan.json" --target "$out/out/$m/profile.json" \
			--json >"$out/out/$m/$w.verdict.json" 2>/dev/null
	done
done
echo "total_s=$(secs "$t_start" "$(now)")" >>"$out/source.env"
{
	echo "host_cpu=$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
	echo "host_kernel=$(uname -r)"
	echo "guest_kernel=$(cat "$lab/kernel.version")"
	echo "qemu=$(qemu-system-x86_64 --version | head -n 1)"
	echo "criu=$(tests/criu/in-root.sh "$lab/root" criu --version 2>/dev/null | head -n 1)"
	echo "cores=$(nproc)"
	echo "lab_root=$lab/root"
} >>"$out/source.env"
python3 bench/lab/report.py "$out" --models "$models" --workloads "$workloads" --matrix \
	--json "$out/report.json" | tee "$out/report.md"
exit "${PIPESTATUS[0]}"
