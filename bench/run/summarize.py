#!/usr/bin/env python3
"""Summarise bench/run-targets.sh: per condition and workload, the AWS
types (catalog aws, 383) compatible by the scan and by the oracle's
observed features, contradictions (compatible by the scan, not by what
was seen executing), and how many of the condition's own targets each
says compatible.

usage: summarize.py MIGRATABLE OUT_DIR CONDITION...

OUT_DIR/COND holds what bench/gain-scan.sh wrote (W.reachable.json,
W.assumed.json when it scanned with $SCAN_ASSUME, oracle/W.json) and `targets` (the run options, one per line).  Exit 1 on
a contradiction or an oracle miss (code the scan had not found).
"""
import json
import os
import subprocess
import sys
import tempfile


def check(mig, req, targets):
    """Names of the compatible targets, and how many targets there were."""
    p = subprocess.run([mig, "check", "--requirements", req, "--format", "json"] + targets,
                       capture_output=True, text=True)
    if p.returncode > 1:
        sys.exit("summarize.py: check %s: %s" % (req, p.stderr.strip()))
    doc = json.loads(p.stdout)
    return {t["name"] for t in doc["targets"] if t["verdict"] == "compatible"}, len(doc["targets"])


def main():
    mig, out, conds = sys.argv[1], sys.argv[2], sys.argv[3:]
    bad = 0
    tmp = tempfile.mkdtemp()
    print("%-6s %-13s %7s %7s %7s %6s %12s %12s %12s  %s" % (
        "cond", "workload", "scan", "scan+A", "oracle", "contr", "named(scan)", "named(+A)",
        "named(orcl)", "scan misses the named targets by"))
    for cond in conds:
        d = os.path.join(out, cond)
        with open(os.path.join(d, "targets")) as f:
            named = [l.rstrip("\n") for l in f if l.strip()]
        for name in sorted(os.listdir(d)):
            if not name.endswith(".reachable.json"):
                continue
            w = name[:-len(".reachable.json")]
            req = os.path.join(d, name)
            opath = os.path.join(d, "oracle", w + ".json")
            if not os.path.exists(opath):
                continue
            with open(opath) as f:
                odoc = json.load(f)
            oreq = os.path.join(tmp, cond + "." + w + ".json")
            with open(oreq, "w") as f:
                json.dump({"required_features": odoc["features_required"]}, f)
            # What the scan under $SCAN_ASSUME must cover: executed code
            # counted as that scan counts it (tzcnt-as-bsf), else the same.
            oareq = os.path.join(tmp, cond + "." + w + ".assumed.json")
            with open(oareq, "w") as f:
                json.dump({"required_features": odoc.get("assumed_features_required",
                                                         odoc["features_required"])}, f)
            areq = os.path.join(d, w + ".assumed.json")
            if not os.path.exists(areq):
                areq = None
            s_aws, total = check(mig, req, ["--catalog", "aws"])
            o_aws, _ = check(mig, oreq, ["--catalog", "aws"])
            a_aws = check(mig, areq, ["--catalog", "aws"])[0] if areq else None
            contra = s_aws - o_aws
            if a_aws is not None:
                contra |= a_aws - check(mig, oareq, ["--catalog", "aws"])[0]
            misses = len(odoc.get("soundness", {}).get("unit_misses", []))
            cell_s = cell_o = cell_a = "-"
            missing = ""
            if named:
                s_n, n = check(mig, req, named)
                o_n, _ = check(mig, oreq, named)
                cell_s, cell_o = "%d/%d" % (len(s_n), n), "%d/%d" % (len(o_n), n)
                if areq:
                    cell_a = "%d/%d" % (len(check(mig, areq, named)[0]), n)
                if len(s_n) < n:
                    with open(req) as f:
                        have = set(json.load(f)["required_features"])
                    p = subprocess.run([mig, "check", "--requirements", req, "--format",
                                        "json"] + named, capture_output=True, text=True)
                    miss = set()
                    for t in json.loads(p.stdout)["targets"]:
                        miss |= set(t.get("missing", [])) | set(t.get("unknown", []))
                    missing = ",".join(sorted(miss & have))
            print("%-6s %-13s %7d %7s %7d %6d %12s %12s %12s  %s" % (
                cond, w, len(s_aws), "-" if a_aws is None else "%d" % len(a_aws), len(o_aws),
                len(contra), cell_s, cell_a, cell_o, missing))
            if contra or misses:
                bad = 1
                print("   contradictions: %s; oracle unit misses: %d" % (
                    ",".join(sorted(contra)[:5]), misses))
    print("(of %d AWS types; scan+A: the scan under --assume $SCAN_ASSUME; contr = "
          "compatible by a scan, not by the features seen executing, counted for scan+A "
          "as that scan counts them)" % total)
    sys.exit(bad)


if __name__ == "__main__":
    main()
