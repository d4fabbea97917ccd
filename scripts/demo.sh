#!/usr/bin/env bash
# `make demo`: start a small process, describe this host, scan the process,
# and decide to which CPU targets it could migrate.
set -euo pipefail
build=${1:-build}
bin=$build/migratable

"$build/workloads/wl_demo" > "$build/demo.out" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do grep -q ready "$build/demo.out" 2>/dev/null && break; sleep 0.05; done

echo "== migratable host"
"$bin" host | sed -n '1,8p'
echo
echo "== migratable scan $pid   (a demo process: threads, qsort callback, signal and atexit handlers)"
"$bin" scan "$pid"
echo
catalogs=(--catalog x86-64-levels)
[ -d /usr/share/libvirt/cpu_map ] && catalogs+=(--catalog libvirt)
echo "== migratable check $pid ${catalogs[*]}"
"$bin" check "$pid" "${catalogs[@]}" || true   # exit 1 just means some target is incompatible
