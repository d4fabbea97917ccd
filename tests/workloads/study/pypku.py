#!/usr/bin/python3
"""pypku: the study's Python PKU workload: ctypes calls into
libstudy_pku.so (pku.c: protection keys when CPUID and the kernel offer
them, else mprotect).
usage: pypku.py LIBDIR"""
import ctypes
import os
import sys
import time

lib = ctypes.CDLL(os.path.join(sys.argv[1], "libstudy_pku.so"))
mode = lib.study_pku_setup()
if mode < 0:
    sys.exit("pypku: setup failed")
print("pypku:", "protection keys" if mode else "mprotect (no PKU)", flush=True)
first = True
while True:
    if lib.study_pku_step() != 0:
        sys.exit("pypku: step failed")
    print("protection lifted, wrote C", flush=True)
    if first:
        print("ready", flush=True)
        first = False
    time.sleep(0.02)
