# Benchmark target: a Python process with numpy loaded and busy multiplying
# matrices (so its BLAS code is mapped, and some of it is on the stack when
# the scan stops the threads). Prints "ready" once numpy is loaded; runs until
# killed. Run with Debian's /usr/bin/python3 (python3-numpy).
import sys
import time

import numpy as np

extra = sys.argv[1:]
for name in extra:	# optional further imports to grow the mapped code
	__import__(name)

a = np.random.rand(192, 192)
b = a @ a
print("ready", flush=True)
while True:
	b = a @ b
	b /= np.abs(b).max()
	time.sleep(0.002)
