#!/usr/bin/env bash
# dump-workload.sh - run a workload inside the CRIU root, dump it with
# CRIU 4.x, restore it and check that it keeps running.
#
#   tests/criu/dump-workload.sh [options] WORKLOAD OUTDIR [-- ARG...]
#
#   --root DIR          the trixie root (default: built/reused by build-root.sh)
#   --lib FILE          copy FILE next to the workload inside the root (for
#                       libraries found through an $ORIGIN rpath); repeatable
#   --env NAME=VALUE    set NAME in the workload's environment; "{dir}" in
#                       VALUE is the workload's directory inside the root
#   --before-dump CMD   run CMD on the host (via sh -c) while the workload
#                       is live, just before the dump; "{pid}" is replaced
#                       by its host PID.  A failing CMD aborts the run.
#   --restore-arg ARG   pass ARG to criu restore (e.g. --lib DIR); repeatable
#   --restore-env N=V   set N in criu restore's environment; repeatable
#   --no-restore        stop after the dump
#   --leave-running     dump with --leave-running (no restore then)
#   --ready-timeout S   seconds to wait for "ready" (default 10)
#   --ready-pattern RE  wait for RE (grep -E) instead of "ready"
#
# WORKLOAD is a binary built on the host; it and the --lib files are
# copied into the root under /opt/migratable/SUM/ (SUM: a hash of their
# names and contents, so a dump's mapped files can later be resolved
# under the root), started there in its own session with cwd /dump/run
# and stdout/stderr in /dump/run/wl.out, and must print "ready".
# OUTDIR (created) is mounted at /dump inside and receives:
#   img/           the CRIU images (plus cpuinfo.img, dump.log, restore.log)
#   run/           the workload's cwd and output (wl.out, wl.pid, its files)
#   maps.before    /proc/PID/maps of the workload just before the dump
#   result         the key=value lines printed on stdout (below)
# Stdout: key=value lines: root=, workload=, pid= (host PID at dump time),
# nspid= (PID inside the namespace: the one CRIU records), dump_ms=,
# restore_ms=, restored=yes|no|skipped, progress_before=, progress_after=
# (the restored process's progress: the number in run/counter if the
# workload keeps one, else its CPU ticks plus context switches, from
# /proc; "keeps running" means it grew over 0.3 s).
#
# Exit status: 0 success; 77 the root cannot be built here (skip);
# 1 any failure (the message on stderr names the step; logs are kept).
set -u
here=$(dirname "$(realpath "$0")")
root= before= restore=1 leave=0 ready_timeout=10 ready_re=ready
libs=() envs=() restore_args=() restore_envs=()
while [ $# -gt 0 ]; do
	case $1 in
	--root) root=$2; shift 2 ;;
	--lib) libs+=("$(realpath "$2")") || exit 1; shift 2 ;;
	--env) envs+=("$2"); shift 2 ;;
	--restore-arg) restore_args+=("$2"); shift 2 ;;
	--restore-env) restore_envs+=("$2"); shift 2 ;;
	--before-dump) before=$2; shift 2 ;;
	--no-restore) restore=0; shift ;;
	--leave-running) leave=1; restore=0; shift ;;
	--ready-timeout) ready_timeout=$2; shift 2 ;;
	--ready-pattern) ready_re=$2; shift 2 ;;
	-h|--help) sed -n '2,40p' "$0"; exit 0 ;;
	*) break ;;
	esac
done
if [ $# -lt 2 ]; then
	echo "usage: $0 [options] WORKLOAD OUTDIR [-- ARG...]" >&2
	exit 2
fi
workload=$(realpath "$1") || exit 1
out=$2
shift 2
[ "${1:-}" = -- ] && shift

die() { echo "dump-workload: $*" >&2; exit 1; }
now_ms() { date +%s%3N; }

if [ -z "$root" ]; then
	root=$("$here/build-root.sh" | tail -n 1)
	rc=${PIPESTATUS[0]}
	[ "$rc" -eq 0 ] || exit "$rc"
fi
root=$(realpath "$root") || exit 1
[ -x "$root/usr/sbin/criu" ] || die "$root has no criu"

mkdir -p "$out/img" "$out/run" || die "cannot create $out"
out=$(realpath "$out")
rm -f "$out"/img/* "$out/run/wl.out" "$out/maps.before" "$out/result"

# Content-addressed copy of the workload and its libraries in the root.
sum=$(for f in "$workload" ${libs[@]+"${libs[@]}"}; do
	basename "$f"; sha256sum <"$f"; done | sha256sum | cut -c1-16)
inside_dir=/opt/migratable/$sum
inside_bin=$inside_dir/$(basename "$workload")
if [ ! -x "$root$inside_bin" ]; then
	tmpdir=$root/opt/migratable/.tmp.$$
	mkdir -p "$tmpdir" && cp "$workload" ${libs[@]+"${libs[@]}"} "$tmpdir/" &&
		mv -T "$tmpdir" "$root$inside_dir" 2>/dev/null || {
		rm -rf "$tmpdir"
		# A concurrent run may have installed the same set first.
		[ -x "$root$inside_bin" ] || die "cannot copy $workload into $root"
	}
fi
envset=
for e in ${envs[@]+"${envs[@]}"}; do
	envset="$envset $(printf '%q' "${e//\{dir\}/$inside_dir}")"
done

# The session: PID 1 of the namespace starts the workload and reaps.
args=$(printf ' %q' "$@")
# Inherited descriptors (the caller's) would point outside the namespace's
# mounts, which CRIU refuses to dump: close everything above stderr.
session="for fd in \$(ls /proc/\$\$/fd); do [ \$fd -gt 2 ] && eval \"exec \$fd>&-\"; done 2>/dev/null
cd /dump/run || exit 1
env$envset setsid $inside_bin$args >wl.out 2>&1 </dev/null &
echo \$! >wl.pid
trap 'exit 0' TERM
while :; do sleep 1 & wait \$!; done"
"$here/in-root.sh" --bind "$out:/dump" "$root" bash -c "$session" </dev/null >"$out/session.log" 2>&1 &
upid=$!
init=
cleanup() {
	[ -n "$init" ] && kill -KILL "$init" 2>/dev/null
	kill -KILL "$upid" 2>/dev/null
	wait "$upid" 2>/dev/null
}
trap cleanup EXIT
# The namespace's PID 1 is the child of unshare (same PID as in-root.sh,
# which execs it) living in another PID namespace than ours; children
# in our namespace are in-root.sh's own helpers (realpath) before that.
mypidns=$(readlink /proc/self/ns/pid)
for _ in $(seq 200); do
	for c in $(cat "/proc/$upid/task/$upid/children" 2>/dev/null); do
		ns=$(readlink "/proc/$c/ns/pid" 2>/dev/null) || continue
		[ "$ns" != "$mypidns" ] && { init=$c; break; }
	done
	[ -n "$init" ] && break
	sleep 0.025
done
[ -n "$init" ] || die "the namespace did not start"
inns() { nsenter -t "$init" -m -p -r -w "$@"; }

deadline=$(( $(date +%s) + ready_timeout ))
until grep -qE "$ready_re" "$out/run/wl.out" 2>/dev/null; do
	[ "$(date +%s)" -lt "$deadline" ] || die "$(basename "$workload") did not print $ready_re in ${ready_timeout}s ($(head -c 300 "$out/run/wl.out" 2>/dev/null))"
	sleep 0.05
done
# setsid does not fork here (a background job of a shell without job
# control is no group leader), so $! is the workload's PID.
nspid=$(cat "$out/run/wl.pid" 2>/dev/null)
[ -n "$nspid" ] || die "the session did not record the workload's PID"

# Host PID: the process in the namespace's PID ns whose innermost PID is
# nspid (NSpid in /proc/PID/status lists the PIDs outermost first).
find_hostpid() {
	local pidns d
	pidns=$(readlink "/proc/$init/ns/pid") || return 1
	for d in /proc/[0-9]*; do
		[ "$(readlink "$d/ns/pid" 2>/dev/null)" = "$pidns" ] || continue
		if [ "$(awk '/^NSpid:/ {print $NF}' "$d/status" 2>/dev/null)" = "$nspid" ]; then
			echo "${d#/proc/}"
			return 0
		fi
	done
	return 1
}
hostpid=
for _ in $(seq 20); do
	hostpid=$(find_hostpid) && break
	sleep 0.05
done
[ -n "$hostpid" ] || die "cannot find the host PID of namespace PID $nspid"

if [ -n "$before" ]; then
	sh -c "${before//\{pid\}/$hostpid}" || die "--before-dump command failed"
fi

inns criu cpuinfo dump -D /dump/img >/dev/null 2>&1 ||
	echo "dump-workload: warning: criu cpuinfo dump failed" >&2
inns cat "/proc/$nspid/maps" >"$out/maps.before" || die "cannot read /proc/$nspid/maps"
dump_opts=(--shell-job)
[ "$leave" = 1 ] && dump_opts+=(--leave-running)
t0=$(now_ms)
inns criu dump -t "$nspid" -D /dump/img "${dump_opts[@]}" -v4 -o dump.log ||
	die "criu dump failed (see $out/img/dump.log: $(grep -m1 Error "$out/img/dump.log"))"
t1=$(now_ms)
dump_ms=$((t1 - t0))
result="root=$root
workload=$inside_bin
pid=$hostpid
nspid=$nspid
dump_ms=$dump_ms"

# How far the (restored) workload got: its own counter if it keeps one,
# else utime + stime (whole process) + context switches (main thread).
progress() {
	if [ -f "$out/run/counter" ]; then
		head -n 1 "$out/run/counter"
		return
	fi
	inns sh -c "cat /proc/$nspid/stat /proc/$nspid/status" 2>/dev/null |
		awk 'NR == 1 { sub(/.*\) /, ""); n = $12 + $13 }
		     /^(voluntary|nonvoluntary)_ctxt_switches:/ { n += $2; ok = 1 }
		     END { if (ok) print n; else exit 1 }'
}

restored=skipped
if [ "$restore" = 1 ]; then
	t0=$(now_ms)
	inns env ${restore_envs[@]+"${restore_envs[@]}"} criu restore -D /dump/img --shell-job -d -v4 \
		-o restore.log ${restore_args[@]+"${restore_args[@]}"} ||
		die "criu restore failed (see $out/img/restore.log: $(grep -m1 Error "$out/img/restore.log"))"
	t1=$(now_ms)
	result="$result
restore_ms=$((t1 - t0))"
	c0=$(progress) && sleep 0.3 && c1=$(progress) || c1=
	if [ -n "$c0" ] && [ -n "$c1" ] && [ "$c1" -gt "$c0" ]; then
		restored=yes
	else
		restored=no
	fi
	result="$result
progress_before=$c0
progress_after=$c1"
fi
result="$result
restored=$restored"
echo "$result" >"$out/result"
echo "$result"
[ "$restored" != no ] || die "the restored process does not run (progress $c0 -> ${c1:-gone})"
