"""The tables of bench/recall.sh (rows from run.py / study.judge)."""
import statistics

import study


def host_line(host):
    return (f"{host.get('brand', '?').strip()} (family {host.get('family', '?')} model "
            f"{host.get('model', '?')}, {len(host.get('features', []))} usable features)")


def env_line(env):
    keep = ("GLIBC_TUNABLES", "OPENSSL_ia32cap", "OPENBLAS_CORETYPE", "STUDY_HIDE")
    return ", ".join(f"{k}={env.get(k) or '(none)'}" for k in keep)


def source_table(rows):
    out = ["| workload | emulated | migrated ok | ours | recall | ceiling | unsafe | CRIU recall "
           "| criu-like recall | lost targets miss |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        emu = "yes" if r["emulated"] else "**no**: " + r["not_emulated_why"]
        ours = f"{r['ours']} ({r['ours_ok']} ok)"
        recall = study.fmt_ratio(r["recall"])
        unsafe = str(len(r["unsafe"]))
        if r["unsafe"]:
            unsafe = f"**{unsafe}: {', '.join(r['unsafe'])}**"
        ceiling = study.fmt_ratio(r["ceiling"])
        if not r["emulated"]:   # shown, never counted
            ours, recall, ceiling, unsafe = f"({ours})", f"({recall})", f"({ceiling})", f"({unsafe})"
        criu = f"{study.fmt_ratio(r['criu_recall'])} ({r['criu_ok']}/{r['criu_known']})"
        like = f"{study.fmt_ratio(r['criu_like_recall'])} ({r['criu_like_ok']}/{r['ok']})"
        out.append(f"| {r['workload']} | {emu} | {r['ok']} of {r['judged']} | {ours} | {recall} "
                   f"| {ceiling} | {unsafe} | {criu} | {like} "
                   f"| {study.fmt_lost(r)} |")
    return out


def median(xs):
    xs = [x for x in xs if x is not None]
    return study.fmt_ratio(statistics.median(xs)) if xs else "-"


def summary_table(sources, rows):
    out = ["| source | emulated workloads | recall median (min) | recall >= 0.95 | ceiling median "
           "| unsafe | CRIU recall median | criu-like recall median | not emulated |",
           "|---|---|---|---|---|---|---|---|---|"]
    for s in sources:
        rs = [r for r in rows if r["source"] == s]
        emu = [r for r in rs if r["emulated"]]
        rec = [r["recall"] for r in emu if r["recall"] is not None]
        unsafe = sum(len(r["unsafe"]) for r in emu)
        out.append(
            f"| {s} | {len(emu)} of {len(rs)} | {median(rec)} "
            f"({study.fmt_ratio(min(rec)) if rec else '-'}) "
            f"| {sum(1 for x in rec if x >= 0.95)} of {len(rec)} "
            f"| {median([r['ceiling'] for r in emu])} "
            f"| {('**%d**' % unsafe) if unsafe else 0} "
            f"| {median([r['criu_recall'] for r in emu])} "
            f"| {median([r['criu_like_recall'] for r in emu])} "
            f"| {', '.join(r['workload'] for r in rs if not r['emulated']) or '-'} |")
    return out


def failing_everywhere(outcomes, source, dest):
    """The study's workloads whose migration SOURCE -> DEST failed, of those
    that tried it: (failed, tried)."""
    tried = [o[source][dest] for o in outcomes.values() if dest in o.get(source, {})]
    return sum(1 for ok in tried if not ok), len(tried)


def warnings(rows, outcomes):
    """Unsafe verdicts (per source: which destinations, for how many of
    our workloads, and how many of the study's workloads failed on that
    pair at all) and oracle misses."""
    out = []
    unsafe = {}
    for r in rows:
        if r["emulated"]:
            for d in r["unsafe"]:
                unsafe.setdefault(r["source"], {}).setdefault(d, []).append(r["workload"])
    for s, dests in sorted(unsafe.items()):
        notes = []
        for d, ws in sorted(dests.items()):
            failed, tried = failing_everywhere(outcomes, s, d)
            notes.append(f"{d} ({len(ws)}; {failed}/{tried})")
        out.append(f"UNSAFE from {s} (a soundness bug for the lead, unless the source's "
                   f"profile is not the CPU the study migrated from): we call compatible "
                   f"(for how many of our workloads; how many of the study's workloads failed "
                   f"on that pair) " + ", ".join(notes))
        if r["oracle_unit_misses"] or r["oracle_feature_misses"]:
            out.append(f"ORACLE MISS (soundness bug): {r['workload']} emulating {r['source']}: "
                       f"{r['oracle_unit_misses']} executed functions the scan missed, "
                       f"features {', '.join(r['oracle_feature_misses']) or 'none'}")
    return sorted(set(out))


def render(st, primary, sources, no_profile, rows, full=True):
    """Markdown: the host, the primary source's table, the summary per
    source, (FULL) every other source's table, and loud warnings."""
    out = ["# Recall against the study's real migrations", "",
           f"host: {host_line(st.host)}", ""]
    dests = sorted({d for r in rows for d in r["no_profile"]})
    if no_profile:
        out.append(f"study sources without a catalog profile (not run): {', '.join(no_profile)}")
    if dests:
        out.append(f"destinations without a catalog profile (not judged): {', '.join(dests)}")
    out.append("")
    for s in ([primary] + [x for x in sources if x != primary] if full else [primary]):
        rs = [r for r in rows if r["source"] == s]
        if not rs:
            continue
        out += [f"## From {s}", "", "emulated with " + env_line(rs[0]["env"]), ""]
        out += source_table(rs)
        emu = [r for r in rs if r["emulated"]]
        out += ["", f"{sum(1 for r in emu if (r['recall'] or 0) >= 0.95)} of {len(emu)} emulated "
                f"workloads reach recall 0.95; unsafe verdicts: "
                f"{sum(len(r['unsafe']) for r in emu)}", ""]
        if s == primary and len(sources) > 1:
            out += ["## Summary per source", ""] + summary_table(sources, rows) + [""]
    warn = warnings(rows, st.outcomes)
    if warn:
        out += ["## WARNINGS", ""] + [f"* **{w}**" for w in warn] + [""]
    return "\n".join(out)
