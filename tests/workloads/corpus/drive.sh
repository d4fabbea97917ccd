#!/bin/bash
# drive.sh WORKLOAD OUT.json [SECONDS] - run one soundness workload:
#   start it, wait for its ready signal, run
#   `migratable observe PID --check --json --seconds S` (scan reachable and
#   full on one snapshot, then the int3 oracle), start the workload's
#   activity when the oracle's window opens, stop everything, keep the JSON.
# Workloads: c_lazy c_now cxx (built by build.sh into $CORPUS, default
# build/workloads/corpus), python_numpy redis sqlite3 gzip zstd xz openssl,
# wl_demo ($WORKLOADS_DIR, default build/workloads: `make workloads`).
# Needs $MIGRATABLE (default build/migratable).  With $SCAN_OUT set, also
# save `migratable scan PID --json` of the started workload, before the
# oracle, as $SCAN_OUT.reachable.json and (--method full)
# $SCAN_OUT.full.json (bench/gain-scan.sh), and with $SCAN_ASSUME also
# `--assume $SCAN_ASSUME` as $SCAN_OUT.assumed.json (and, with tzcnt-as-bsf
# in it, the oracle also counts as that scan does).  Exit: observe's status
# (0 sound, 1 misses), 77 if the workload's program is not installed,
# 4 if a $SCAN_OUT scan failed.  $LAUNCH (unset: none) is a command prefix
# the workload's program is started with, e.g. "migratable run --quiet
# --catalog aws --" (bench/run-targets.sh); the PID is still the program's.
set -u
launch=(${LAUNCH:-})
here=$(cd "$(dirname "$0")" && pwd)
name=${1:?usage: drive.sh WORKLOAD OUT.json [SECONDS]}
out=${2:?usage: drive.sh WORKLOAD OUT.json [SECONDS]}
secs=${3:-2}
mig=${MIGRATABLE:-build/migratable}
corpus=${CORPUS:-build/workloads/corpus}
wldir=${WORKLOADS_DIR:-build/workloads}
tmp=$(mktemp -d)
pid="" helper="" wpid=""
cleanup() {
	[ -n "$helper" ] && kill "$helper" 2>/dev/null
	[ -n "$wpid" ] && kill "$wpid" 2>/dev/null
	[ -n "$pid" ] && kill "$pid" 2>/dev/null
	sleep 0.1
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

need() { command -v "$1" >/dev/null 2>&1 || { echo "drive.sh: $1 not installed" >&2; exit 77; }; }
wait_for() {  # wait_for FILE PATTERN [tries]
	for _ in $(seq "${3:-100}"); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done
	return 1
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Start the workload; set $pid; define activity() (runs in the background
# during the window) -------------------------------------------------------
activity() { :; }
case $name in
c_lazy|c_now|cxx)
	prog=$corpus/corpus_$name
	[ -x "$prog" ] || { echo "drive.sh: $prog missing (run build.sh)" >&2; exit 2; }
	PLUGIN=$corpus/corpus_plugin.so "${launch[@]}" "$prog" >"$tmp/w.out" 2>&1 &
	pid=$!
	wait_for "$tmp/w.out" ready || exit 2
	activity() { kill -USR1 "$pid"; }
	;;
wl_demo)
	prog=$wldir/wl_demo
	[ -x "$prog" ] || { echo "drive.sh: $prog missing (make workloads)" >&2; exit 2; }
	"${launch[@]}" "$prog" >"$tmp/w.out" 2>&1 &
	pid=$!
	wait_for "$tmp/w.out" ready || exit 2
	# It works on its own; hangups run its signal handler too.
	activity() { for _ in 1 2 3; do kill -HUP "$pid"; sleep 0.2; done; }
	;;
python_numpy)
	[ -x /usr/bin/python3 ] || { echo "drive.sh: Debian python3 not installed" >&2; exit 77; }
	/usr/bin/python3 -c "import numpy" 2>/dev/null || { echo "drive.sh: python3-numpy not installed" >&2; exit 77; }
	"${launch[@]}" /usr/bin/python3 -u "$here/py_numpy.py" >"$tmp/w.out" 2>&1 &
	pid=$!
	wait_for "$tmp/w.out" ready 200 || exit 2
	activity() { kill -USR1 "$pid"; }
	;;
redis)
	need redis-server; need redis-benchmark
	port=$(free_port)
	"${launch[@]}" redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no \
		--daemonize no --dir "$tmp" >"$tmp/w.out" 2>&1 &
	pid=$!
	for _ in $(seq 100); do redis-cli -p "$port" ping 2>/dev/null | grep -q PONG && break; sleep 0.05; done
	activity() {
		for _ in $(seq 20); do
			redis-benchmark -h 127.0.0.1 -p "$port" -n 5000 -c 4 -q \
				-t set,get,incr,lpush,lpop,sadd,hset,zadd,lrange_100 >/dev/null 2>&1 || break
		done
	}
	;;
sqlite3)
	need sqlite3
	mkfifo "$tmp/in"
	"${launch[@]}" sqlite3 :memory: <"$tmp/in" >"$tmp/w.out" 2>&1 &
	pid=$!
	exec 3>"$tmp/in"
	echo "create table t(a integer, b text); select 'rea'||'dy';" >&3
	wait_for "$tmp/w.out" ready || exit 2
	activity() {
		for i in $(seq 400); do
			echo "insert into t select value, hex(randomblob(16)) from generate_series(1,200);
select b, count(*), sum(a), avg(length(b)) from t group by substr(b,1,2) order by 2 desc limit 3;
create index if not exists ti on t(b); select count(*) from t where b like 'A%';
select json_object('n', count(*)) from t;" >&3 2>/dev/null || break
			sleep 0.01
		done
	}
	;;
gzip|zstd|xz)
	need "$name"
	# An endless stream of real bytes (binaries), compressed to nowhere.
	# cat dies of SIGPIPE once the compressor is gone: the loop ends.
	( while cat /usr/bin/[a-c]* 2>/dev/null; do :; done ) | "${launch[@]}" "$name" -c >/dev/null &
	pid=$!
	sleep 0.3
	;;
openssl)
	need openssl
	"${launch[@]}" openssl speed -seconds 1 sha256 sha512 aes-128-cbc rsa2048 ecdsap256 \
		>"$tmp/w.out" 2>&1 &
	pid=$!
	sleep 0.3
	;;
*)
	echo "drive.sh: unknown workload '$name'" >&2
	exit 2
	;;
esac

if [ -n "${SCAN_OUT:-}" ]; then
	for method in reachable full; do
		"$mig" scan "$pid" --json --method "$method" >"$SCAN_OUT.$method.json" \
			2>"$tmp/scan.err" || {
			echo "drive.sh: scan --method $method of $name failed: $(cat "$tmp/scan.err")" >&2
			exit 4
		}
	done
	# $SCAN_ASSUME (e.g. glibc-contracts): also that scan, as .assumed.json
	if [ -n "${SCAN_ASSUME:-}" ]; then
		"$mig" scan "$pid" --json --assume "$SCAN_ASSUME" >"$SCAN_OUT.assumed.json" \
			2>"$tmp/scan.err" || {
			echo "drive.sh: scan --assume $SCAN_ASSUME of $name failed: $(cat "$tmp/scan.err")" >&2
			exit 4
		}
	fi
fi
# Under tzcnt-as-bsf the oracle also counts executed code as that scan
# does (assumed_features_required): what the .assumed.json scan must cover.
obs_assume=()
case ",${SCAN_ASSUME:-}," in *,tzcnt-as-bsf,*) obs_assume=(--assume tzcnt-as-bsf) ;; esac
"$mig" observe "$pid" --check --json --seconds "$secs" "${obs_assume[@]}" >"$out" 2>"$tmp/obs.err" &
obs=$!
if wait_for "$tmp/obs.err" "window open" 1200; then
	activity &
	helper=$!
fi
wait "$obs"
rc=$?
[ -s "$tmp/obs.err" ] && sed 's/^/  /' "$tmp/obs.err" >&2
if ! kill -0 "$pid" 2>/dev/null; then
	case $name in openssl) ;; *) echo "drive.sh: $name died during the oracle" >&2; rc=3 ;; esac
fi
exit $rc
