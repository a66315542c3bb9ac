"""Deterministic seed data, generated inside PostgreSQL (seconds, not minutes).

2,000 products, 6 locations, 100,000 stock lots, 40,000 orders with
400,000 lines (10 per order), 25,000 shipments. ``setseed`` makes every run the same.
"""

from __future__ import annotations

from sqlalchemy import create_engine

from examples.warehouse.models import Base

SEED_SQL = """
select setseed(0.42);
insert into locations (id, code, name)
select i, 'WH-' || i, (array['Leeds', 'Bristol', 'Glasgow', 'Cardiff', 'Belfast', 'Norwich'])[i]
from generate_series(1, 6) i;
insert into products (id, sku, name, category, price_cents, weight_g)
select i, 'SKU-' || lpad(i::text, 6, '0'), 'Product ' || i,
       (array['tools', 'garden', 'kitchen', 'office', 'toys', 'sports'])[1 + i % 6],
       199 + (random() * 20000)::int, 50 + (random() * 5000)::int
from generate_series(1, 2000) i;
insert into stock (id, product_id, location_id, lot, quantity)
select i, 1 + (i % 2000), 1 + (i % 6), 'LOT-' || i, (random() * 400)::int
from generate_series(1, 100000) i;
insert into orders (id, customer, status, created_at)
select i, 'customer-' || (1 + (random() * 5000)::int),
       (array['new', 'picking', 'packed', 'shipped', 'delivered', 'cancelled'])
           [1 + (random() * 5)::int],
       now() - (random() * interval '120 days')
from generate_series(1, 40000) i;
insert into order_lines (id, order_id, product_id, quantity, price_cents)
select i, 1 + (i % 40000), 1 + (random() * 1999)::int, 1 + (random() * 6)::int,
       199 + (random() * 20000)::int
from generate_series(1, 400000) i;
insert into shipments (id, order_id, carrier, tracking, status, cost_cents, created_at)
select i, 1 + (random() * 39999)::int, (array['DPD', 'Royal Mail', 'UPS', 'DHL'])[1 + i % 4],
       'TRK' || i, (array['label', 'in transit', 'delivered'])[1 + i % 3],
       300 + (random() * 2000)::int, now() - (random() * interval '120 days')
from generate_series(1, 25000) i;
select setval(pg_get_serial_sequence('orders', 'id'), 40000);
select setval(pg_get_serial_sequence('order_lines', 'id'), 400000);
select setval(pg_get_serial_sequence('shipments', 'id'), 25000);
select setval(pg_get_serial_sequence('stock', 'id'), 100000);
analyze;
"""


def seed(url: str, scenario: str = "baseline") -> None:
    """Create the schema and the data; the candidate scenario drops one index afterwards."""
    engine = create_engine(url)
    Base.metadata.create_all(engine)
    raw = engine.raw_connection()  # psycopg itself: no parameters, so no placeholder parsing
    try:
        with raw.cursor() as cursor:
            cursor.execute(SEED_SQL)
            if scenario == "candidate":
                cursor.execute("drop index ix_stock_product_id")
        raw.commit()
    finally:
        raw.close()
    engine.dispose()
