#!/usr/bin/env python3
"""bench/jit.py BUILD - JIT engines: what their model buys (make jit-bench).

For each engine started here (java 17 default and -XX:UseAVX=2, node 20
default and --no-enable-avx2) prints the scan's wall time and pause, the
bytes decoded, and the required features three ways:
  present   the code there now (--assume no-new-code: unsound)
  model     the sound answer, with the engine's own CPU view
  widened   what it would be if the engine were not modelled: present
            plus every feature of this CPU a code generator could use
            (taken from wl_jit_later, a generator no model covers)
The CPU is printed with the figures.
"""
import json, os, subprocess, sys, tempfile, time

build = sys.argv[1] if len(sys.argv) > 1 else "build"
mg = os.path.join(build, "migratable")

def cpu():
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "?"

def start(argv, cwd=None):
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, cwd=cwd, text=True,
                         start_new_session=True)
    deadline = time.time() + 30
    while time.time() < deadline:
        line = p.stdout.readline()
        if "ready" in line:
            time.sleep(1.0)          # let the JIT compile the hot loop
            return p
    p.kill()
    raise SystemExit(f"{argv[0]} did not get ready")

def scan(pid, *extra):
    out = subprocess.run([mg, "scan", str(pid), "--json", *extra],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)

def stop(p):
    os.killpg(p.pid, 9)
    p.wait()

def generator_set():
    p = start([os.path.join(build, "workloads", "wl_jit_later")])
    try:
        r = scan(p.pid)
    finally:
        stop(p)
    for g in r["code_generators"]:
        if g["engine"] == "unknown":
            return set(g["features"])
    raise SystemExit("wl_jit_later: no unknown generator")

def main():
    widen = generator_set()
    tmp = tempfile.mkdtemp()
    subprocess.run(["javac", "-d", tmp, "tests/workloads/java/Ready.java"], check=True)
    node_loop = ("let s = 0; console.log('ready');"
                 "setInterval(() => { for (let i = 0; i < 1e6; i++) s += i * 31; }, 10);")
    cases = [
        ("java 17", ["java", "-cp", tmp, "Ready"]),
        ("java 17 -XX:UseAVX=2", ["java", "-XX:UseAVX=2", "-cp", tmp, "Ready"]),
        ("node 20", ["node", "-e", node_loop]),
        ("node 20 --no-enable-avx2", ["node", "--no-enable-avx2", "-e", node_loop]),
    ]
    print(f"CPU: {cpu()}, {os.cpu_count()} cores")
    print(f"{'engine':28} {'wall ms':>8} {'pause ms':>9} {'MB':>6} {'present':>8} "
          f"{'model':>6} {'widened':>8}  avx512 (model)")
    for name, argv in cases:
        p = start(argv)
        try:
            sound = scan(p.pid)
            present = scan(p.pid, "--assume=no-new-code")
        finally:
            stop(p)
        req, pres = set(sound["required_features"]), set(present["required_features"])
        widened = pres | widen
        st = sound["stats"]
        avx512 = sorted(f for f in req if f.startswith("avx512"))
        print(f"{name:28} {st['wall_ms']:8.0f} {st['pause_ms']:9.2f} "
              f"{st['bytes_decoded'] / 1e6:6.1f} {len(pres):8} {len(req):6} {len(widened):8}"
              f"  {len(avx512)}")
    subprocess.run(["rm", "-rf", tmp])

main()
