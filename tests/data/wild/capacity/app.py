"""The recorded app: one view that spends ~4 ms on the CPU and sleeps 60 ms (a DB wait)."""

from __future__ import annotations

import time

from flask import Flask

app = Flask(__name__)
CPU_S, WAIT_S = 0.004, 0.060


@app.get("/work")
def work() -> str:
    """CPU_S of this thread's CPU time, then WAIT_S asleep (the GIL released)."""
    end = time.thread_time() + CPU_S
    x = 0
    while time.thread_time() < end:
        x += 1
    time.sleep(WAIT_S)
    return f"ok {x % 7}\n"
