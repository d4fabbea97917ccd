#!/usr/bin/python3
"""pyrsa: the study's Python RSA workload: ctypes calls into
libstudy_rsa.so (rsa.c: RSA-1024 key generation and BN_mod_exp with
libcrypto).
usage: pyrsa.py LIBDIR"""
import ctypes
import os
import sys
import time

lib = ctypes.CDLL(os.path.join(sys.argv[1], "libstudy_rsa.so"))
lib.study_rsa_last_hex.restype = ctypes.c_char_p
first = True
while True:
    if lib.study_rsa_step() != 0:
        sys.exit("pyrsa: step failed")
    print("encrypted:", lib.study_rsa_last_hex().decode(), flush=True)
    if first:
        print("ready", flush=True)
        first = False
    time.sleep(0.02)
