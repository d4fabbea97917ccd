#!/usr/bin/env python3
"""Summarise bench/gain.sh runs: compatible targets per workload and policy.

usage: summarize.py CRIU_LIKE_JSON VERDICT_DIR SOURCE_INFO_JSON REQ_FILE...

VERDICT_DIR holds `<basename REQ_FILE>.verdicts` (migratable check --format
json) and, where the oracle ran, `<workload>.oracle.verdicts`: the verdicts
for the features the oracle saw execute.  SOURCE_INFO_JSON describes the
CRIU-like source: {"kept": [...], "dropped": [...], "dropped_in_mask": [...]}.

A target judged compatible under `workload` (reachable or full) that is
not compatible with the oracle's features is a contradiction.  Exit 1 if
there is one, or, when $GAIN_MIN is set, if the median ratio reachable /
criu-like is below it; 0 otherwise.  The ratio depends on the source CPU
(docs/gain.md), so no threshold holds on every host: none is applied
unless asked for.
"""
import json
import os
import statistics
import sys

# Workloads written for this project to exercise root kinds (each marks a
# root kind by executing an extension glibc does not use: RDRAND, RDSEED,
# PCLMULQDQ, ADX...; docs/soundness.md), as opposed to the Debian programs.
SYNTHETIC = {"c_lazy", "c_now", "cxx", "wl_demo"}


def load(path):
    with open(path) as f:
        return json.load(f)


def compatible_names(doc):
    return {t["name"] for t in doc["targets"] if t["verdict"] == "compatible"}


def main():
    criu_path, vdir, info_path, reqs = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    criu_doc = load(criu_path)
    criu = len(compatible_names(criu_doc))
    total = len(criu_doc["targets"])
    info = load(info_path)
    gain_min = float(os.environ["GAIN_MIN"]) if os.environ.get("GAIN_MIN") else None

    rows = {}
    for req in reqs:
        method = load(req).get("method", "reachable")
        name = os.path.basename(req).split(".")[0]
        doc = load(os.path.join(vdir, os.path.basename(req) + ".verdicts"))
        rows.setdefault(name, {})[method] = compatible_names(doc)
    for name in rows:
        p = os.path.join(vdir, name + ".oracle.verdicts")
        if os.path.exists(p):
            rows[name]["oracle"] = compatible_names(load(p))

    print(f"targets: {total}")
    print(f"CRIU-like source: this host's features restricted to the catalog's flags; "
          f"dropped {', '.join(info['dropped']) or '-'}; of these in CRIU's ins mask: "
          f"{', '.join(info['dropped_in_mask']) or '-'}")
    print(f"CRIU-like host policy accepts {criu} of {total}")
    print()
    print("| workload | reachable | full | oracle-observed | criu-like | reachable / criu-like | contradictions |")
    print("|---|---|---|---|---|---|---|")
    ratios, contradictions, unchecked = [], 0, []
    fmt = lambda v: "-" if v is None else str(len(v))
    for name in sorted(rows):
        r = rows[name]
        reach, full, oracle = r.get("reachable"), r.get("full"), r.get("oracle")
        rs = "-"
        if reach is not None:
            if criu > 0:
                ratio = len(reach) / criu
                ratios.append(ratio)
                rs = f"{ratio:.2f}"
            else:
                ratios.append(float("inf"))
                rs = "inf"
        bad = set()
        if oracle is None:
            cs = "no oracle run"
            unchecked.append(name)
        else:
            for s in (reach, full):
                if s is not None:
                    bad |= s - oracle
            contradictions += len(bad)
            cs = str(len(bad)) if not bad else f"{len(bad)}: {', '.join(sorted(bad)[:5])}"
        print(f"| {name} | {fmt(reach)} | {fmt(full)} | {fmt(oracle)} | {criu} | {rs} | {cs} |")
    print()
    ok = True
    if ratios:
        med = statistics.median(ratios)
        print(f"median ratio (reachable / criu-like): {med:.2f} over {len(ratios)} workloads "
              + (f"(GAIN_MIN {gain_min:g}: {'met' if med >= gain_min else 'NOT met'})"
                 if gain_min is not None else "(no threshold: GAIN_MIN unset)"))
        ok = gain_min is None or med >= gain_min
        corpus = [len(r["reachable"]) for n, r in rows.items()
                  if n != "wl_demo" and "reachable" in r]
        if criu and len(corpus) != len(ratios) and corpus:
            print(f"  without wl_demo (the soundness corpus only): "
                  f"{statistics.median(corpus) / criu:.2f} over {len(corpus)} workloads")
        real = [len(r["reachable"]) for n, r in rows.items()
                if n not in SYNTHETIC and "reachable" in r]
        if criu and real:
            print(f"  Debian programs only ({', '.join(sorted(n for n in rows if n not in SYNTHETIC))}): "
                  f"{statistics.median(real) / criu:.2f} over {len(real)} workloads")
        seen = [len(r["oracle"]) for r in rows.values() if "oracle" in r]
        if criu and seen:
            print(f"  for comparison, the oracle's observed features alone (what a perfectly "
                  f"precise scan could accept from this run): "
                  f"{statistics.median(seen) / criu:.2f}")
    else:
        print("median ratio: n/a (no reachable scans)")
        ok = False
    print(f"oracle contradictions (targets compatible under workload that lack a feature "
          f"the oracle saw executed): {contradictions}"
          + (f"; not checked (no oracle run): {', '.join(unchecked)}" if unchecked else ""))
    if contradictions:
        ok = False
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
