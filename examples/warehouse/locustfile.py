"""Load for the warehouse service: a realistic mix, or a step load for the capacity scenario.

``WAREHOUSE_STEPS`` (e.g. ``1,2,4,8,16,32,64``) and ``WAREHOUSE_STEP_S`` turn
on the step shape: each user count held for that many seconds, users
without think time (a closed loop, as a USL fit assumes). Otherwise users
think 0.5-2 s between requests and Locust's ``-u``/``-t`` decide the load.
"""

from __future__ import annotations

import os
import random

from locust import HttpUser, LoadTestShape, between, constant, task

STEPS = [int(s) for s in os.environ.get("WAREHOUSE_STEPS", "").split(",") if s]
STEP_S = float(os.environ.get("WAREHOUSE_STEP_S", "15"))


class WarehouseUser(HttpUser):
    wait_time = constant(0) if STEPS else between(0.5, 2.0)

    @task(2)
    def dashboard(self):
        self.client.get("/dashboard", name="/dashboard")

    @task(3)
    def products(self):
        self.client.get(f"/api/products?page={random.randint(1, 40)}", name="/api/products")

    @task(5)
    def product(self):
        self.client.get(f"/api/products/{random.randint(1, 2000)}", name="/api/products/[id]")

    @task(5)
    def order(self):
        self.client.get(f"/api/orders/{random.randint(1, 40000)}", name="/api/orders/[id]")

    @task(4)
    def stock(self):
        sku = f"SKU-{random.randint(1, 2000):06d}"
        self.client.get(f"/api/stock/{sku}", name="/api/stock/[sku]")

    @task(1)
    def create_order(self):
        lines = [{"product_id": random.randint(1, 2000), "quantity": random.randint(1, 4)}
                 for _ in range(random.randint(1, 5))]  # fmt: skip
        self.client.post("/api/orders", json={"customer": "locust", "lines": lines},
                         name="/api/orders (POST)")  # fmt: skip

    @task(1)
    def quote(self):
        order = random.randint(1, 40000)
        self.client.get(f"/api/shipments/{order}/quote", name="/api/shipments/[id]/quote")

    @task(1)
    def sync(self):
        sku = f"SKU-{random.randint(1, 2000):06d}"
        self.client.post(f"/api/inventory/sync/{sku}", name="/api/inventory/sync/[sku]")

    @task(2)
    def static(self):
        self.client.get("/static/app.css", name="/static/app.css")


if STEPS:

    class Steps(LoadTestShape):
        """Hold each user count for STEP_S seconds, then stop."""

        def tick(self):
            step = int(self.get_run_time() // STEP_S)
            if step >= len(STEPS):
                return None
            return (STEPS[step], 100)
