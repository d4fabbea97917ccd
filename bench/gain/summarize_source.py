#!/usr/bin/env python3
"""Summarise one emulated-source run of bench/gain-source.sh.

usage: summarize_source.py BIN SOURCE_PROFILE CATALOG_DIR CRIU_LIKE_JSON REQ_DIR

REQ_DIR is a bench/gain-scan.sh output made under emulate_source.py's
environment: W.reachable.json (and W.full.json), oracle/W.json.  The
scans ran here, so their requirements are intersected with this host;
on the real source they would also be intersected with the source, which
is done here on the feature lists (a feature kept only by an instruction
that needs another, missing feature stays: the count can only be lower
than a scan on the source would give).  A workload is *emulated* when the
oracle saw it execute nothing the source lacks; the others are listed
with what they executed, and left out of the median.
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from summarize import compatible_names, load  # noqa: E402


def count_compatible(binary, features, catalog):
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump({"required_features": sorted(features)}, f)
        path = f.name
    try:
        out = subprocess.run([binary, "check", "--requirements", path, "--target", catalog,
                              "--format", "json"], capture_output=True, text=True)
        if out.returncode not in (0, 1):
            sys.exit("summarize_source: check failed: " + out.stderr.strip())
        return len(compatible_names(json.loads(out.stdout)))
    finally:
        os.unlink(path)


def main():
    if len(sys.argv) != 6:
        sys.exit(__doc__.strip().splitlines()[2])
    binary, source_path, catalog, criu_path, req_dir = sys.argv[1:]
    source = load(source_path)
    usable = set(source["features"]) | set(source.get("unknown", []))
    criu = len(compatible_names(load(criu_path)))
    print(f"source {source['name']}: CRIU-like accepts {criu}")
    print()
    print("| workload | reachable | full | criu-like | reachable / criu-like | emulated |")
    print("|---|---|---|---|---|---|")
    ratios = []
    names = sorted({f.split(".")[0] for f in os.listdir(req_dir) if f.endswith(".reachable.json")})
    for name in names:
        counts = {}
        for method in ("reachable", "full"):
            p = os.path.join(req_dir, f"{name}.{method}.json")
            if os.path.exists(p):
                counts[method] = count_compatible(binary, set(load(p)["required_features"]) & usable,
                                                  catalog)
        o = os.path.join(req_dir, "oracle", name + ".json")
        executed = set(load(o)["features_required"]) - usable if os.path.exists(o) else None
        if executed is None:
            status = "no oracle run"
        elif executed:
            status = "no: executed " + ", ".join(sorted(executed))
        else:
            status = "yes"
            ratios.append(counts["reachable"] / criu if criu else float("inf"))
        ratio = f"{counts['reachable'] / criu:.2f}" if criu else "-"
        print(f"| {name} | {counts['reachable']} | {counts.get('full', '-')} | {criu} | {ratio} "
              f"| {status} |")
    print()
    if ratios:
        print(f"median ratio over the {len(ratios)} emulated workloads: "
              f"{statistics.median(ratios):.2f}")
    else:
        print("no workload could be emulated on this source")


if __name__ == "__main__":
    main()
