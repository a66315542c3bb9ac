"""Step load without wait time: STEPS users (env, comma separated), STEP_S seconds each."""

from __future__ import annotations

import os

from locust import FastHttpUser, LoadTestShape, constant, task

STEPS = [int(s) for s in os.environ.get("STEPS", "1,2,4,8,16,32,48,64").split(",")]
STEP_S = float(os.environ.get("STEP_S", "14"))


class Client(FastHttpUser):
    wait_time = constant(0)

    @task
    def work(self) -> None:
        self.client.get("/work")


class Steps(LoadTestShape):
    def tick(self):
        k = int(self.get_run_time() // STEP_S)
        return None if k >= len(STEPS) else (STEPS[k], 1000)
