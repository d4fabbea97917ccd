#!/usr/bin/env python3
"""Summarise bench/gain.sh runs: compatible targets per workload and policy.

usage: summarize.py CRIU_LIKE_JSON VERDICT_DIR REQ_FILE...
VERDICT_DIR holds `<basename REQ_FILE>.verdicts` (migratable check --format json).
"""
import json
import os
import statistics
import sys


def compatible(path):
    with open(path) as f:
        doc = json.load(f)
    return doc["summary"]["compatible"], len(doc["targets"])


def main():
    criu_path, vdir, reqs = sys.argv[1], sys.argv[2], sys.argv[3:]
    criu, total = compatible(criu_path)
    rows = {}
    for req in reqs:
        with open(req) as f:
            method = json.load(f).get("method", "reachable")
        name = os.path.basename(req).split(".")[0]
        n, _ = compatible(os.path.join(vdir, os.path.basename(req) + ".verdicts"))
        rows.setdefault(name, {})[method] = n

    print(f"targets: {total}; CRIU-like host policy (source = this host): {criu} compatible")
    print()
    print(f"{'workload':<28} {'reachable':>9} {'full':>6} {'criu-like':>9} {'ratio':>7}")
    ratios = []
    for name in sorted(rows):
        r = rows[name]
        reach = r.get("reachable")
        full = r.get("full")
        ratio = None
        if reach is not None and criu > 0:
            ratio = reach / criu
            ratios.append(ratio)
        fmt = lambda v: "-" if v is None else str(v)
        rs = "-" if ratio is None else (f"{ratio:.2f}" if criu else "inf")
        print(f"{name:<28} {fmt(reach):>9} {fmt(full):>6} {criu:>9} {rs:>7}")
    print()
    if ratios:
        print(f"median ratio (reachable / criu-like): {statistics.median(ratios):.2f} "
              f"over {len(ratios)} workloads")
    else:
        print("median ratio: n/a (no reachable scans, or CRIU-like accepts no target)")


if __name__ == "__main__":
    main()
