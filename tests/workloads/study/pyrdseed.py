#!/usr/bin/python3
"""pyrdseed: the study's Python RDSEED workload: ctypes calls into
libstudy_rdseed.so (rdseed.c: RDSEED, else RDRAND, chosen from CPUID).
usage: pyrdseed.py LIBDIR"""
import ctypes
import os
import sys
import time

lib = ctypes.CDLL(os.path.join(sys.argv[1], "libstudy_rdseed.so"))
lib.study_rdseed_last.restype = ctypes.c_ulonglong
method = lib.study_rdseed_setup()
if method < 0:
    sys.exit("pyrdseed: neither RDSEED nor RDRAND")
print("pyrdseed: using", "RDSEED" if method == 2 else "RDRAND", flush=True)
first = True
while True:
    if lib.study_rdseed_step() != 0:
        sys.exit("pyrdseed: step failed")
    print("random number:", lib.study_rdseed_last(), flush=True)
    if first:
        print("ready", flush=True)
        first = False
    time.sleep(0.02)
