#!/usr/bin/python3
"""Performance benchmark of `migratable scan` (issue 6).

Started by bench/run.sh (`make bench`). Measures, for real and synthetic
workloads it starts itself and for both methods (reachable, full):

  * the tool's wall time (its own stats.wall_ms and the process's wall time),
    CPU time (user + system) and peak RSS (wait4 rusage);
  * the target's pause (stats.pause_ms);
  * bytes decoded, functions reachable / total, and throughput in MB decoded
    per wall second and per CPU second (= per core: the scan is one thread);
  * `objdump -d --no-show-raw-insn` over the same executable files the
    process maps, and the ratio objdump / scan, which stays comparable across
    machines and loads where absolute times do not;
  * scaling: scan cost vs mapped code size and vs heap size, and the tool's
    peak RSS vs heap size.

Every figure is the median of --reps repetitions. Results go to a table on
stdout and to BUILD/bench/results.json. Every process started here is killed
on exit (also on SIGINT/SIGTERM); bench/run.sh backs this up with a trap.
"""
import argparse
import json
import os
import platform
import re
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SYSTEM_PYTHON = "/usr/bin/python3"	# Debian's, where python3-numpy lives
MIB = 1 << 20
MB = 1e6			# throughput is in MB/s (10^6 bytes), as the goals are

# Acceptance goals of issue 6.
GOAL_OBJDUMP_RATIO = 20.0	# reachable on python3+numpy vs objdump -d
GOAL_PAUSE_MS = 10.0
GOAL_FULL_MBS_PER_CORE = 50.0
GOAL_RSS_MIB = 200.0
GOAL_RSS_FLAT = 1.20		# peak RSS at the largest heap / at the smallest
GOAL_COLD_RATIO = 3.0		# issue 11: reachable vs full, no cache, C+OpenBLAS


class Children:
	"""Every process this run starts, so that all of them die with it."""

	def __init__(self, pidfile):
		self.procs = []
		self.pidfile = pidfile

	def start(self, argv, **kw):
		kw.setdefault("stdin", subprocess.DEVNULL)
		# Own session: killing the group also gets the workload's children.
		p = subprocess.Popen(argv, start_new_session=True, **kw)
		self.procs.append(p)
		if self.pidfile:
			with open(self.pidfile, "a") as f:
				f.write("%d\n" % p.pid)
		return p

	def stop(self, p):
		if p.poll() is None:
			try:
				os.killpg(p.pid, signal.SIGTERM)
			except ProcessLookupError:
				pass
			try:
				p.wait(timeout=5)
			except subprocess.TimeoutExpired:
				os.killpg(p.pid, signal.SIGKILL)
				p.wait()
		if p in self.procs:
			self.procs.remove(p)

	def stop_all(self):
		for p in list(self.procs):
			try:
				self.stop(p)
			except Exception:	# keep going: the others must die too
				pass


def wait_ready(p, what, timeout=180.0):
	"""Wait for a line containing "ready" on the workload's stdout."""
	deadline = time.monotonic() + timeout
	buf = b""
	while time.monotonic() < deadline:
		if p.poll() is not None:
			raise RuntimeError("%s exited with %s before it was ready" % (what, p.returncode))
		r, _, _ = select.select([p.stdout], [], [], 0.2)
		if not r:
			continue
		chunk = os.read(p.stdout.fileno(), 4096)
		buf += chunk
		if b"ready" in buf:
			return buf.decode(errors="replace").strip()
	raise RuntimeError("%s: not ready after %.0f s" % (what, timeout))


RUNNING = None		# the measured command in flight (scan, objdump), if any


def run_measured(argv, stdout=subprocess.DEVNULL):
	"""Run argv to completion; return (exit status, wall s, cpu s, maxrss KiB)."""
	global RUNNING
	t0 = time.monotonic()
	p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=stdout,
			     stderr=subprocess.PIPE if stdout is not subprocess.DEVNULL
			     else subprocess.DEVNULL)
	RUNNING = p
	# wait4 gives this child's own rusage (not summed over all children).
	_, status, ru = os.wait4(p.pid, 0)
	RUNNING = None
	wall = time.monotonic() - t0
	p.returncode = os.waitstatus_to_exitcode(status)
	err = p.stderr.read().decode(errors="replace") if p.stderr else ""
	if p.stderr:
		p.stderr.close()
	return p.returncode, wall, (ru.ru_utime, ru.ru_stime), ru.ru_maxrss, err


def proc_maps(pid):
	"""Executable files the process maps (unique, in order) and exec bytes."""
	files, exec_bytes = [], 0
	with open("/proc/%d/maps" % pid) as f:
		for line in f:
			parts = line.split(None, 5)
			if len(parts) < 5 or "x" not in parts[1]:
				continue
			lo, hi = (int(x, 16) for x in parts[0].split("-"))
			path = parts[5].strip() if len(parts) > 5 else ""
			if path == "[vsyscall]" or path == "[vdso]":
				continue
			exec_bytes += hi - lo
			if path.startswith("/") and not path.endswith(" (deleted)") \
			   and path not in files:
				files.append(path)
	return files, exec_bytes


def proc_threads(pid):
	try:
		return len(os.listdir("/proc/%d/task" % pid))
	except OSError:
		return 0


def loadavg():
	with open("/proc/loadavg") as f:
		return [float(x) for x in f.read().split()[:3]]


def median(xs):
	xs = [x for x in xs if x is not None]
	return statistics.median(xs) if xs else None


class Bench:
	def __init__(self, args):
		self.args = args
		self.build = os.path.abspath(args.build)
		self.bin = os.path.join(self.build, "migratable")
		self.wl = os.path.join(self.build, "workloads")
		self.out_dir = os.path.join(self.build, "bench")
		os.makedirs(self.out_dir, exist_ok=True)
		self.tmp = tempfile.mkdtemp(prefix="migratable-bench-")
		self.kids = Children(args.pidfile)
		self.results = {"rows": [], "scaling": {"code": [], "heap": []}}

	# ---- measurements --------------------------------------------------

	def scan_once(self, pid, method, extra=(), cold=False):
		out = os.path.join(self.tmp, "scan.json")
		argv = [self.bin, "scan", str(pid), "--json", "--method", method] + list(extra)
		if cold:
			argv.insert(2, "--no-cache")     # decode everything: no summaries of earlier scans
		with open(out, "wb") as f:
			rc, wall, cpu, rss, err = run_measured(argv, stdout=f)
		if rc != 0:
			raise RuntimeError("scan %d --method %s exited %d: %s" % (pid, method, rc, err.strip()))
		with open(out) as f:
			doc = json.load(f)
		st = doc.get("stats", {})
		return {
			"proc_wall_ms": wall * 1000.0,
			"cpu_ms": (cpu[0] + cpu[1]) * 1000.0,
			"user_ms": cpu[0] * 1000.0,
			"sys_ms": cpu[1] * 1000.0,
			"peak_rss_kib": rss,
			"wall_ms": st.get("wall_ms"),
			"pause_ms": st.get("pause_ms"),
			"bytes_decoded": st.get("bytes_decoded"),
			"instructions_decoded": st.get("instructions_decoded"),
			"functions_reachable": st.get("functions_reachable"),
			"functions_total": st.get("functions_total"),
			"modules": st.get("modules"),
			"threads": st.get("threads"),
			"warnings": len(doc.get("warnings") or []),
			"required_features": len(doc.get("required_features") or []),
			# Per-stage times, when the engine reports them.
			"codemap_ms": st.get("codemap_ms"),
			"roots_ms": st.get("roots_ms"),
			"decode_ms": st.get("decode_ms"),
		}

	def scan(self, pid, method, reps, extra=(), cold=False):
		runs = [self.scan_once(pid, method, extra, cold) for _ in range(reps)]
		med = {k: median([r[k] for r in runs]) for k in runs[0]}
		b = med["bytes_decoded"] or 0
		med["mb_per_s"] = b / MB / (med["wall_ms"] / 1000.0) if med["wall_ms"] else None
		med["mb_per_cpu_s"] = b / MB / (med["cpu_ms"] / 1000.0) if med["cpu_ms"] else None
		return med, runs

	def objdump(self, files, reps):
		runs = []
		for _ in range(reps):
			wall = cpu = 0.0
			for path in files:
				rc, w, c, _, _ = run_measured(["objdump", "-d", "--no-show-raw-insn", path])
				if rc != 0:
					raise RuntimeError("objdump -d %s exited %d" % (path, rc))
				wall += w
				cpu += c[0] + c[1]
			runs.append({"wall_ms": wall * 1000.0, "cpu_ms": cpu * 1000.0})
		return {"wall_ms": median([r["wall_ms"] for r in runs]),
			"cpu_ms": median([r["cpu_ms"] for r in runs]),
			"files": len(files)}

	# ---- workloads -----------------------------------------------------

	def start_line(self, name, argv, env=None):
		p = self.kids.start(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
		wait_ready(p, name)
		return p, [p]

	def start_redis(self):
		s = socket.socket()
		s.bind(("127.0.0.1", 0))
		port = s.getsockname()[1]
		s.close()
		rdir = os.path.join(self.tmp, "redis")
		os.makedirs(rdir, exist_ok=True)
		srv = self.kids.start(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
				       "--save", "", "--appendonly", "no", "--dir", rdir,
				       "--daemonize", "no", "--logfile", ""],
				      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
		deadline = time.monotonic() + 20
		while True:
			try:
				with socket.create_connection(("127.0.0.1", port), timeout=1) as c:
					c.sendall(b"PING\r\n")
					if c.recv(64).startswith(b"+PONG"):
						break
			except OSError:
				pass
			if srv.poll() is not None or time.monotonic() > deadline:
				raise RuntimeError("redis-server did not answer on 127.0.0.1:%d" % port)
			time.sleep(0.1)
		procs = [srv]
		if self.args.redis_load and shutil.which("redis-benchmark"):
			# Bounded load on loopback: a request count, a time limit, and
			# killed with the server at the end of the workload anyway.
			load = self.kids.start(["timeout", "300", "redis-benchmark", "-h", "127.0.0.1",
						"-p", str(port), "-q", "-c", "2", "-n", "50000000",
						"-r", "100000", "-d", "64", "-t", "set,get,lpush,lpop"],
					       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
			procs.append(load)
			time.sleep(0.5)
		return srv, procs

	def workloads(self):
		"""(name, starter, label) for the main table, in order."""
		heap = self.args.heap_sizes[-1]
		return [
			("c-idle", lambda: self.start_line("wl_idle", [os.path.join(self.wl, "wl_idle")]),
			 "small C program (tests/workloads/wl_idle)"),
			("python3+numpy", lambda: self.start_line(
				"numpy", [SYSTEM_PYTHON, os.path.join(ROOT, "bench", "np_matmul.py")]),
			 "/usr/bin/python3 with numpy multiplying matrices"),
			("redis", self.start_redis,
			 "redis-server on 127.0.0.1" + (" under redis-benchmark load"
							 if self.args.redis_load else "")),
			("bigheap-%s" % heap, lambda: self.start_line(
				"wl_bench_bigheap", [os.path.join(self.wl, "wl_bench_bigheap"), heap, "64"]),
			 "synthetic: %s heap of pointers, 64 blocked threads" % heap),
		]

	def measure_workload(self, name, starter, label, methods, objdump=True):
		target, procs = starter()
		try:
			pid = target.pid
			files, exec_bytes = proc_maps(pid)
			row = {"workload": name, "label": label, "pid": pid,
			       "target_threads": proc_threads(pid),
			       "exec_files": len(files), "exec_bytes": exec_bytes,
			       "loadavg_before": loadavg(), "methods": {}}
			for m in methods:
				med, runs = self.scan(pid, m, self.args.reps)
				row["methods"][m] = {"median": med, "runs": runs}
			if objdump and not self.args.no_objdump:
				row["objdump"] = self.objdump(files, self.args.objdump_reps)
				for m in methods:
					med = row["methods"][m]["median"]
					med["objdump_ratio_wall"] = row["objdump"]["wall_ms"] / med["proc_wall_ms"]
					med["objdump_ratio_cpu"] = row["objdump"]["cpu_ms"] / med["cpu_ms"]
			row["loadavg_after"] = loadavg()
		finally:
			for p in reversed(procs):
				self.kids.stop(p)
		return row

	def cold_workloads(self):
		"""(name, starter, extra scan args) for the cold-cache comparison."""
		dgemm = os.path.join(self.build, "workloads", "study", "study_dgemm")
		env = dict(os.environ, LD_BIND_NOW="1")
		rows = []
		if os.access(dgemm, os.X_OK):
			rows.append(("C+OpenBLAS dgemm", lambda: self.start_line("study_dgemm", [dgemm], env), ()))
		np = lambda: self.start_line("numpy", [SYSTEM_PYTHON, os.path.join(ROOT, "bench", "np_matmul.py")])
		rows.append(("python3+numpy", np, ()))
		rows.append(("python3+numpy, --assume no-dlsym", np, ("--assume", "no-dlsym")))
		return rows

	def cold(self):
		"""
		Reachable against --method full with no summary cache (issue 11):
		the reachable scan should decode only what the process's own
		choices leave reachable (OpenBLAS: the kernel table it picked).
		"""
		out = self.results["cold"] = []
		for name, starter, extra in self.cold_workloads():
			print("  measuring %s cold ..." % name, flush=True)
			target, procs = starter()
			try:
				row = {"workload": name, "extra": list(extra)}
				for m in ("reachable", "full"):
					row[m], _ = self.scan(target.pid, m, self.args.reps,
							      extra if m == "reachable" else (), cold=True)
				out.append(row)
			finally:
				for p in reversed(procs):
					self.kids.stop(p)

	# ---- the run -------------------------------------------------------

	def run(self):
		t0 = time.monotonic()
		res = self.results
		res["machine"] = machine_info()
		res["config"] = {"reps": self.args.reps, "objdump_reps": self.args.objdump_reps,
				 "heap_sizes": self.args.heap_sizes, "dlopen_copies": self.args.dlopen_copies,
				 "redis_load": self.args.redis_load}
		res["loadavg_start"] = loadavg()
		print("migratable scan benchmark: %s, %d cores, load average %s"
		      % (res["machine"]["cpu_model"], res["machine"]["nproc"],
			 " ".join("%.2f" % x for x in res["loadavg_start"])), flush=True)

		for name, starter, label in self.workloads():
			if self.args.only and name not in self.args.only:
				continue
			print("  measuring %s ..." % name, flush=True)
			res["rows"].append(self.measure_workload(name, starter, label,
								 ("reachable", "full")))
		if not self.args.no_cold:
			self.cold()
		if not self.args.no_scaling:
			self.scaling()
		res["loadavg_end"] = loadavg()
		res["elapsed_s"] = time.monotonic() - t0
		res["goals"] = evaluate_goals(res)
		path = os.path.join(self.out_dir, "results.json")
		with open(path, "w") as f:
			json.dump(res, f, indent=1)
		print_report(res)
		print("\nresults: %s (%.0f s)" % (os.path.relpath(path), res["elapsed_s"]))
		return res

	def scaling(self):
		res = self.results["scaling"]
		by_name = {r["workload"]: r for r in self.results["rows"]}
		# Code size: real programs, then one program with N copies of libcrypto.
		code = []
		for name in ("c-idle", "python3+numpy", "redis"):
			if name in by_name:
				code.append(by_name[name])
		print("  scaling: code size ...", flush=True)
		code.insert(1, self.measure_workload(
			"python3", lambda: self.start_line("python3", [SYSTEM_PYTHON, "-c",
				"import time\nprint('ready', flush=True)\nwhile True: time.sleep(1)"]),
			"bare /usr/bin/python3", ("reachable", "full"), objdump=False))
		lib = find_libcrypto()
		if lib:
			for n in self.args.dlopen_copies:
				copies = []
				for i in range(n):
					dst = os.path.join(self.tmp, "libcrypto_copy%d.so" % i)
					if not os.path.exists(dst):
						shutil.copyfile(lib, dst)
					copies.append(dst)
				code.append(self.measure_workload(
					"dlopen-%dx" % n, lambda c=copies: self.start_line(
						"wl_bench_dlopen", [os.path.join(self.wl, "wl_bench_dlopen")] + c),
					"wl_bench_dlopen with %d copies of %s" % (n, os.path.basename(lib)),
					("reachable", "full"), objdump=False))
		res["code"] = [scaling_point(r) for r in code]
		# Heap size: the same synthetic program at each size (the largest is
		# already in the main table).
		print("  scaling: heap size ...", flush=True)
		heap = []
		for size in self.args.heap_sizes:
			name = "bigheap-%s" % size
			if name in by_name:
				heap.append(by_name[name])
				continue
			heap.append(self.measure_workload(
				name, lambda s=size: self.start_line(
					"wl_bench_bigheap", [os.path.join(self.wl, "wl_bench_bigheap"), s, "64"]),
				"synthetic: %s heap" % size, ("reachable",), objdump=False))
		res["heap"] = [dict(scaling_point(r), heap=s, heap_bytes=parse_size(s))
			       for r, s in zip(heap, self.args.heap_sizes)]
		for kind in ("proc_wall_ms", "cpu_ms"):
			res["fit_code_" + kind] = {
				m: fit([(p["exec_bytes"] / MIB, p[m][kind]) for p in res["code"] if m in p])
				for m in ("reachable", "full")}
			res["fit_heap_" + kind] = fit([(p["heap_bytes"] / (1 << 30), p["reachable"][kind])
						       for p in res["heap"]])

	def close(self):
		# A scan interrupted mid-way: stop it first (ptrace detaches its
		# target when it dies), then the targets.
		if RUNNING is not None and RUNNING.returncode is None:
			try:
				RUNNING.kill()
				os.waitpid(RUNNING.pid, 0)
			except OSError:
				pass
		self.kids.stop_all()
		shutil.rmtree(self.tmp, ignore_errors=True)


def scaling_point(row):
	pt = {"workload": row["workload"], "exec_bytes": row["exec_bytes"],
	      "target_threads": row["target_threads"]}
	for m, v in row["methods"].items():
		med = v["median"]
		pt[m] = {k: med[k] for k in ("proc_wall_ms", "cpu_ms", "peak_rss_kib", "pause_ms",
					     "bytes_decoded", "mb_per_cpu_s")}
	return pt


def fit(points):
	"""Least-squares line y = a + b x; None with fewer than two x values."""
	pts = [(x, y) for x, y in points if x is not None and y is not None]
	if len({x for x, _ in pts}) < 2:
		return None
	n = len(pts)
	mx = sum(x for x, _ in pts) / n
	my = sum(y for _, y in pts) / n
	b = sum((x - mx) * (y - my) for x, y in pts) / sum((x - mx) ** 2 for x, _ in pts)
	return {"intercept_ms": my - b * mx, "slope_ms_per_unit": b}


def parse_size(s):
	m = re.fullmatch(r"(\d+)([KMG]?)", s, re.I)
	if not m:
		raise argparse.ArgumentTypeError("bad size %r" % s)
	return int(m.group(1)) << {"": 0, "K": 10, "M": 20, "G": 30}[m.group(2).upper()]


def find_libcrypto():
	for d in ("/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib"):
		p = os.path.join(d, "libcrypto.so.3")
		if os.path.exists(p):
			return os.path.realpath(p)
	return None


def machine_info():
	model = "unknown"
	with open("/proc/cpuinfo") as f:
		for line in f:
			if line.startswith("model name"):
				model = line.split(":", 1)[1].strip()
				break
	with open("/proc/meminfo") as f:
		mem = int(f.readline().split()[1]) * 1024
	return {"nproc": os.cpu_count(), "cpu_model": model, "mem_bytes": mem,
		"kernel": platform.release(),
		"objdump": subprocess.run(["objdump", "--version"], capture_output=True,
					  text=True).stdout.splitlines()[0]}


def row_by(res, name):
	for r in res["rows"]:
		if r["workload"] == name:
			return r
	return None


def evaluate_goals(res):
	goals = []

	def goal(text, value, ok, unit=""):
		goals.append({"goal": text, "value": value, "unit": unit,
			      "met": None if ok is None else bool(ok)})

	np_row = row_by(res, "python3+numpy")
	if np_row:
		r = np_row["methods"]["reachable"]["median"]
		f = np_row["methods"]["full"]["median"]
		ratio = r.get("objdump_ratio_wall")
		goal("reachable on python3+numpy >= %gx faster than objdump -d (wall)"
		     % GOAL_OBJDUMP_RATIO, ratio, None if ratio is None else ratio >= GOAL_OBJDUMP_RATIO, "x")
		goal("  same, CPU time (load-independent, for reference)",
		     r.get("objdump_ratio_cpu"), None, "x")
		goal("pause on python3+numpy < %g ms" % GOAL_PAUSE_MS,
		     r["pause_ms"], r["pause_ms"] < GOAL_PAUSE_MS, "ms")
		goal("full decodes >= %g MB/s per core (python3+numpy)" % GOAL_FULL_MBS_PER_CORE,
		     f["mb_per_cpu_s"], f["mb_per_cpu_s"] >= GOAL_FULL_MBS_PER_CORE, "MB/s")
		rss = max(r["peak_rss_kib"], f["peak_rss_kib"]) / 1024.0
		goal("peak RSS < %g MiB for python3+numpy" % GOAL_RSS_MIB,
		     rss, rss < GOAL_RSS_MIB, "MiB")
	pauses = [(r["workload"], r["methods"]["reachable"]["median"]["pause_ms"])
		  for r in res["rows"]]
	if pauses:
		worst = max(pauses, key=lambda x: x[1])
		goal("pause < %g ms on every workload (worst: %s)" % (GOAL_PAUSE_MS, worst[0]),
		     worst[1], worst[1] < GOAL_PAUSE_MS, "ms")
	for c in res.get("cold") or []:
		if c["workload"] == "C+OpenBLAS dgemm":
			x = c["full"]["proc_wall_ms"] / c["reachable"]["proc_wall_ms"]
			goal("reachable >= %gx faster than full, cold, on C+OpenBLAS (issue 11)"
			     % GOAL_COLD_RATIO, x, x >= GOAL_COLD_RATIO, "x")
	heap = res.get("scaling", {}).get("heap") or []
	if len(heap) >= 2:
		lo, hi = heap[0]["reachable"]["peak_rss_kib"], heap[-1]["reachable"]["peak_rss_kib"]
		goal("peak RSS flat with heap size (%s -> %s, <= %.2fx)"
		     % (heap[0]["heap"], heap[-1]["heap"], GOAL_RSS_FLAT),
		     hi / lo, hi / lo <= GOAL_RSS_FLAT, "x")
	return goals


def fmt(v, spec="%.1f"):
	return "-" if v is None else spec % v


def print_report(res):
	m = res["machine"]
	print("\nmachine: %s, %d cores, %.0f GiB, kernel %s; load average start %s, end %s"
	      % (m["cpu_model"], m["nproc"], m["mem_bytes"] / (1 << 30), m["kernel"],
		 " ".join("%.2f" % x for x in res["loadavg_start"]),
		 " ".join("%.2f" % x for x in res["loadavg_end"])))
	print("medians of %d runs; objdump = objdump -d over the process's executable files"
	      % res["config"]["reps"])
	hdr = ("workload", "method", "wall ms", "proc ms", "cpu ms", "pause ms", "RSS MiB",
	       "MiB dec", "funcs reach/total", "MB/s", "MB/cpu-s", "objdump ms", "x wall", "x cpu")
	lines = [hdr]
	for r in res["rows"]:
		for meth, v in r["methods"].items():
			d = v["median"]
			od = r.get("objdump")
			lines.append((r["workload"], meth, fmt(d["wall_ms"], "%.0f"),
				      fmt(d["proc_wall_ms"], "%.0f"), fmt(d["cpu_ms"], "%.0f"),
				      fmt(d["pause_ms"], "%.2f"), fmt(d["peak_rss_kib"] / 1024.0),
				      fmt(d["bytes_decoded"] / MIB),
				      "%d/%d" % (d["functions_reachable"], d["functions_total"]),
				      fmt(d["mb_per_s"]), fmt(d["mb_per_cpu_s"]),
				      fmt(od["wall_ms"] if od else None, "%.0f"),
				      fmt(d.get("objdump_ratio_wall")), fmt(d.get("objdump_ratio_cpu"))))
	print_table(lines)
	print("\nwhere the scan's time goes (stage times from stats, when the engine reports them)")
	lines = [("workload", "method", "user ms", "sys ms", "codemap ms", "roots ms", "decode ms",
		  "threads", "modules", "exec MiB", "warnings")]
	for r in res["rows"]:
		for meth, v in r["methods"].items():
			d = v["median"]
			lines.append((r["workload"], meth, fmt(d["user_ms"], "%.0f"), fmt(d["sys_ms"], "%.0f"),
				      fmt(d["codemap_ms"], "%.0f"), fmt(d["roots_ms"], "%.0f"),
				      fmt(d["decode_ms"], "%.0f"), fmt(d["threads"], "%d"),
				      fmt(d["modules"], "%d"), fmt(r["exec_bytes"] / MIB),
				      fmt(d["warnings"], "%d")))
	print_table(lines)
	if res.get("cold"):
		print("\ncold (--no-cache): reachable vs full; MiB dec = bytes decoded")
		lines = [("workload", "reach ms", "reach MiB dec", "funcs reach/total", "full ms",
			  "full MiB dec", "full / reach")]
		for c in res["cold"]:
			r, f = c["reachable"], c["full"]
			lines.append((c["workload"], fmt(r["proc_wall_ms"], "%.0f"),
				      fmt(r["bytes_decoded"] / MIB),
				      "%d/%d" % (r["functions_reachable"], r["functions_total"]),
				      fmt(f["proc_wall_ms"], "%.0f"), fmt(f["bytes_decoded"] / MIB),
				      fmt(f["proc_wall_ms"] / r["proc_wall_ms"], "%.2f")))
		print_table(lines)
		print("  python3+numpy imports ctypes, whose dlsym takes any name: every export of\n"
		      "  OpenBLAS (15 213 functions, every core's kernels) stays reachable unless\n"
		      "  --assume no-dlsym (unsound) is given")
	sc = res.get("scaling") or {}
	if sc.get("code"):
		print("\nscaling with mapped code (exec MiB = executable mappings of the target)")
		lines = [("workload", "exec MiB", "reach ms", "reach MiB dec", "full ms",
			  "full MiB dec", "full MB/cpu-s", "RSS MiB")]
		for p in sc["code"]:
			r, f = p.get("reachable", {}), p.get("full", {})
			lines.append((p["workload"], fmt(p["exec_bytes"] / MIB),
				      fmt(r.get("proc_wall_ms"), "%.0f"),
				      fmt((r.get("bytes_decoded") or 0) / MIB),
				      fmt(f.get("proc_wall_ms"), "%.0f"),
				      fmt((f.get("bytes_decoded") or 0) / MIB), fmt(f.get("mb_per_cpu_s")),
				      fmt(max(r.get("peak_rss_kib", 0), f.get("peak_rss_kib", 0)) / 1024.0)))
		print_table(lines)
		for meth in ("reachable", "full"):
			w = (sc.get("fit_code_proc_wall_ms") or {}).get(meth)
			c = (sc.get("fit_code_cpu_ms") or {}).get(meth)
			if w and c:
				print("  %s: wall ~ %.0f ms + %.1f ms per MiB of mapped code;"
				      " cpu ~ %.0f ms + %.1f ms per MiB"
				      % (meth, w["intercept_ms"], w["slope_ms_per_unit"],
					 c["intercept_ms"], c["slope_ms_per_unit"]))
	if sc.get("heap"):
		print("\nscaling with heap size (wl_bench_bigheap, 64 threads, reachable)")
		lines = [("heap", "wall ms", "cpu ms", "pause ms", "RSS MiB")]
		for p in sc["heap"]:
			r = p["reachable"]
			lines.append((p["heap"], fmt(r["proc_wall_ms"], "%.0f"), fmt(r["cpu_ms"], "%.0f"),
				      fmt(r["pause_ms"], "%.2f"), fmt(r["peak_rss_kib"] / 1024.0)))
		print_table(lines)
		w, c = sc.get("fit_heap_proc_wall_ms"), sc.get("fit_heap_cpu_ms")
		if w and c:
			print("  reachable: wall ~ %.0f ms + %.0f ms per GiB of heap;"
			      " cpu ~ %.0f ms + %.0f ms per GiB"
			      % (w["intercept_ms"], w["slope_ms_per_unit"],
				 c["intercept_ms"], c["slope_ms_per_unit"]))
	print("\ngoals (issue 6)")
	for g in res["goals"]:
		state = {True: "MET", False: "NOT MET", None: "info"}[g["met"]]
		print("  %-8s %s: %s %s" % (state, g["goal"], fmt(g["value"], "%.2f"), g["unit"]))


def print_table(lines):
	w = [max(len(str(l[i])) for l in lines) for i in range(len(lines[0]))]
	for l in lines:
		# Names left-aligned, figures right-aligned.
		print("  " + "  ".join(str(c).ljust(w[i]) if i < 2 else str(c).rjust(w[i])
				       for i, c in enumerate(l)).rstrip())


def main():
	ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
	ap.add_argument("build", nargs="?", default="build")
	ap.add_argument("--reps", type=int, default=3)
	ap.add_argument("--objdump-reps", type=int, default=None)
	ap.add_argument("--heap-sizes", default="256M,1G,2G",
			help="comma-separated; the largest is the main table's bigheap")
	ap.add_argument("--dlopen-copies", default="0,3,8")
	ap.add_argument("--no-redis-load", dest="redis_load", action="store_false")
	ap.add_argument("--no-scaling", action="store_true")
	ap.add_argument("--no-cold", action="store_true", help="skip the cold-cache comparison")
	ap.add_argument("--no-objdump", action="store_true")
	ap.add_argument("--only", action="append", help="main-table workload to run (repeatable)")
	ap.add_argument("--quick", action="store_true", help="1 repetition, smaller sizes")
	ap.add_argument("--strict", action="store_true", help="exit 1 when a goal is not met")
	ap.add_argument("--pidfile", help="append every started PID here (for run.sh's trap)")
	args = ap.parse_args()
	if args.quick:
		args.reps = 1
		args.heap_sizes = "64M,256M"
		args.dlopen_copies = "0,2"
	args.objdump_reps = args.objdump_reps or args.reps
	args.heap_sizes = args.heap_sizes.split(",")
	for s in args.heap_sizes:
		parse_size(s)
	args.dlopen_copies = [int(x) for x in args.dlopen_copies.split(",")]

	b = Bench(args)
	for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
		signal.signal(sig, lambda s, f: sys.exit(128 + s))
	try:
		res = b.run()
	finally:
		b.close()
	if args.strict and any(g["met"] is False for g in res["goals"]):
		return 1
	return 0


if __name__ == "__main__":
	sys.exit(main())
