"""How each Gunicorn worker lived and ended, from the error log's events.

`worker_generations` reads `perfkit.read_gunicorn_log`'s events: one row per worker.
"""

from perfkit.analysis.workers.generations import ENDINGS, worker_event_rates, worker_generations

__all__ = ["ENDINGS", "worker_event_rates", "worker_generations"]
