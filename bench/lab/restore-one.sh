#!/bin/bash
# restore-one.sh W OUT - inside a lab guest, in a fresh PID and mount
# namespace whose init is lab_reaper: restore the dump of workload W
# (/lab/dumps/W, copied to a tmpfs at /dump: the same paths as at dump
# time, and files the process writes start as they were dumped) with
# CRIU's CPU check off, drive it for $WINDOW seconds as
# tests/workloads/corpus/drive.sh does, and write OUT/W.result:
#   restore_rc=  restore_ms=  restore_error= (first Error line of the log)
#   alive=yes|no (at the end of the window)  pid=  window_s=
# How a process that died ended is in OUT/W.reaper (lab_reaper); the end
# of its output (wl.out) is kept as OUT/W.wl.out.
set -u
w=$1 out=$2
name=$(sed -n 's/.*lab\.name=\([^ ]*\).*/\1/p' /proc/cmdline)
. "/lab/configs/$name"                # WINDOW
res=$out/$w.result
now_ms() { date +%s%3N; }
mount --make-rprivate /
mount -t proc proc /proc
mount -t tmpfs tmpfs /dump
cp -a "/lab/dumps/$w/img" "/lab/dumps/$w/run" /dump/ || { echo "restore_rc=copy-failed" >"$res"; exit 1; }
. "/lab/dumps/$w/lab.env"          # NSPID, PORT, FIFO
# A dump made in a guest lost its FIFO on the way through 9p.
if [ -n "${FIFO:-}" ] && [ ! -p "$FIFO" ]; then mkfifo "$FIFO" || exit 1; fi
# CRIU restores the dumped PID: keep ours out of its way.
echo 1000 >/proc/sys/kernel/ns_last_pid
t0=$(now_ms)
criu restore -D /dump/img --shell-job -d --cpu-cap=none -v4 -o "$out/$w.restore.log"
rc=$?
t1=$(now_ms)
{
	echo "pid=$NSPID"
	echo "restore_rc=$rc"
	echo "restore_ms=$((t1 - t0))"
	echo "restore_error=$(grep -m1 'Error' "$out/$w.restore.log" | tr -d '\n' | cut -c1-300)"
} >"$res"
[ "$rc" = 0 ] || exit 0

alive() { [ -d "/proc/$NSPID" ] && ! grep -q '^State:.*Z' "/proc/$NSPID/status" 2>/dev/null; }
feed() { timeout 3 sh -c "$1 >/dump/run/in.fifo" 2>/dev/null; }
end=$(( $(date +%s) + WINDOW ))
activity() {
	case $w in
	c_lazy|c_now|cxx|python_numpy) kill -USR1 "$NSPID" ;;
	redis)
		while [ "$(date +%s)" -lt "$end" ] && alive; do
			timeout 20 redis-benchmark -h 127.0.0.1 -p "$PORT" -n 500 -c 2 -q \
				-t set,get,incr,lpush,lpop,sadd,hset,zadd,lrange_100 >/dev/null 2>&1 || break
		done ;;
	sqlite3)
		while [ "$(date +%s)" -lt "$end" ] && alive; do
			feed "echo \"insert into t select value, hex(randomblob(16)) from generate_series(1,200);
select b, count(*), sum(a), avg(length(b)) from t group by substr(b,1,2) order by 2 desc limit 3;
create index if not exists ti on t(b); select count(*) from t where b like 'A%';
select json_object('n', count(*)) from t;\"" || break
			sleep 0.1
		done ;;
	gzip|zstd|xz)
		while [ "$(date +%s)" -lt "$end" ] && alive; do
			feed "cat /usr/bin/[a-c]*" || break
		done ;;
	openssl) ;;                 # it runs its own benchmark loop
	esac
}
activity &
while [ "$(date +%s)" -lt "$end" ] && alive; do sleep 0.2; done
if alive; then a=yes; else a=no; fi
echo "alive=$a" >>"$res"
echo "window_s=$WINDOW" >>"$res"
kill "$!" 2>/dev/null
# What it printed after the restore (a crash handler's report, if any).
tail -c 20000 /dump/run/wl.out >"$out/$w.wl.out" 2>/dev/null
# Give the reaper a moment to log a death that just happened.
sleep 0.3
