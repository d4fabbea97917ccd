#!/usr/bin/env python3
"""The price of `migratable run`: each corpus workload's own loop, a fixed
amount of work, timed with and without the restriction.

usage: slowdown.py MIGRATABLE OUT_DIR REPS CONDITION...

OUT_DIR/COND/targets holds the run options of a condition (none: empty).
Conditions are interleaved within each repetition (so that load on the
shared machine hits all alike), REPS times; the median wall time of each
is reported with the slowdown against `none`.  The C/C++ corpus programs
have no loop of their own (they wait for signals), so they are not timed.
"""
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def make_input(tmp):
    """32 MiB of real bytes (programs), and an 8 MiB prefix for xz."""
    big, small = os.path.join(tmp, "in.32m"), os.path.join(tmp, "in.8m")
    data = b""
    for name in sorted(os.listdir("/usr/bin")):
        p = os.path.join("/usr/bin", name)
        if name[0] in "abc" and os.path.isfile(p) and not os.path.islink(p):
            with open(p, "rb") as f:
                data += f.read()
        if len(data) >= 32 << 20:
            break
    while len(data) < 32 << 20:
        data += data
    with open(big, "wb") as f:
        f.write(data[:32 << 20])
    with open(small, "wb") as f:
        f.write(data[:8 << 20])
    return big, small


def sql_script(tmp):
    path = os.path.join(tmp, "bench.sql")
    with open(path, "w") as f:
        f.write("create table t(a integer, b text);\n")
        for _ in range(60):
            f.write("insert into t select value, hex(randomblob(16)) from generate_series(1,200);\n"
                    "select b, count(*), sum(a), avg(length(b)) from t group by substr(b,1,2) "
                    "order by 2 desc limit 3;\n"
                    "create index if not exists ti on t(b); select count(*) from t where b like 'A%';\n"
                    "select json_object('n', count(*)) from t;\n")
    return path


def timed(argv, stdin=None):
    with open(stdin or os.devnull, "rb") as fin:
        t0 = time.perf_counter()
        subprocess.run(argv, stdin=fin, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       check=True)
        return time.perf_counter() - t0


def redis_run(prefix):
    port = free_port()
    with tempfile.TemporaryDirectory() as d:
        srv = subprocess.Popen(prefix + ["redis-server", "--port", str(port), "--bind",
                                         "127.0.0.1", "--save", "", "--appendonly", "no",
                                         "--dir", d], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
        try:
            for _ in range(200):
                if subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True,
                                  text=True).stdout.strip() == "PONG":
                    break
                time.sleep(0.02)
            return timed(["redis-benchmark", "-p", str(port), "-n", "60000", "-c", "4", "-q",
                          "-t", "set,get,incr,lpush,lpop,sadd,hset"])
        finally:
            srv.terminate()
            srv.wait()


def main():
    mig, out, reps, conds = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:]
    tmp = tempfile.mkdtemp()
    big, small = make_input(tmp)
    sql = sql_script(tmp)
    key = ["-K", "00112233445566778899aabbccddeeff", "-iv", "0102030405060708090a0b0c0d0e0f10"]
    work = {
        "python_numpy": lambda p: timed(p + ["/usr/bin/python3", os.path.join(HERE, "py_loop.py"),
                                             "2000"]),
        "redis": redis_run,
        "sqlite3": lambda p: timed(p + ["sqlite3", ":memory:"], sql),
        "gzip": lambda p: timed(p + ["gzip", "-c"], big),
        "zstd": lambda p: timed(p + ["zstd", "-q", "-c", "-T1", "-6"], big),
        "xz": lambda p: timed(p + ["xz", "-c", "-T1", "-1"], small),
        "openssl": lambda p: timed(p + ["openssl", "dgst", "-sha256", big, big, big]) +
                             timed(p + ["openssl", "enc", "-aes-128-cbc"] + key + ["-in", big,
                                                                                   "-out", "/dev/null"]),
    }
    prefix = {}
    for c in conds:
        with open(os.path.join(out, c, "targets")) as f:
            targs = [l.rstrip("\n") for l in f if l.strip()]
        prefix[c] = [mig, "run", "--quiet"] + targs + ["--"] if targs else []
    times = {(w, c): [] for w in work for c in conds}
    for _ in range(reps):
        for w, fn in work.items():
            for c in conds:
                times[(w, c)].append(fn(prefix[c]))
    base = "none" if "none" in conds else conds[0]
    print("\nslowdown of each workload's own loop (median of %d, wall seconds; "
          "%% = time / time without run - 1)" % reps)
    print("%-13s" % "workload" + "".join("%16s" % c for c in conds))
    for w in work:
        b = statistics.median(times[(w, base)])
        cells = []
        for c in conds:
            m = statistics.median(times[(w, c)])
            cells.append("%7.3f %+6.1f%%" % (m, 100 * (m / b - 1)) if c != base else "%7.3f        " % m)
        print("%-13s" % w + "".join("%16s" % x for x in cells))
    subprocess.run(["rm", "-rf", tmp], check=True)


if __name__ == "__main__":
    main()
