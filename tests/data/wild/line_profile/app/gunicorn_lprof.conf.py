"""Gunicorn config: each worker line-profiles the shelf app's views and dumps its own .lprof
on exit (worker-<pid>.lprof in $LPROF_DIR)."""

import os

workers = 2
worker_class = "sync"


def post_fork(server, worker):
    import shelf
    from line_profiler import LineProfiler

    profiler = LineProfiler()
    for function in (shelf.list_books, shelf.show_book, shelf.total_pages):
        profiler.add_function(function)
    profiler.enable_by_count()
    worker.line_profiler = profiler


def worker_exit(server, worker):
    profiler = worker.line_profiler
    profiler.disable_by_count()
    profiler.dump_stats(os.path.join(os.environ["LPROF_DIR"], f"worker-{worker.pid}.lprof"))
