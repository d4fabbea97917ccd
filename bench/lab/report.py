#!/usr/bin/env python3
"""report.py LABOUT [--models "M..."] [--workloads "W..."] [--json FILE] [--matrix]

Reads the run directory of bench/lab.sh and prints a Markdown report: one
row per (workload, model) pair with our verdict for the model, whether
CRIU restored the checkpoint, how the process ended, and the pair's class:

  ok           compatible, restored, survived the window (or exited 0)
  UNSAFE       compatible, but died of SIGILL or failed to restore for a
               CPU reason: a verdict that was wrong (must never happen)
  confirmed    incompatible, and died of SIGILL (or of another signal after
               its own handler reported a SIGILL, as redis does; or the
               restore failed for a CPU reason): the missing feature's
               code ran
  unexercised  incompatible, but survived the window
  died         ended otherwise (another signal, a non-zero exit): no CPU
               evidence either way; counted apart
  not-restored the restore failed for a reason that is not the CPU
  not-run      no dump (CRIU could not dump it) or no guest result

The scored verdict is the one against the profile `migratable host --json`
measured inside the guest (what TCG offers for the model); libvirt's model
of the same name is shown beside it.  Exit status 1 if any pair is
UNSAFE, 2 on bad arguments.

Layout read (written by bench/lab.sh and bench/lab/*.sh):
  LABOUT/source.env                     key=value: source, times, host CPU,
                                        lab_root (the root the dumps ran in)
  LABOUT/dumps/W/maps.before            the dumped process's maps (for the
                                        file a trap names: objdump says
                                        which instruction faulted)
  LABOUT/dumps/W/lab.env                NSPID=, PORT= (absent: dump failed)
  LABOUT/dumps/W/dump.err               the harness' message when it failed
  LABOUT/dumps/W/libvirt.json           check --catalog libvirt --json
  LABOUT/out/M/guest.env                key=value: kernel, cpu, host_wall_s
  LABOUT/out/M/W.result                 key=value (restore-one.sh)
  LABOUT/out/M/W.reaper                 pid=N exited=S | pid=N signal=NAME
  LABOUT/out/M/W.verdict.json           check --target profile.json --json
  LABOUT/out/M/W.wl.out                 the end of the process's output: a
                                        crash handler's SIGILL report
  LABOUT/out/M/dmesg.txt                the guest's kernel log (trap lines;
                                        print_fatal_signals=1 register dumps)
"""
import argparse
import json
import os
import re
import subprocess
import sys

# Restore failures that name the CPU: the FPU/xsave state or CPU checks.
CPU_RESTORE_RE = re.compile(r"xsave|xstate|xfeature|fpu|cpuinfo|cpu feature|SIGILL|illegal instruction",
                            re.IGNORECASE)
# A crash handler that reports SIGILL before the process dies of another
# signal (redis: "Redis ... crashed by signal: 4").
HANDLED_SIGILL_RE = re.compile(r"crashed by signal: 4\b|\bSIGILL\b|Illegal instruction")
TRAP_RE = re.compile(r"traps: (\S+)\[(\d+)\] trap invalid opcode (.*)")
WORKLOAD_COMM = {  # the kernel's comm (15 characters) of each workload
    "c_lazy": "corpus_c_lazy", "c_now": "corpus_c_now", "cxx": "corpus_cxx",
    "python_numpy": "python3", "redis": "redis-server", "sqlite3": "sqlite3",
    "gzip": "gzip", "zstd": "zstd", "xz": "xz", "openssl": "openssl",
}


def read_kv(path):
    """key=value lines of a file ({} when it is missing)."""
    kv = {}
    try:
        with open(path, errors="replace") as f:
            for line in f:
                if "=" in line:
                    k, v = line.rstrip("\n").split("=", 1)
                    kv[k.strip()] = v
    except OSError:
        pass
    return kv


def read_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def read_text(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


# Error lines CRIU 4.1 also logs in dumps and restores that succeed.
BENIGN_ERROR_RE = re.compile(r"criu/tun\.c|RLIMIT_NOFILE|Diag module missing")


def first_error(log):
    """The first Error line of a CRIU log that is not one of the benign
    probes, else the first Error line, else ""."""
    errors = [line for line in log.splitlines() if "Error" in line]
    for e in errors:
        if not BENIGN_ERROR_RE.search(e):
            return e
    return errors[0] if errors else ""


def dump_failure(d):
    """Why the dump in directory D failed: CRIU's first significant error
    when criu dump ran, else the harness' last message."""
    e = first_error(read_text(os.path.join(d, "img", "dump.log")))
    if e:
        return "criu dump: " + e
    err = read_text(os.path.join(d, "dump.err")).strip().splitlines()
    return err[-1] if err else "no dump"


def verdict_of(check_json, name=None):
    """(verdict, missing) of the target NAME (or the only target) of a
    `check --json` answer; (None, []) when absent."""
    if not check_json:
        return None, []
    for t in check_json.get("targets", []):
        if name is None or t.get("name") == name:
            return t.get("verdict"), list(t.get("missing", [])) + list(t.get("unknown", []))
    return None, []


def process_end(reaper_text, pid):
    """How process PID ended according to lab_reaper's log: ('signal',
    'ILL'), ('exited', '0') or None (not reaped: still alive)."""
    for line in reaper_text.splitlines():
        m = re.match(r"pid=(\d+) (exited|signal)=(\S+)", line)
        if m and m.group(1) == str(pid):
            return m.group(2), m.group(3)
    return None


def classify(verdict, restored, cpu_restore_failure, end, alive):
    """The class of one pair (see the module's docstring)."""
    compatible = verdict == "compatible"
    if not restored:
        if cpu_restore_failure:
            return "UNSAFE" if compatible else "confirmed"
        return "not-restored"
    if end == ("signal", "ILL"):
        return "UNSAFE" if compatible else "confirmed"
    if end is None and alive:
        return "ok" if compatible else "unexercised"
    if end == ("exited", "0"):
        return "ok" if compatible else "unexercised"
    return "died"


def pair(labout, model, w):
    """Everything known about one (workload, model) pair, as a dict."""
    d = os.path.join(labout, "dumps", w)
    o = os.path.join(labout, "out", model)
    env = read_kv(os.path.join(d, "lab.env"))
    row = {"workload": w, "model": model}
    row["verdict"], row["missing"] = verdict_of(read_json(os.path.join(o, w + ".verdict.json")))
    row["libvirt"], row["libvirt_missing"] = verdict_of(read_json(os.path.join(d, "libvirt.json")), model)
    if "NSPID" not in env:
        row.update(cls="not-run", restore="not dumped", outcome="-", evidence=dump_failure(d))
        return row
    res = read_kv(os.path.join(o, w + ".result"))
    if "restore_rc" not in res:
        row.update(cls="not-run", restore="no result", outcome="-", evidence="the guest wrote no result")
        return row
    restored = res["restore_rc"] == "0"
    log = read_text(os.path.join(o, w + ".restore.log"))
    errors = [line for line in log.splitlines() if "Error" in line]
    cpu_fail = not restored and any(CPU_RESTORE_RE.search(e) for e in errors)
    end = process_end(read_text(os.path.join(o, w + ".reaper")), env["NSPID"])
    handled = None
    if end is not None and end != ("signal", "ILL") and end != ("exited", "0"):
        # Its own handler caught the SIGILL, reported it, and died otherwise.
        for line in read_text(os.path.join(o, w + ".wl.out")).splitlines():
            if HANDLED_SIGILL_RE.search(line):
                handled = line.strip()
                break
    alive = res.get("alive") == "yes"
    if row["verdict"] is None:
        row.update(cls="not-run", restore="?", outcome="-", evidence="no verdict (scan failed?)")
        return row
    row["cls"] = classify(row["verdict"], restored, cpu_fail, ("signal", "ILL") if handled else end, alive)
    row["restore"] = ("ok %s ms" % res.get("restore_ms", "?")) if restored else \
        ("failed (CPU)" if cpu_fail else "failed")
    if not restored:
        row["outcome"] = "-"
    elif end is None:
        row["outcome"] = "survived %s s" % res.get("window_s", "?") if alive else "gone (not reaped)"
    else:
        row["outcome"] = ("SIG" + end[1]) if end[0] == "signal" else "exit %s" % end[1]
        if handled:
            row["outcome"] += " after a handled SIGILL"
    evidence = handled or ""
    if not restored:
        evidence = first_error(log) or res.get("restore_error", "")
    elif end == ("signal", "ILL"):
        comm = WORKLOAD_COMM.get(w, w)[:15]
        for m in TRAP_RE.finditer(read_text(os.path.join(o, "dmesg.txt"))):
            if m.group(1) == comm:
                insn = faulting_instruction(labout, w, m.group(3))
                evidence = insn or ("trap invalid opcode " + m.group(3))
    elif end is not None and end[0] == "signal" and not handled:
        signo = {"SEGV": 11, "BUS": 7, "FPE": 8, "TRAP": 5}.get(end[1])
        if signo:
            insn = fatal_signal_instruction(read_text(os.path.join(o, "dmesg.txt")),
                                            WORKLOAD_COMM.get(w, w)[:15], signo)
            if insn:
                evidence = "SIG%s raised at: %s" % (end[1], insn)
    row["evidence"] = evidence
    return row


def faulting_instruction(labout, w, trap):
    """The instruction at a trap line's "in FILE[OFFSET,BASE+SIZE]" (a
    file offset), disassembled with objdump from the lab root's copy of the
    file the dump mapped (LABOUT/dumps/W/maps.before names its path); ""
    when the file or binutils cannot say."""
    m = re.search(r" in (\S+)\[([0-9a-f]+),", trap)
    root = read_kv(os.path.join(labout, "source.env")).get("lab_root")
    if not m or not root:
        return ""
    name, off = m.group(1), int(m.group(2), 16)
    path = None
    for line in read_text(os.path.join(labout, "dumps", w, "maps.before")).splitlines():
        f = line.split()
        if len(f) >= 6 and os.path.basename(f[5]) == name:
            path = root + f[5]
            break
    if path is None or not os.path.isfile(path):
        return ""
    try:
        ph = subprocess.run(["readelf", "-lW", path], capture_output=True, text=True, timeout=20).stdout
        vaddr = None
        for seg in re.finditer(r"LOAD\s+0x([0-9a-f]+) 0x([0-9a-f]+) \S+ 0x([0-9a-f]+)", ph):
            p_off, p_vaddr, p_filesz = (int(x, 16) for x in seg.groups())
            if p_off <= off < p_off + p_filesz:
                vaddr = off - p_off + p_vaddr
        if vaddr is None:
            return ""
        dis = subprocess.run(["objdump", "-d", "--no-show-raw-insn", "-M", "intel",
                              "--start-address=%#x" % vaddr, "--stop-address=%#x" % (vaddr + 16), path],
                             capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return ""
    for line in dis.splitlines():
        m2 = re.match(r"\s*%x:\s+(.*)" % vaddr, line)
        if m2:
            return "%s+%#x: %s" % (name, vaddr, " ".join(m2.group(1).split()))
    return ""


CLASSES = ("UNSAFE", "confirmed", "unexercised", "ok", "died", "not-restored", "not-run")


def fatal_signal_instruction(dmesg, comm, signo):
    """The instruction a fatal signal SIGNO of COMM was raised at, decoded
    from the "Code:" bytes (the faulting one marked <xx>) that the guest
    kernel logs with print_fatal_signals=1; "" when absent."""
    lines = dmesg.splitlines()
    for i, line in enumerate(lines):
        if not re.search(r"potentially unexpected fatal signal %d\." % signo, line):
            continue
        block = lines[i:i + 12]
        if not any(("Comm: %s " % comm) in b for b in block):
            continue
        for b in block:
            m = re.search(r"Code: .*?<([0-9a-f]{2})>((?: [0-9a-f]{2})*)", b)
            if m:
                code = bytes.fromhex(m.group(1) + m.group(2).replace(" ", ""))
                return disassemble(code)
    return ""


def disassemble(code):
    """The first instruction of CODE (x86-64 bytes), by objdump; hex if not."""
    import tempfile
    try:
        with tempfile.NamedTemporaryFile(suffix=".bin") as f:
            f.write(code)
            f.flush()
            dis = subprocess.run(["objdump", "-D", "-b", "binary", "-m", "i386:x86-64", "-M", "intel",
                                  "--no-show-raw-insn", f.name],
                                 capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        dis = ""
    for line in dis.splitlines():
        m = re.match(r"\s*0:\s+(.*)", line)
        if m:
            return " ".join(m.group(1).split())
    return code.hex()


def summarize(rows):
    counts = {c: 0 for c in CLASSES}
    for r in rows:
        counts[r["cls"]] = counts.get(r["cls"], 0) + 1
    return counts


def cell(s):
    return str(s).replace("|", "\\|")


def render(labout, rows, models):
    src = read_kv(os.path.join(labout, "source.env"))
    out = []
    out.append("Source of the checkpoints: %s (%s, kernel %s); guests: %s, %s, kernel %s, %s cores."
               % (src.get("source", "?"), src.get("host_cpu", "?"), src.get("host_kernel", "?"),
                  src.get("qemu", "?"), src.get("criu", "?"), src.get("guest_kernel", "?"),
                  src.get("cores", "?")))
    out.append("")
    out.append("| workload | -cpu | verdict (guest profile) | missing | libvirt model | restore | outcome | class | evidence |")
    out.append("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        out.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % tuple(cell(x) for x in (
            r["workload"], r["model"], r["verdict"] or "-", " ".join(r["missing"]) or "-",
            r["libvirt"] or "-", r["restore"], r["outcome"], r["cls"], r["evidence"][:200] or "-")))
    out.append("")
    out.append("| -cpu | guest CPU | TCG lacks of the model | boot + restores (s) |")
    out.append("|---|---|---|---|")
    for m in models:
        g = read_kv(os.path.join(labout, "out", m, "guest.env"))
        lacks = read_text(os.path.join(labout, "out", m, "tcg-missing.txt")).split()
        lacks = sorted({re.sub(r".*\.(\S+)", r"\1", x) for x in lacks if "." in x})
        out.append("| %s | %s | %s | %s |" % (m, cell(g.get("cpu", "?")), " ".join(lacks) or "-",
                                             g.get("host_wall_s", "?")))
    c = summarize(rows)
    out.append("")
    out.append("pairs %d: unsafe %d, confirmed %d, unexercised %d, ok %d, died %d, not-restored %d, not-run %d"
               % (len(rows), c.get("UNSAFE", 0), c.get("confirmed", 0), c.get("unexercised", 0),
                  c.get("ok", 0), c.get("died", 0), c.get("not-restored", 0), c.get("not-run", 0)))
    lv = [r for r in rows if r.get("libvirt") == "compatible"]
    lv_bad = [r for r in lv if r["cls"] in ("UNSAFE", "confirmed")]
    out.append("against libvirt's models of the same names: %d pairs compatible, %d of them died of SIGILL"
               " or failed to restore for a CPU reason" % (len(lv), len(lv_bad)))
    out.append("time: dump %s s, guests %s s (two at a time), total %s s"
               % (src.get("dump_s", "?"), src.get("restore_s", "?"), src.get("total_s", "?")))
    return "\n".join(out), c


def mnemonic(evidence):
    """The mnemonic in an evidence string ("libc.so.6+0x1b: vmovd xmm0,esi",
    "SIGSEGV raised at: vpcmpeqb ...") or ""."""
    m = re.search(r": ([a-z][a-z0-9]*)\b", evidence)
    return m.group(1) if m and not evidence.startswith("criu") else ""


def matrix(rows, models, workloads):
    """One line per workload, one column per model: the class, and for a
    death the faulting instruction's mnemonic."""
    by = {(r["workload"], r["model"]): r for r in rows}
    out = ["| workload | " + " | ".join(models) + " |", "|---" * (len(models) + 1) + "|"]
    for w in workloads:
        cells = []
        for m in models:
            r = by[(w, m)]
            c = {"UNSAFE": "**UNSAFE**", "not-run": "not dumped" if r["restore"] == "not dumped" else "not run"
                 }.get(r["cls"], r["cls"])
            insn = mnemonic(r["evidence"]) if r["cls"] in ("UNSAFE", "confirmed", "died") else ""
            cells.append(c + (" (%s)" % insn if insn else ""))
        out.append("| %s | %s |" % (w, " | ".join(cells)))
    return "\n".join(out)


def main(argv):
    ap = argparse.ArgumentParser(description="report of a bench/lab.sh run")
    ap.add_argument("labout")
    ap.add_argument("--models")
    ap.add_argument("--workloads")
    ap.add_argument("--json")
    ap.add_argument("--matrix", action="store_true", help="also print a workload x model matrix")
    a = ap.parse_args(argv)
    if not os.path.isdir(a.labout):
        print("report.py: %s is not a directory" % a.labout, file=sys.stderr)
        return 2
    models = a.models.split() if a.models else sorted(
        m for m in os.listdir(os.path.join(a.labout, "out")) if not m.startswith("dump-"))
    workloads = a.workloads.split() if a.workloads else sorted(os.listdir(os.path.join(a.labout, "dumps")))
    rows = [pair(a.labout, m, w) for w in workloads for m in models]
    text, counts = render(a.labout, rows, models)
    print(text)
    if a.matrix:
        print()
        print(matrix(rows, models, workloads))
    if a.json:
        with open(a.json, "w") as f:
            lv = [r for r in rows if r.get("libvirt") == "compatible"]
            json.dump({"pairs": rows, "counts": counts,
                       "libvirt": {"compatible": len(lv),
                                   "died_of_cpu": sum(r["cls"] in ("UNSAFE", "confirmed") for r in lv)}},
                      f, indent=1)
    return 1 if counts.get("UNSAFE", 0) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
