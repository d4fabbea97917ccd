"""The data and the arithmetic of bench/recall.sh (docs/recall.md).

* the study's real migrations: LMD_DIR/migration-outcomes/WORKLOAD.csv
  (source, destination, migration_success) and CRIU's own verdicts
  (criu_cpuinfo_check.csv);
* how a source type is emulated on this host: the environment
  (glibc, OpenSSL, numpy switches of bench/gain/emulate_source.py, the
  OpenBLAS core type, the workloads' own $STUDY_HIDE), and whether a
  source can be emulated at all for a workload;
* recall, unsafe verdicts and what the lost targets miss.

`python3 study.py` runs the self-test (bench/recall.sh does, first).
"""
import csv
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
EMULATE_SOURCE = os.path.join(HERE, "..", "gain", "emulate_source.py")

# The study's workloads that tests/workloads/study/ reproduces, in the
# order of the issue.
WORKLOADS = ["pku", "rdseed", "sha", "adox_adcx", "c_matrix_multiplication", "redis",
             "pysha", "pyrdseed", "pypku", "pyrsa"]

# OpenSSL's capability vector word 0 bit 30 is not CPUID's: libcrypto sets
# it for GenuineIntel (crypto/x86_64cpuid.pl) and some code paths test it
# (sha512-x86_64.pl's AVX shortcut).  An AMD source must not see it.
OPENSSL_INTEL_BIT = 1 << 30

# Features of a source that this host lacks and that cannot change what
# a workload executes here, whatever code is mapped:
#   monitor  MONITOR/MWAIT fault in ring 3 unless the kernel enables
#            ring-3 MWAIT (`migratable host`: ring3_mwait), so no
#            user-space dispatcher selects code by it.
NEVER_SELECTED = {"monitor": "ring-0 instruction (MONITOR/MWAIT) in user space"}

# Features whose code is mapped in every process (glibc's pkey_get/pkey_set
# execute RDPKRU/WRPKRU unconditionally) but that only these workloads'
# own dispatchers select code by: glibc 2.36's cpu_features, OpenSSL 3.0,
# OpenBLAS 0.3.21, CPython 3.11, redis 7.0 and libgcrypt 1.10 take no
# decision on PKU.  For the others, the host's lack of PKU changes nothing.
SELECTED_ONLY_BY = {"pku": {"pku", "pypku"}, "ospke": {"pku", "pypku"}}


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def load_json(path):
    with open(path) as f:
        return json.load(f)


def outcomes(lmd, workload):
    """{source: {destination: migrated successfully?}} of WORKLOAD.csv."""
    out = {}
    for r in read_csv(os.path.join(lmd, "migration-outcomes", workload + ".csv")):
        ok = r["migration_success"].strip().lower()
        if ok not in ("true", "false"):
            raise ValueError(f"{workload}.csv: migration_success {ok!r}")
        out.setdefault(r["source"], {})[r["destination"]] = ok == "true"
    return out


def criu_verdicts(lmd):
    """{(source, destination): CRIU's cpuinfo check accepted?}."""
    return {(r["source"], r["destination"]): r["compatibility"] == "true"
            for r in read_csv(os.path.join(lmd, "migration-outcomes", "criu_cpuinfo_check.csv"))}


def is_amd(profile):
    """The catalog profiles carry no vendor: every AMD CPU since K10 has
    SSE4A and no Intel CPU has it."""
    return "sse4a" in profile["features"]


def usable(profile):
    """What a source may run: its features and those it cannot decide."""
    return set(profile["features"]) | set(profile.get("unknown", []))


def openblas_coretype(profile):
    """The core type OpenBLAS 0.3.21 (DYNAMIC_ARCH, driver/others/dynamic.c)
    gives that CPU, from its features (profiles have no family/model):
    AVX-512 (F, BW, VL, DQ) -> COOPERLAKE with AVX512_BF16 else SKYLAKEX;
    AVX2 -> ZEN on AMD, HASWELL on Intel; AVX -> SANDYBRIDGE; SSE4.2 ->
    NEHALEM; SSSE3 -> CORE2; else PRESCOTT."""
    f = set(profile["features"])
    if {"avx512f", "avx512bw", "avx512vl", "avx512dq"} <= f:
        return "COOPERLAKE" if "avx512_bf16" in f else "SKYLAKEX"
    if {"avx2", "fma"} <= f:
        return "ZEN" if is_amd(profile) else "HASWELL"
    if "avx" in f:
        return "SANDYBRIDGE"
    if "sse4_2" in f:
        return "NEHALEM"
    return "CORE2" if "ssse3" in f else "PRESCOTT"


# OpenBLAS's own names (openblas_get_corename()) of those core types.
CORENAME = {"COOPERLAKE": "Cooperlake", "SKYLAKEX": "SkylakeX", "ZEN": "Zen",
            "HASWELL": "Haswell", "SANDYBRIDGE": "Sandybridge", "NEHALEM": "Nehalem",
            "CORE2": "Core2", "PRESCOTT": "Prescott"}


def parse_exports(text):
    """{NAME: value} of emulate_source.py's `export NAME=value` lines
    (values optionally in single quotes)."""
    env = {}
    for line in text.splitlines():
        if not line.startswith("export "):
            continue
        name, _, value = line[len("export "):].partition("=")
        if len(value) >= 2 and value[0] == value[-1] == "'":
            value = value[1:-1]
        env[name] = value
    return env


def with_intel_bit_cleared(ia32cap):
    """OPENSSL_ia32cap '~V1:~V2' with the 'Intel CPU' bit added to V1's mask."""
    first, _, second = ia32cap.partition(":")
    if not first.startswith("~"):
        raise ValueError(f"OPENSSL_ia32cap {ia32cap!r}: expected ~V1:~V2")
    v1 = int(first[1:], 0) | OPENSSL_INTEL_BIT
    return f"~0x{v1:x}:{second}"


def missing_here(source, host, recorded):
    """Features this host has and SOURCE lacks (only flags some catalog
    profile records, as emulate_source.py does)."""
    return sorted((set(host["features"]) & recorded) - usable(source))


def extras(source, host):
    """Features SOURCE has that this host cannot run: emulation only ever
    removes features, so these are what it cannot reproduce."""
    return sorted(set(source["features"]) - set(host["features"]))


def environment(source_path, host_path, tsv, catalog, source, host, recorded):
    """The environment that makes a workload started here dispatch as on
    SOURCE (docs/recall.md): emulate_source.py's switches, OpenSSL's Intel
    bit cleared for an AMD source on an Intel host, the OpenBLAS core type,
    the workloads' own $STUDY_HIDE, LD_BIND_NOW=1 (as the study)."""
    res = subprocess.run([sys.executable, EMULATE_SOURCE, source_path, host_path, tsv, catalog],
                         capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError("emulate_source.py: " + res.stderr.strip())
    env = parse_exports(res.stdout)
    if is_amd(source) and not is_amd(host_as_profile(host)):
        env["OPENSSL_ia32cap"] = with_intel_bit_cleared(env["OPENSSL_ia32cap"])
    env["OPENBLAS_CORETYPE"] = openblas_coretype(source)
    env["STUDY_HIDE"] = ",".join(missing_here(source, host, recorded))
    env["LD_BIND_NOW"] = "1"
    return env


def host_as_profile(host):
    """A `host --json` profile judged like a catalog one (its vendor too)."""
    if "vendor" in host:
        return {"features": ["sse4a"] if host["vendor"] == "AuthenticAMD" else []}
    return host


def emulation_blockers(workload, extra, in_code):
    """Why SOURCE cannot be emulated for WORKLOAD: the source's features
    this host lacks (EXTRA) that code mapped in the process needs (IN_CODE,
    from a full scan against the source) and that a dispatcher of the
    workload may select there.  [] when it can be emulated."""
    blockers = []
    for f in extra:
        if f in NEVER_SELECTED:
            continue
        if f not in in_code:
            continue                 # no code for it: nothing can select it
        if f in SELECTED_ONLY_BY and workload not in SELECTED_ONLY_BY[f]:
            continue
        blockers.append(f)
    return blockers


def judge(workload, source, dests, verdicts, criu, criu_like, have_profile, executed=()):
    """One row of the table.

    DESTS {destination: migrated ok?} (the study's rows for SOURCE);
    VERDICTS {destination: check's target entry} (our workload policy);
    CRIU {(source, destination): accepted?}; CRIU_LIKE {destination:
    compatible?}; HAVE_PROFILE: destinations with a catalog profile.
    Destinations without one are not judged (counted in no_profile).
    EXECUTED: the features the oracle saw the workload execute; a lost
    target whose profile lacks one of them cannot be won by a sound
    analysis (lost_executed), which bounds the recall (ceiling)."""
    judged = {d: ok for d, ok in dests.items() if d in have_profile}
    ok = {d for d, good in judged.items() if good}
    failed = {d for d, good in judged.items() if not good}
    ours = {d for d in judged if verdicts.get(d, {}).get("verdict") == "compatible"}
    lost = sorted(ok - ours)
    executed = set(executed)
    lost_executed = sorted(d for d in lost if d in verdicts and
                           executed & (set(verdicts[d].get("missing", [])) |
                                       set(verdicts[d].get("unknown", []))))
    miss = {}
    for d in lost:
        v = verdicts.get(d)
        if v is None:
            miss.setdefault("(no verdict)", []).append(d)
            continue
        for f in v.get("missing", []):
            miss.setdefault(f, []).append(d)
        for f in v.get("unknown", []):
            miss.setdefault(f + "?", []).append(d)
    criu_known = {d for d in ok if (source, d) in criu}
    return {
        "workload": workload, "source": source,
        "destinations": len(dests), "judged": len(judged),
        "no_profile": sorted(set(dests) - set(judged)),
        "no_profile_ok": sorted(d for d in set(dests) - set(judged) if dests[d]),
        "ok": len(ok), "ours": len(ours), "ours_ok": len(ours & ok),
        "recall": len(ours & ok) / len(ok) if ok else None,
        "unsafe": sorted(ours & failed),
        "criu_known": len(criu_known),
        "criu_ok": sum(1 for d in criu_known if criu[(source, d)]),
        "criu_recall": (sum(1 for d in criu_known if criu[(source, d)]) / len(criu_known)
                        if criu_known else None),
        "criu_like_ok": sum(1 for d in ok if criu_like.get(d)),
        "criu_like_recall": (sum(1 for d in ok if criu_like.get(d)) / len(ok)) if ok else None,
        "criu_like_unsafe": sorted(d for d in failed if criu_like.get(d)),
        "lost": lost,
        "lost_executed": lost_executed,
        "ceiling": (len(ok) - len(lost_executed)) / len(ok) if ok else None,
        "executed_lost_features": sorted({f.rstrip("?") for f in miss} & executed),
        "lost_miss": {f: sorted(ds) for f, ds in sorted(miss.items(),
                                                       key=lambda kv: (-len(kv[1]), kv[0]))},
    }


def fmt_ratio(x):
    return "-" if x is None else f"{x:.2f}"


def fmt_lost(row, limit=6):
    """'xsavec 8, rdseed! 2' - features missing on the lost targets, with
    counts; '!' marks a feature the oracle saw executed, '?' one the
    target's profile cannot decide."""
    seen = set(row.get("executed_lost_features", []))
    items = [f"{f}{'!' if f.rstrip('?') in seen else ''} {len(ds)}"
             for f, ds in row["lost_miss"].items()]
    more = f", +{len(items) - limit} more" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more if items else "-"


def selftest():
    """The logic above on small hand-made cases."""
    assert parse_exports("export A=\nexport B='~0x1:~0x2'\nnoise\n") == {"A": "", "B": "~0x1:~0x2"}
    assert with_intel_bit_cleared("~0x0:~0x4") == "~0x40000000:~0x4"
    assert with_intel_bit_cleared("~0x10:~0x0") == "~0x40000010:~0x0"
    zen3 = {"features": ["avx2", "fma", "sse4a", "sha_ni"]}
    assert openblas_coretype(zen3) == "ZEN" and is_amd(zen3)
    assert openblas_coretype({"features": ["avx2", "fma"]}) == "HASWELL"
    skx = ["avx512f", "avx512bw", "avx512vl", "avx512dq", "avx2", "fma"]
    assert openblas_coretype({"features": skx}) == "SKYLAKEX"
    assert openblas_coretype({"features": skx + ["avx512_bf16"]}) == "COOPERLAKE"
    assert openblas_coretype({"features": ["avx", "sse4_2"]}) == "SANDYBRIDGE"
    assert host_as_profile({"vendor": "GenuineIntel", "features": ["sse4a"]}) == {"features": []}
    # emulation blockers: monitor never, pku only for the PKU workloads,
    # code-less extras never, others when their code is mapped
    assert emulation_blockers("sha", ["monitor", "pku"], {"pku", "monitor"}) == []
    assert emulation_blockers("pypku", ["pku"], {"pku"}) == ["pku"]
    assert emulation_blockers("redis", ["sse4a"], set()) == []
    assert emulation_blockers("redis", ["sse4a"], {"sse4a"}) == ["sse4a"]
    src = {"features": ["a", "b"], "unknown": ["u"]}
    host = {"features": ["a", "b", "c", "u", "x"]}
    assert missing_here(src, host, {"a", "b", "c", "u"}) == ["c"]
    assert extras({"features": ["a", "z"]}, host) == ["z"]
    dests = {"d1": True, "d2": True, "d3": False, "d4": True, "d5": False}
    verdicts = {"d1": {"verdict": "compatible"},
                "d2": {"verdict": "incompatible", "missing": ["pku", "xsavec"], "unknown": []},
                "d3": {"verdict": "compatible"},
                "d5": {"verdict": "unknown", "missing": [], "unknown": ["avx"]}}
    criu = {("s", "d1"): False, ("s", "d2"): True}
    row = judge("w", "s", dests, verdicts, criu, {"d1": True, "d3": True},
                have_profile={"d1", "d2", "d3", "d5"}, executed={"xsavec", "sse2"})
    assert row["judged"] == 4 and row["no_profile"] == ["d4"] and row["no_profile_ok"] == ["d4"]
    assert row["ok"] == 2 and row["ours"] == 2 and row["ours_ok"] == 1
    assert row["recall"] == 0.5 and row["unsafe"] == ["d3"]
    assert row["criu_known"] == 2 and row["criu_ok"] == 1 and row["criu_recall"] == 0.5
    assert row["criu_like_ok"] == 1 and row["criu_like_unsafe"] == ["d3"]
    assert row["lost"] == ["d2"] and row["lost_miss"] == {"pku": ["d2"], "xsavec": ["d2"]}
    assert row["lost_executed"] == ["d2"] and row["ceiling"] == 0.5
    assert row["executed_lost_features"] == ["xsavec"]
    assert fmt_lost(row) == "pku 1, xsavec! 1"
    empty = judge("w", "s", {"d3": False}, {}, {}, {}, {"d3"})
    assert empty["recall"] is None and fmt_ratio(empty["recall"]) == "-"
    assert empty["ceiling"] is None
    return True


if __name__ == "__main__":
    selftest()
    print("study.py: self-test passed")
