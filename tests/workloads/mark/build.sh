#!/bin/sh
# build.sh OUTDIR - one libwlplt.so and one libwlvcall.so per marker of
# tests/workloads/wl_mark.h, into OUTDIR/mark/NAME/ (no binaries are
# committed).  wl_scan_targets loads the one a test chose.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: build.sh OUTDIR}
cflags="-O1 -g -fno-inline -fno-omit-frame-pointer -Wall -Wextra -Werror -fPIC -shared"
# X(p, name, "instruction") lines of the marker list.
sed -n 's/^[[:space:]]*X(p, \([a-z0-9_]*\), *"\(.*\)")[[:space:]]*\\*$/\1 \2/p' \
	"$here/../wl_mark.h" >"$out/.markers.tmp"
[ -s "$out/.markers.tmp" ] || { echo "build.sh: no markers in wl_mark.h" >&2; exit 1; }
build_one() {
	name=$1
	shift
	insn=$*
	mkdir -p "$out/mark/$name"
	cc $cflags "-DWL_MARK_INSN=\"$insn\"" -o "$out/mark/$name/libwlplt.so" "$here/../lib/wlplt.c"
	c++ $cflags "-DWL_MARK_INSN=\"$insn\"" -o "$out/mark/$name/libwlvcall.so" "$here/wlvcall.cc"
}
jobs=$(nproc 2>/dev/null || echo 1)
pids=
n=0
while read -r name insn; do
	build_one "$name" "$insn" &
	pids="$pids $!"
	n=$((n + 1))
	if [ "$n" -ge "$jobs" ]; then
		for p in $pids; do wait "$p"; done
		pids= n=0
	fi
done <"$out/.markers.tmp"
for p in $pids; do wait "$p"; done
rm -f "$out/.markers.tmp"
