# py_numpy.py - python3 with numpy (matrix multiply), hashlib and json.
# Prints "ready" once numpy is imported; SIGUSR1 starts the activity.
import hashlib
import json
import signal
import sys
import time

import numpy as np

active = False


def start(signum, frame):
    global active
    active = True


signal.signal(signal.SIGUSR1, start)
a = np.random.default_rng(1).random((160, 160))
print("ready", flush=True)
while True:
    if not active:
        time.sleep(0.01)
        continue
    b = a @ a.T
    h = hashlib.sha256(b.tobytes()).hexdigest()
    h += hashlib.md5(h.encode()).hexdigest() + hashlib.blake2b(h.encode()).hexdigest()
    doc = json.dumps({"h": h, "v": [float(x) for x in b[0][:32]]})
    json.loads(doc)
