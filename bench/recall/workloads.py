"""Start, drive and stop the study-like workloads (tests/workloads/study).

Each workload is started with the environment of the source it emulates,
waits for its "ready" line, and stays up until stop().  redis-server is
driven by redis-benchmark: a short burst before the scans, and bursts for
as long as activity() runs (the oracle's window).
"""
import os
import socket
import subprocess
import threading
import time

PYTHON = "/usr/bin/python3"   # Debian's python3 (what install-deps.sh installs)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Workload:
    """One started workload: .pid, .output() (what it printed), .alive()."""

    def __init__(self, name, root, build, env, tmp):
        self.name, self.env, self.tmp = name, env, tmp
        study = os.path.join(root, "tests", "workloads", "study")
        bins = os.path.join(root, build, "workloads", "study")
        self.port = None
        if name == "redis":
            self.port = free_port()
            cmd = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                   "--save", "", "--appendonly", "no", "--daemonize", "no", "--dir", tmp]
        elif name.startswith("py"):
            cmd = [PYTHON, "-u", os.path.join(study, name + ".py"), bins]
        else:
            program = {"adox_adcx": "rsa", "c_matrix_multiplication": "dgemm"}.get(name, name)
            cmd = [os.path.join(bins, "study_" + program)]
        self.out_path = os.path.join(tmp, name + ".out")
        full_env = dict(os.environ)
        full_env.update(env)
        with open(self.out_path, "w") as out:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, env=full_env, cwd=tmp)
        self.pid = self.proc.pid

    def output(self):
        with open(self.out_path, errors="replace") as f:
            return f.read()

    def alive(self):
        return self.proc.poll() is None

    def wait_ready(self, timeout=30.0):
        """True once the workload said "ready" (redis: answers PING)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if not self.alive():
                return False
            if self.name == "redis":
                r = subprocess.run(["redis-cli", "-p", str(self.port), "ping"],
                                   capture_output=True, text=True)
                if "PONG" in r.stdout:
                    self.benchmark(2000)   # its code paths ran once before the scans
                    return True
            elif "ready" in self.output().split():
                return True
            time.sleep(0.05)
        return False

    def benchmark(self, n):
        subprocess.run(["redis-benchmark", "-h", "127.0.0.1", "-p", str(self.port), "-n", str(n),
                        "-c", "4", "-q", "-t", "set,get,incr,lpush,lpop,sadd,hset,zadd,lrange_100"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       env=clean_env(), timeout=120)

    def activity(self, stop):
        """What drives the workload during the oracle's window (until STOP
        is set): redis-benchmark bursts; the others loop on their own."""
        if self.name != "redis":
            return
        while not stop.is_set() and self.alive():
            self.benchmark(3000)

    def stop(self):
        if self.alive():
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def clean_env():
    """Helpers (redis-benchmark, redis-cli) run without the emulation."""
    env = dict(os.environ)
    for name in ("GLIBC_TUNABLES", "OPENSSL_ia32cap", "NPY_DISABLE_CPU_FEATURES",
                 "OPENBLAS_CORETYPE", "STUDY_HIDE", "LD_BIND_NOW"):
        env.pop(name, None)
    return env


def observe(binary, workload, seconds, out_path):
    """`migratable observe PID --check --json --seconds S` while the
    workload is driven; returns (exit status, stderr text)."""
    stop = threading.Event()
    lines = []
    driver = None
    with open(out_path, "w") as out:
        proc = subprocess.Popen([binary, "observe", str(workload.pid), "--check", "--json",
                                 "--seconds", str(seconds)],
                                stdout=out, stderr=subprocess.PIPE, text=True, env=clean_env())
        for line in proc.stderr:
            lines.append(line)
            if "window open" in line and driver is None:
                driver = threading.Thread(target=workload.activity, args=(stop,), daemon=True)
                driver.start()
        rc = proc.wait()
    stop.set()
    if driver is not None:
        driver.join(timeout=150)
    return rc, "".join(lines)
