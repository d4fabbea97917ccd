# py_loop.py N - the loop of tests/workloads/corpus/py_numpy.py, N times:
# numpy matrix multiply, sha256/md5/blake2b (OpenSSL through hashlib), json.
import hashlib
import json
import sys

import numpy as np

a = np.random.default_rng(1).random((160, 160))
for _ in range(int(sys.argv[1])):
    b = a @ a.T
    h = hashlib.sha256(b.tobytes()).hexdigest()
    h += hashlib.md5(h.encode()).hexdigest() + hashlib.blake2b(h.encode()).hexdigest()
    doc = json.dumps({"h": h, "v": [float(x) for x in b[0][:32]]})
    json.loads(doc)
