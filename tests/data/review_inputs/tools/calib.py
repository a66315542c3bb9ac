import hashlib
import json
import time
from pathlib import Path

h = b"x"
n = 200000
t = time.perf_counter()
for _ in range(n):
    h = hashlib.sha256(h).digest()
dt = (time.perf_counter() - t) * 1000
Path(__file__).with_name("calib.json").write_text(json.dumps({"iters_per_ms": n / dt}))
print(n / dt)
