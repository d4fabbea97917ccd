#!/usr/bin/python3
"""pysha: the study's Python SHA-256 workload: hashlib.sha256 (CPython's
_hashlib, i.e. OpenSSL's libcrypto) of a message, in a loop.
usage: pysha.py"""
import hashlib
import time

message = bytearray(b"m" * 1024)
first = True
while True:
    digest = hashlib.sha256(message).digest()
    message[0] = digest[31]
    print("SHA-256:", digest.hex(), flush=True)
    if first:
        print("ready", flush=True)
        first = False
    time.sleep(0.02)
