"""The warehouse service: a Jinja2 dashboard, JSON API endpoints, calls to inventory/shipping APIs.

Configuration from the environment (the recorder sets it):

- ``WAREHOUSE_DB``: SQLAlchemy URL (``postgresql+psycopg://...``);
- ``WAREHOUSE_SCENARIO``: ``baseline`` (default), ``candidate``, ``leak``;
- ``INVENTORY_API``, ``SHIPPING_API``: base URLs of the API stubs;
- ``OUTBOUND_LOG``: where perfkit's `OutboundLog` writes outbound calls;
- ``PROFILE_DIR`` and ``PROFILE_RATE``: profile that share of requests with
  Werkzeug's ProfilerMiddleware, one dump per request;
- ``WAREHOUSE_REDIS_URL``, ``WAREHOUSE_CACHE`` (``on``, ``cold``, ``off``),
  ``WAREHOUSE_CACHE_TTL``: an optional Redis cache of ``GET /api/products/<id>``
  (`examples.warehouse.cache`); without the URL the app never touches Redis.
"""

from __future__ import annotations

import datetime as dt
import os
import random

import flask
import requests
from requests.adapters import HTTPAdapter
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session, lazyload, selectinload, sessionmaker
from urllib3.util.retry import Retry
from werkzeug.middleware.profiler import ProfilerMiddleware

from examples.warehouse.cache import from_env as cache_from_env
from examples.warehouse.models import Location, Order, OrderLine, Product, Shipment, Stock
from perfkit.collect.outbound import OutboundLog

_RENDERED: dict[tuple[int, int], bytes] = {}  # the leak scenario's unbounded cache
LEAK_KIB = int(os.environ.get("WAREHOUSE_LEAK_KIB", "64"))  # per call to GET /api/products/<id>
_served = 0


class SampledProfiler:
    """Profile a random share of requests with ProfilerMiddleware (one dump per request)."""

    def __init__(self, app, profile_dir: str, rate: float) -> None:
        self.app, self.rate = app, rate
        self.profiled = ProfilerMiddleware(app, stream=None, profile_dir=profile_dir)

    def __call__(self, environ, start_response):
        chosen = self.profiled if random.random() < self.rate else self.app
        return chosen(environ, start_response)


def _http_session(outbound: OutboundLog | None) -> requests.Session:
    session = requests.Session()
    retry = Retry(total=2, status_forcelist=(429, 503), backoff_factor=0.05,
                  respect_retry_after_header=False, allowed_methods=None)  # fmt: skip
    session.mount("http://", HTTPAdapter(max_retries=retry, pool_maxsize=16))
    if outbound is not None:
        outbound.attach_requests(session)
    return session


def create_app() -> flask.Flask:
    scenario = os.environ.get("WAREHOUSE_SCENARIO", "baseline")
    engine = create_engine(os.environ["WAREHOUSE_DB"], pool_size=8, max_overflow=4)
    sessions = sessionmaker(engine, expire_on_commit=False)
    outbound = None
    if os.environ.get("OUTBOUND_LOG"):
        outbound = OutboundLog(
            os.environ["OUTBOUND_LOG"],
            context=lambda: {"inbound_path": flask.request.path} if flask.has_request_context()
            else {},
        )  # fmt: skip
    http = _http_session(outbound)
    inventory_api = os.environ.get("INVENTORY_API", "http://127.0.0.1:9")
    shipping_api = os.environ.get("SHIPPING_API", "http://127.0.0.1:9")
    app = flask.Flask(__name__)
    cache = cache_from_env()
    app.extensions["warehouse_cache"] = cache

    def product_by_sku(sku: str) -> Product:
        item = db().scalars(select(Product).where(Product.sku == sku)).first()
        if item is None:
            flask.abort(404)
        return item

    def call_api(url: str, params: dict, what: str):
        """(answer JSON, None) or (None, a 502 response) when the API fails or refuses."""
        try:
            answer = http.get(url, params=params, timeout=3)
        except requests.RequestException:
            return None, ({"error": f"{what} API unavailable"}, 502)
        if answer.status_code != 200:
            return None, ({"error": f"{what} API answered {answer.status_code}"}, 502)
        return answer.json(), None

    def db() -> Session:
        if "db" not in flask.g:
            flask.g.db = sessions()
        return flask.g.db

    @app.teardown_appcontext
    def close_db(_exc):
        session = flask.g.pop("db", None)
        if session is not None:
            session.close()

    @app.get("/health")
    def health():
        return {"ok": True}

    @app.get("/dashboard")
    def dashboard():
        s = db()
        since = dt.datetime.now(dt.UTC) - dt.timedelta(days=30)
        by_status = s.execute(
            select(Order.status, func.count()).group_by(Order.status).order_by(Order.status)
        ).all()
        top = s.execute(
            select(Product.sku, Product.name, func.sum(OrderLine.quantity).label("units"))
            .join(OrderLine, OrderLine.product_id == Product.id)
            .join(Order, Order.id == OrderLine.order_id)
            .where(Order.created_at >= since)
            .group_by(Product.id)
            .order_by(func.sum(OrderLine.quantity).desc())
            .limit(10)
        ).all()
        on_hand = (
            select(Stock.product_id, func.sum(Stock.quantity).label("on_hand"))
            .group_by(Stock.product_id)
            .having(func.sum(Stock.quantity) < 6_000)
            .subquery()
        )  # every lot is summed: a full scan whatever the indexes
        low = s.execute(
            select(Product.sku, on_hand.c.on_hand)
            .join(on_hand, on_hand.c.product_id == Product.id)
            .order_by(on_hand.c.on_hand)
            .limit(15)
        ).all()
        recent = s.scalars(select(Shipment).order_by(Shipment.created_at.desc()).limit(20)).all()
        return flask.render_template(
            "dashboard.html", by_status=by_status, top=top, low=low, recent=recent
        )

    @app.get("/api/products")
    def products():
        page = max(1, flask.request.args.get("page", 1, type=int))
        rows = db().scalars(select(Product).order_by(Product.id).limit(50).offset((page - 1) * 50))
        return {"page": page, "products": [_product(p) for p in rows]}

    def product_body(product_id: int) -> dict | None:
        s = db()
        item = s.get(Product, product_id)
        if item is None:
            return None
        since = dt.datetime.now(dt.UTC) - dt.timedelta(days=90)
        sold = s.execute(
            select(func.count(), func.coalesce(func.sum(OrderLine.quantity), 0))
            .select_from(OrderLine)
            .join(Order, Order.id == OrderLine.order_id)
            .where(OrderLine.product_id == product_id, Order.created_at >= since)
        ).one()
        return {**_product(item), "orders_90d": int(sold[0]), "units_90d": int(sold[1])}

    def every_product_body() -> list[dict]:
        """What product_body gives for each product, in one query (warming the cache)."""
        since = dt.datetime.now(dt.UTC) - dt.timedelta(days=90)
        sold = (
            select(OrderLine.product_id, func.count().label("n"),
                   func.sum(OrderLine.quantity).label("units"))
            .join(Order, Order.id == OrderLine.order_id)
            .where(Order.created_at >= since)
            .group_by(OrderLine.product_id)
            .subquery()
        )  # fmt: skip
        with sessions() as s:
            rows = s.execute(select(Product, sold.c.n, sold.c.units)
                             .outerjoin(sold, sold.c.product_id == Product.id)).all()  # fmt: skip
        return [{**_product(p), "orders_90d": int(n or 0), "units_90d": int(u or 0)}
                for p, n, u in rows]  # fmt: skip

    if cache is not None:
        cache.warm(every_product_body)

    @app.get("/api/products/<int:product_id>")
    def product(product_id: int):
        global _served
        if cache is None:
            body = product_body(product_id)
        else:
            body = cache.get(product_id, lambda: product_body(product_id))
        if body is None:
            flask.abort(404)
        if scenario == "leak":  # "cache" every rendering, keyed so that nothing is ever reused
            _served += 1
            _RENDERED[(product_id, _served)] = os.urandom(LEAK_KIB * 1024)
        return body

    @app.get("/api/orders/<int:order_id>")
    def order(order_id: int):
        s = db()
        if scenario == "candidate":  # the regression: lazy loads, one query per line
            query = select(Order).options(lazyload(Order.lines).lazyload(OrderLine.product))
        else:
            query = select(Order).options(selectinload(Order.lines).joinedload(OrderLine.product))
        found = s.scalars(query.where(Order.id == order_id)).first()
        if found is None:
            flask.abort(404)
        return {
            "id": found.id, "customer": found.customer, "status": found.status,
            "lines": [{"sku": line.product.sku, "quantity": line.quantity,
                       "price_cents": line.price_cents} for line in found.lines],
        }  # fmt: skip

    @app.get("/api/stock/<sku>")
    def stock(sku: str):
        item = product_by_sku(sku)
        lots = (
            db()
            .execute(
                select(Stock.lot, Stock.quantity, Location.code)
                .join(Location, Location.id == Stock.location_id)
                .where(Stock.product_id == item.id)
                .order_by(Stock.lot)
            )
            .all()
        )
        return {"sku": sku, "lots": [{"lot": a, "quantity": q, "location": c} for a, q, c in lots]}

    @app.post("/api/orders")
    def create_order():
        payload = flask.request.get_json(force=True)
        s = db()
        new = Order(customer=str(payload.get("customer", "anonymous"))[:120], status="new",
                    created_at=dt.datetime.now(dt.UTC))  # fmt: skip
        s.add(new)
        s.flush()
        for line in payload.get("lines", [])[:20]:
            item = s.get(Product, int(line["product_id"]))
            if item is None:
                flask.abort(400)
            quantity = max(1, int(line.get("quantity", 1)))
            s.add(OrderLine(order_id=new.id, product_id=item.id, quantity=quantity,
                            price_cents=item.price_cents))  # fmt: skip
        s.commit()
        return {"id": new.id}, 201

    @app.get("/api/shipments/<int:order_id>/quote")
    def quote(order_id: int):
        s = db()
        found = s.scalars(
            select(Order)
            .options(selectinload(Order.lines).joinedload(OrderLine.product))
            .where(Order.id == order_id)
        ).first()
        if found is None:
            flask.abort(404)
        grams = sum(line.product.weight_g * line.quantity for line in found.lines)
        rates, failed = call_api(f"{shipping_api}/v2/rates", {"weight_g": grams}, "shipping")
        return failed or {"order": order_id, "weight_g": grams, "rates": rates["rates"]}

    @app.post("/api/inventory/sync/<sku>")
    def sync(sku: str):
        product_by_sku(sku)
        remote, failed = call_api(f"{inventory_api}/products", {"sku": sku}, "inventory")
        return failed or {"sku": sku, "remote_quantity": remote["quantity"]}

    if os.environ.get("PROFILE_DIR"):
        rate = float(os.environ.get("PROFILE_RATE", "0.05"))
        app.wsgi_app = SampledProfiler(app.wsgi_app, os.environ["PROFILE_DIR"], rate)
    return app


def _product(p: Product) -> dict:
    return {"id": p.id, "sku": p.sku, "name": p.name, "category": p.category,
            "price_cents": p.price_cents, "weight_g": p.weight_g}  # fmt: skip
