"""A small Flask + SQLAlchemy warehouse service on PostgreSQL, its API stubs, load and recorder.

Scenarios (environment variable ``WAREHOUSE_SCENARIO``):

- ``baseline``: the service as it should be;
- ``candidate``: two real regressions, all else unchanged: ``GET
  /api/orders/<id>`` loads lines and products lazily (an N+1: one query per
  line), and the index on ``stock.product_id`` is dropped (``GET
  /api/stock/<sku>`` scans the table);
- ``leak``: ``GET /api/products/<id>`` keeps a 64 KiB rendering of every
  response in a module-level dict that is never pruned (an unbounded cache);
- ``recycling`` runs the baseline under Gunicorn ``max_requests``.
"""
