#!/usr/bin/env python3
"""Measure recall against the study's real migrations (bench/recall.sh).

usage: run.py --bin BIN --root ROOT --build BUILD --catalog DIR --lmd DIR
              --tsv TSV --host HOST_JSON --out DIR [--seconds S]
              [--also all|none|"TYPE ..."] [--workloads "W ..."] SOURCE

For SOURCE and the other sources asked for, grouped by the environment
their emulation needs (study.environment), each workload is started once
per group, then per source of the group:
  check PID --source SOURCE.json --target <the study's destinations>
and once per group
  check PID --source <the group's features> --method full --target <none>
    (which of the source's features this host lacks have code mapped)
  observe PID --check --json --seconds S
    (what really executed: a feature the source lacks = not emulated)
and, per source, `check --policy criu-like` over the same destinations.
Tables go to stdout and OUT/recall.md, every verdict to OUT/results.json.
Exit 1 when an emulated workload got an unsafe verdict or the oracle saw
code the scan missed, 2 on errors.
"""
import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import report  # noqa: E402
import study  # noqa: E402
from workloads import Workload, observe  # noqa: E402


def run_check(binary, args, what):
    res = subprocess.run([binary, "check"] + args + ["--format", "json"],
                         capture_output=True, text=True, timeout=600)
    if res.returncode not in (0, 1):
        raise RuntimeError(f"check ({what}) failed with status {res.returncode}: "
                           + res.stderr.strip())
    return {t["name"]: t for t in json.loads(res.stdout)["targets"]}


def target_args(paths):
    out = []
    for p in paths:
        out += ["--target", p]
    return out


class Study:
    """The catalog, the host, the study's outcomes."""

    def __init__(self, a):
        self.a = a
        self.host = study.load_json(a.host)
        self.profiles = {os.path.basename(p)[:-5]: p
                         for p in glob.glob(os.path.join(a.catalog, "*.json"))}
        self.recorded = set()
        for p in self.profiles.values():
            d = study.load_json(p)
            self.recorded |= set(d["features"]) | set(d.get("unknown", []))
        self.outcomes = {w: study.outcomes(a.lmd, w) for w in a.workloads}
        self.criu = study.criu_verdicts(a.lmd)
        self.sources = sorted({s for o in self.outcomes.values() for s in o})

    def profile(self, name):
        return study.load_json(self.profiles[name])

    def destinations(self, source):
        return sorted({d for o in self.outcomes.values() for d in o.get(source, {})})


def choose_sources(st, primary, also):
    """[primary] + the others asked for that have a profile; the study's
    sources without one are reported."""
    if primary not in st.profiles:
        raise RuntimeError(f"no catalog profile for {primary}")
    if also == "none":
        others = []
    elif also == "all":
        others = [s for s in st.sources if s != primary]
    else:
        others = [s for s in also.split() if s != primary]
    chosen, missing = [primary], []
    for s in others:
        (chosen if s in st.profiles else missing).append(s)
    return chosen, missing


def group_by_environment(st, sources, tmp):
    """[(env, [sources])] in first-seen order: sources whose emulation
    needs the same environment share one run of each workload."""
    host_path = st.a.host
    groups = {}
    for s in sources:
        env = study.environment(st.profiles[s], host_path, st.a.tsv, st.a.catalog,
                                st.profile(s), st.host, st.recorded)
        groups.setdefault(tuple(sorted(env.items())), []).append(s)
    return [(dict(k), v) for k, v in groups.items()]


def probe_code(st, wl, group, tmp):
    """Of the features the group's sources have and this host lacks, those
    that code mapped in the process needs: a full scan against a source
    with all of them, checked against a target without features."""
    extra = sorted({f for s in group for f in study.extras(st.profile(s), st.host)}
                   - set(study.NEVER_SELECTED))
    if not extra:
        return set(), extra
    feats = set(st.host["features"]) | set(extra)
    for s in group:
        feats |= study.usable(st.profile(s))
    src = os.path.join(tmp, "probe-source.json")
    empty = os.path.join(tmp, "probe-none.json")
    with open(src, "w") as f:
        json.dump({"name": "probe source", "features": sorted(feats)}, f)
    with open(empty, "w") as f:
        json.dump({"name": "none", "features": []}, f)
    v = run_check(st.a.bin, [str(wl.pid), "--source", src, "--method", "full", "--target", empty],
                  "full-scan probe")
    needed = set(v["none"].get("missing", [])) | set(v["none"].get("unknown", []))
    return needed & set(extra), extra


def dispatch_mismatch(wl_name, output, env, source):
    """What the workload printed about its own choice, against what the
    source should give; None when it agrees (or says nothing)."""
    if wl_name == "c_matrix_multiplication":
        want = study.CORENAME[env["OPENBLAS_CORETYPE"]]
        for line in output.splitlines():
            if line.startswith("dgemm: OpenBLAS core"):
                got = line.split()[-1]
                return None if got == want else f"OpenBLAS chose {got}, not {want}"
        return "OpenBLAS core not printed"
    if wl_name in ("rdseed", "pyrdseed"):
        want = "RDSEED" if "rdseed" in source["features"] else "RDRAND"
        return None if f"using {want}" in output else f"did not choose {want}"
    if wl_name in ("pku", "pypku"):
        want = ("protection keys" if {"pku", "ospke"} <= set(source["features"])
                else "mprotect (no PKU)")
        return None if want in output else f"did not choose {want}"
    return None


def functions_with(binary, wl, feature, executed_units):
    """The executed functions (oracle units) that have code for FEATURE:
    the oracle counts a function's features whole, so one of them may have
    run only its other path (e.g. libcrypto's bn_mul_mont_gather5 tests
    OPENSSL_ia32cap_P and has its MULX/ADX loop in the same function)."""
    res = subprocess.run([binary, "scan", str(wl.pid), "--method", "full", "--explain", feature,
                          "--json"], capture_output=True, text=True, timeout=600)
    if res.returncode != 0:
        return ["(scan --explain failed: " + res.stderr.strip()[:200] + ")"]
    have = {(e["module"], e["function"]) for e in json.loads(res.stdout)["evidence"]
            if e["feature"] == feature}
    return sorted(f"{os.path.basename(m)} {n}" for m, n in have & executed_units)


class NotReady(RuntimeError):
    """A workload that did not start under an emulation (OpenBLAS's
    SKYLAKEX kernels on a host without AVX-512 die at once, say)."""


def run_workload(st, wl_name, env, group, criu_like, out_dir, tmp):
    """Rows (one per source of GROUP) for one started workload."""
    wl = Workload(wl_name, st.a.root, st.a.build, env, tmp)
    try:
        if not wl.wait_ready():
            raise NotReady(f"{wl_name} did not get ready: {wl.output()[-400:].strip()}")
        verdicts = {}
        for s in group:
            dests = st.outcomes[wl_name].get(s, {})
            paths = [st.profiles[d] for d in sorted(dests) if d in st.profiles]
            verdicts[s] = run_check(st.a.bin, [str(wl.pid), "--source", st.profiles[s]]
                                    + target_args(paths), f"{wl_name} from {s}")
            with open(os.path.join(out_dir, f"{s}.{wl_name}.check.json"), "w") as f:
                json.dump(verdicts[s], f, indent=1)
        in_code, probed = probe_code(st, wl, group, tmp)
        oracle_path = os.path.join(out_dir, f"{group[0]}.{wl_name}.oracle.json")
        rc, err = observe(st.a.bin, wl, st.a.seconds, oracle_path)
        if rc not in (0, 1):
            raise RuntimeError(f"observe of {wl_name} failed ({rc}): {err.strip()[-400:]}")
        oracle = study.load_json(oracle_path)
        units = {(e["module"], e["name"]) for e in oracle["executed"]}
        beyond = sorted({f for s in group for f in oracle["features_required"]
                         if f not in study.usable(st.profile(s))})
        where = {f: functions_with(st.a.bin, wl, f, units) for f in beyond} if wl.alive() else {}
        alive = wl.alive()
        output = wl.output()
    finally:
        wl.stop()
    misses = oracle.get("soundness", {}).get("unit_misses", [])
    feature_misses = oracle.get("soundness", {}).get("feature_misses", [])
    rows = []
    for s in group:
        src = st.profile(s)
        dests = st.outcomes[wl_name].get(s, {})
        row = study.judge(wl_name, s, dests, verdicts[s], st.criu,
                          {d: criu_like[s].get(d, {}).get("verdict") == "compatible"
                           for d in dests}, set(st.profiles), oracle["features_required"])
        executed_beyond = sorted(set(oracle["features_required"]) - study.usable(src))
        extra = study.extras(src, st.host)
        blockers = study.emulation_blockers(wl_name, extra, in_code)
        mismatch = dispatch_mismatch(wl_name, output, env, src)
        why = []
        if executed_beyond:
            why.append("oracle: executed " + ", ".join(
                f"{f} (in {', '.join(where.get(f, [])[:3]) or '?'})" for f in executed_beyond))
        if blockers:
            why.append("this host lacks " + ",".join(blockers) + " (code for it is mapped)")
        if mismatch:
            why.append(mismatch)
        if not alive:
            why.append("died during the oracle")
        row.update({"emulated": not why, "not_emulated_why": "; ".join(why),
                    "extras": extra, "extras_in_code": sorted(in_code & set(extra)),
                    "probed": probed, "oracle_unit_misses": len(misses),
                    "oracle_feature_misses": feature_misses,
                    "executed": oracle["features_required"],
                    "executed_beyond_in": {f: where.get(f, []) for f in executed_beyond},
                    "env": env})
        rows.append(row)
    return rows


def main():
    ap = argparse.ArgumentParser()
    for opt in ("bin", "root", "build", "catalog", "lmd", "tsv", "host", "out"):
        ap.add_argument("--" + opt, required=True)
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--also", default="all")
    ap.add_argument("--workloads", default=" ".join(study.WORKLOADS))
    ap.add_argument("source")
    a = ap.parse_args()
    a.workloads = a.workloads.split()
    os.makedirs(a.out, exist_ok=True)
    for stale in glob.glob(os.path.join(a.out, "*.check.json")) + \
            glob.glob(os.path.join(a.out, "*.oracle.json")) + \
            glob.glob(os.path.join(a.out, "results.json")):
        os.unlink(stale)
    st = Study(a)
    sources, no_profile = choose_sources(st, a.source, a.also)
    rows, not_run = [], []
    with tempfile.TemporaryDirectory() as tmp:
        criu_like = {}
        for s in sources:
            paths = [st.profiles[d] for d in st.destinations(s) if d in st.profiles]
            criu_like[s] = run_check(a.bin, ["--policy", "criu-like", "--source", st.profiles[s]]
                                     + target_args(paths), f"criu-like from {s}")
        groups = group_by_environment(st, sources, tmp)
        for env, group in groups:
            print(f"recall: emulating {' '.join(group)}: "
                  + " ".join(f"{k}={v!r}" for k, v in sorted(env.items())), file=sys.stderr)
            for w in a.workloads:
                try:
                    wl_rows = run_workload(st, w, env, group, criu_like, a.out, tmp)
                except NotReady as e:
                    if a.source in group:
                        raise
                    # Another source's emulation this host cannot run: no row.
                    not_run.append({"workload": w, "sources": group, "why": str(e)})
                    print(f"recall:   {w} from {', '.join(group)}: NOT RUN ({e})",
                          file=sys.stderr)
                    continue
                for r in wl_rows:
                    status = "ok" if r["emulated"] else "NOT EMULATED: " + r["not_emulated_why"]
                    print(f"recall:   {w} from {r['source']}: recall {study.fmt_ratio(r['recall'])}"
                          f" unsafe {len(r['unsafe'])} ({status})", file=sys.stderr)
                rows += wl_rows
    with open(os.path.join(a.out, "results.json"), "w") as f:
        json.dump({"host": st.host.get("brand"), "rows": rows, "sources": sources,
                   "sources_without_profile": no_profile, "not_run": not_run}, f, indent=1)
    print(report.render(st, a.source, sources, no_profile, rows, full=False))
    with open(os.path.join(a.out, "recall.md"), "w") as f:
        f.write(report.render(st, a.source, sources, no_profile, rows, full=True))
    print(f"every source's table: {os.path.join(a.out, 'recall.md')}; "
          f"verdicts: {os.path.join(a.out, 'results.json')}")
    bad = any(r["emulated"] and r["unsafe"] for r in rows) or any(
        r["oracle_unit_misses"] or r["oracle_feature_misses"] for r in rows)
    return 1 if bad else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (RuntimeError, OSError, ValueError, KeyError, subprocess.TimeoutExpired) as e:
        print(f"recall: {e}", file=sys.stderr)
        sys.exit(2)
