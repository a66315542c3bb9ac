import random

from locust import HttpUser, constant, task


class U(HttpUser):
    wait_time = constant(0)

    @task(20)
    def user(self):
        self.client.get(f"/api/users/{random.randint(1, 5000)}", name="/api/users/[id]")

    @task(10)
    def orders(self):
        self.client.get("/api/orders")

    @task(15)
    def order(self):
        self.client.get(f"/api/orders/{random.randint(1, 5000)}", name="/api/orders/[id]")

    @task(10)
    def search(self):
        self.client.get("/api/search", params={"q": random.choice(["a", "b"])})

    @task(10)
    def cart(self):
        self.client.get("/api/cart")

    @task(5)
    def cart_post(self):
        self.client.post("/api/cart", json={})

    @task(15)
    def products(self):
        self.client.get("/api/products")

    @task(15)
    def health(self):
        self.client.get("/health")
