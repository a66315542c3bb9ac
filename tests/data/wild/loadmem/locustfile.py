"""Locust users for shelf_app: three weighted tasks, short think time (a closed loop)."""

import os
import random

from locust import HttpUser, LoadTestShape, between, task


class Reader(HttpUser):
    wait_time = between(0.05, 0.15)

    @task(5)
    def list_books(self):
        self.client.get("/books")

    @task(3)
    def one_book(self):
        self.client.get(f"/books/{random.randint(1, 110)}", name="/books/[id]")

    @task(2)
    def search(self):
        self.client.get("/search?q=1", name="/search")


class RampThenDrain(LoadTestShape):
    """+1 user a second up to 10, held until RAMP_S, then 0 users for 3 s before the end.

    The drain lets every user finish its last request before Locust writes its final
    stats: a plain ``-t`` stop writes them while users still run (about 0.6 s of requests
    were in the access log but not in Locust's Aggregated row when recorded that way).
    """

    RAMP_S = int(os.environ.get("RAMP_S", "24"))

    def tick(self):
        t = self.get_run_time()
        if t < self.RAMP_S:
            return min(10, int(t) + 1), 1
        if t < self.RAMP_S + 3:
            return 0, 10
        return None
