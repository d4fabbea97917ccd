#!/usr/bin/env python3
"""Context from real migrations: the LiveMigrate-Detector AWS dataset.

usage: lmd_context.py MIGRATABLE LMD_DIR CATALOG_DIR

LMD_DIR/migration-outcomes/criu_cpuinfo_check.csv holds CRIU's own
`cpuinfo check` verdict per (source, destination) instance-type pair; the
other CSVs hold, per workload of that study, real CRIU migrations of the
same pairs and whether they succeeded.  Printed:
  * how often CRIU's check rejected a pair that migrated successfully;
  * how our `--policy criu-like` (CRIU's ins rule over feature lists, with
    the catalog's profile of the source type as source) agrees with CRIU's
    real verdict on those pairs - a check of the baseline gain.sh uses.
Those workloads are not ours: nothing here says how our scans would judge
them.
"""
import csv
import glob
import json
import os
import subprocess
import sys
import tempfile


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def criu_like_verdicts(mig, catalog, sources):
    """{(source, destination): compatible?} under --policy criu-like."""
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for s in sorted(sources):
            src = os.path.join(catalog, s + ".json")
            if not os.path.exists(src):
                continue
            res = subprocess.run([mig, "check", "--policy", "criu-like", "--source", src,
                                  "--target", catalog, "--format", "json"],
                                 capture_output=True, text=True)
            if res.returncode > 1:
                sys.exit(f"lmd_context: check --source {src} failed: {res.stderr.strip()}")
            for t in json.loads(res.stdout)["targets"]:
                out[(s, t["name"])] = t["verdict"] == "compatible"
    return out


def main():
    mig, lmd, catalog = sys.argv[1:4]
    outcomes = os.path.join(lmd, "migration-outcomes")
    check = {(r["source"], r["destination"]): r["compatibility"] == "true"
             for r in read_csv(os.path.join(outcomes, "criu_cpuinfo_check.csv"))}
    types = {s for s, _ in check} | {d for _, d in check}
    ok = sum(check.values())
    print(f"CRIU's cpuinfo check (criu_cpuinfo_check.csv): {len(check)} pairs of "
          f"{len(types)} instance types; accepts {ok}, rejects {len(check) - ok}")

    ours = criu_like_verdicts(mig, catalog, {s for s, _ in check})
    both = [k for k in check if k in ours]
    agree = sum(check[k] == ours[k] for k in both)
    more = sorted(k for k in both if ours[k] and not check[k])
    less = sorted(k for k in both if check[k] and not ours[k])
    print(f"our criu-like policy on the catalog's profiles of those types: agrees on "
          f"{agree} of {len(both)} pairs; accepts {len(more)} that CRIU rejects, "
          f"rejects {len(less)} that CRIU accepts")
    for label, pairs in (("  criu-like yes, CRIU no", more), ("  criu-like no, CRIU yes", less)):
        if pairs:
            print(f"{label}: " + ", ".join(f"{s}->{d}" for s, d in pairs[:6])
                  + (" ..." if len(pairs) > 6 else ""))
    print()
    print("| study workload | pairs (CRIU verdict known) | migrated OK | CRIU rejected, migrated OK | CRIU accepted, failed |")
    print("|---|---|---|---|---|")
    for path in sorted(glob.glob(os.path.join(outcomes, "*.csv"))):
        name = os.path.basename(path)[:-4]
        if name == "criu_cpuinfo_check":
            continue
        n = good = rej_good = acc_bad = 0
        for r in read_csv(path):
            k = (r["source"], r["destination"])
            if k not in check:
                continue
            success = r["migration_success"] == "true"
            n += 1
            good += success
            rej_good += success and not check[k]
            acc_bad += check[k] and not success
        print(f"| {name} | {n} | {good} | {rej_good} | {acc_bad} |")


if __name__ == "__main__":
    main()
