"""Two worker threads and the main thread doing planted CPU work."""

import threading
import time


def spin(seconds):
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


def worker_a():
    spin(0.10)


def worker_b():
    spin(0.05)


def main():
    threads = [threading.Thread(target=worker_a), threading.Thread(target=worker_b)]
    for t in threads:
        t.start()
    spin(0.08)
    for t in threads:
        t.join()


main()
