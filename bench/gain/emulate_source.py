#!/usr/bin/env python3
"""Environment that makes a process started on this host dispatch as it
would on another source CPU: print `export` lines for the shell.

usage: emulate_source.py SOURCE_PROFILE HOST_PROFILE CPUID_TSV CATALOG_DIR

The features this host has and SOURCE lacks ("missing"; only flags some
profile of CATALOG_DIR records, as bench/gain/restrict_source.py keeps:
the XED-derived profiles never list tsc or cx8) are switched off
for the run-time dispatchers the corpus meets, each through its own
documented switch:

  glibc (string functions, libm, ld.so's trampoline)
      GLIBC_TUNABLES=glibc.cpu.hwcaps=-NAME,...   (names of glibc 2.36's
      sysdeps/x86/cpu-tunables.c)
  OpenSSL 3 (libcrypto)
      OPENSSL_ia32cap=~V1:~V2  V1: CPUID.1 EDX | ECX << 32,
      V2: CPUID.(7,0) EBX | ECX << 32; '~' clears those bits
  numpy 1.24
      NPY_DISABLE_CPU_FEATURES="NAME ..."
  OpenBLAS 0.3.21 (DYNAMIC_ARCH)
      OPENBLAS_CORETYPE=the core type OpenBLAS gives SOURCE
      (bench/recall/study.py: openblas_coretype)

Other dispatchers (libgcrypt, libgcc's __builtin_cpu_supports in the
corpus programs, zstd's and xz's own CPUID checks) are not switched: what
they select on this host is seen by the oracle, and bench/gain-source.sh
reports a workload as not emulated when the oracle saw it execute a
missing feature.  The missing list goes to stderr.
"""
import csv
import glob
import json
import os
import sys

GLIBC = {
    "avx": "AVX", "fma": "FMA", "rtm": "RTM", "avx2": "AVX2", "bmi1": "BMI1",
    "bmi2": "BMI2", "erms": "ERMS", "fma4": "FMA4", "abm": "LZCNT",
    "movbe": "MOVBE", "ssse3": "SSSE3", "xsave": "XSAVE", "popcnt": "POPCNT",
    "sse4_1": "SSE4_1", "sse4_2": "SSE4_2", "xsavec": "XSAVEC",
    "avx512f": "AVX512F", "avx512cd": "AVX512CD", "avx512bw": "AVX512BW",
    "avx512dq": "AVX512DQ", "avx512vl": "AVX512VL", "osxsave": "OSXSAVE",
}

# numpy's dispatch targets that each need the flag (numpy/core/src/common/npy_cpu_features).
AVX512_GROUPS = ["AVX512F", "AVX512CD", "AVX512_KNL", "AVX512_KNM", "AVX512_SKX",
                 "AVX512_CLX", "AVX512_CNL", "AVX512_ICL", "AVX512_SPR"]
NUMPY = {
    "avx512f": AVX512_GROUPS, "avx512cd": AVX512_GROUPS[1:],
    "avx512bw": AVX512_GROUPS[4:], "avx512dq": AVX512_GROUPS[4:],
    "avx512vl": AVX512_GROUPS[4:], "avx512_vnni": AVX512_GROUPS[5:],
    "avx512vbmi": AVX512_GROUPS[6:], "avx512ifma": AVX512_GROUPS[6:],
    "avx512_vbmi2": AVX512_GROUPS[7:], "avx512_bitalg": AVX512_GROUPS[7:],
    "avx512_vpopcntdq": AVX512_GROUPS[7:], "avx512_fp16": AVX512_GROUPS[8:],
    "avx2": ["AVX2"] + AVX512_GROUPS, "fma": ["FMA3"] + AVX512_GROUPS,
    "f16c": ["F16C"] + AVX512_GROUPS, "avx": ["AVX", "F16C", "FMA3", "AVX2"] + AVX512_GROUPS,
}


def load(path):
    with open(path) as f:
        return json.load(f)


sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "recall"))
from study import openblas_coretype  # noqa: E402


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__.strip().splitlines()[3])
    source, host = load(sys.argv[1]), load(sys.argv[2])
    recorded = set()
    for path in glob.glob(os.path.join(sys.argv[4], "*.json")):
        p = load(path)
        recorded.update(p.get("features", []) + p.get("unknown", []))
    missing = sorted((set(host["features"]) & recorded) - set(source["features"]) -
                     set(source.get("unknown", [])))
    where = {}
    with open(sys.argv[3]) as f:
        for row in csv.DictReader(f, delimiter="\t"):
            where[row["linux_flag"]] = (int(row["leaf"], 16), int(row["subleaf"]),
                                        row["reg"], int(row["bit"]))
    v1 = v2 = 0
    for flag in missing:
        leaf, sub, reg, bit = where.get(flag, (None, 0, "", 0))
        if leaf == 1 and reg in ("edx", "ecx"):
            v1 |= 1 << (bit + (32 if reg == "ecx" else 0))
        elif leaf == 7 and sub == 0 and reg in ("ebx", "ecx"):
            v2 |= 1 << (bit + (32 if reg == "ecx" else 0))
    glibc = [GLIBC[f] for f in missing if f in GLIBC]
    numpy = sorted({g for f in missing for g in NUMPY.get(f, [])})
    print("export GLIBC_TUNABLES=%s" % ("glibc.cpu.hwcaps=" + ",".join("-" + n for n in glibc)
                                        if glibc else ""))
    print("export OPENSSL_ia32cap='~0x%x:~0x%x'" % (v1, v2))
    print("export NPY_DISABLE_CPU_FEATURES='%s'" % " ".join(numpy))
    print("export OPENBLAS_CORETYPE=%s" % openblas_coretype(source))
    print("emulate_source: %s lacks %s" % (source["name"], ", ".join(missing) or "nothing"),
          file=sys.stderr)


if __name__ == "__main__":
    main()
