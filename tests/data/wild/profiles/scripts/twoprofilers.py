"""One cProfile.Profile per thread, merged with pstats.Stats.add: a dump with two top-level roots."""

import cProfile
import pstats
import sys
import threading
import time


def spin(seconds):
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


def job_left():
    spin(0.09)


def job_right():
    spin(0.03)


def profiled(job, out):
    profiler = cProfile.Profile()
    profiler.runcall(job)
    out.append(profiler)


def main(path):
    done = []
    for job in (job_left, job_right):  # one after the other: 3.12+ allows one profiler at a time
        thread = threading.Thread(target=profiled, args=(job, done))
        thread.start()
        thread.join()
    stats = pstats.Stats(done[0])
    stats.add(done[1])
    stats.dump_stats(path)


main(sys.argv[1])
