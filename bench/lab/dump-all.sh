#!/bin/bash
# dump-all.sh ROOT DUMPS CORPUS WORKLOAD... - start each lab workload in
# the CRIU root ROOT (tests/criu/dump-workload.sh, the program started by
# bench/lab/workload.sh), bring it to its steady state and dump it into
# DUMPS/W/ (img/, run/, result) without restoring; DUMPS/W/lab.env gets
# NSPID= (the PID CRIU recorded), PORT= and FIFO= (the FIFO it reads, if any).  CORPUS holds corpus_c_lazy,
# corpus_c_now, corpus_cxx, corpus_plugin.so and py_numpy.py.
# Runs on the host (ROOT = the lab root) and inside a lab guest (ROOT = /,
# bench/lab.sh --dump-on MODEL).  Prints "dumped W" or "dump-failed W" per
# workload; exit 1 if any dump failed.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$1 dumps=$2 corpus=$3
shift 3
harness=${HARNESS:-$here/../../tests/criu}
bad=0
for w in "$@"; do
	out=$dumps/$w
	rm -rf "$out"
	mkdir -p "$out/run" || exit 1
	port=$((20000 + RANDOM % 20000))
	opts=(--root "$root" --no-restore)
	case $w in
	c_lazy|c_now|cxx) opts+=(--lib "$corpus/corpus_$w" --lib "$corpus/corpus_plugin.so") ;;
	python_numpy) opts+=(--lib "$corpus/py_numpy.py" --ready-timeout 120) ;;
	redis) opts+=(--ready-pattern 'Ready to accept' --ready-timeout 60) ;;
	sqlite3)
		# The table the driving inserts into, created before the dump.
		opts+=(--before-dump "echo \"create table t(a integer, b text); select 'dumped';\" >'$out/run/in.fifo'; sleep 0.5") ;;
	gzip|zstd|xz)
		# Mid-stream: the first 4 MB of real bytes, compressed, then dump.
		opts+=(--before-dump "cat /usr/bin/[a-c]* 2>/dev/null | head -c 4000000 >'$out/run/in.fifo'; sleep 0.5") ;;
	openssl) opts+=(--before-dump "sleep 1.5") ;;  # mid-benchmark
	esac
	if "$harness/dump-workload.sh" "${opts[@]}" "$here/workload.sh" "$out" -- "$w" "$port" \
		>"$out/dump.out" 2>"$out/dump.err"; then
		echo "NSPID=$(sed -n 's/^nspid=//p' "$out/dump.out")" >"$out/lab.env"
		echo "PORT=$port" >>"$out/lab.env"
		[ -p "$out/run/in.fifo" ] && echo "FIFO=/dump/run/in.fifo" >>"$out/lab.env"
		echo "dumped $w"
	else
		echo "dump-failed $w: $(tail -n 1 "$out/dump.err")"
		bad=1
	fi
done
exit $bad
