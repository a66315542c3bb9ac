"""Pure Python: a main() with two planted workers (crunch ~3x the CPU of tally)."""

import time


def spin(seconds):
    """Busy-loop for `seconds` of CPU time."""
    end = time.process_time() + seconds
    n = 0
    while time.process_time() < end:
        n += 1
    return n


def crunch():
    return spin(0.15)


def tally():
    return spin(0.05)


def main():
    crunch()
    tally()


main()
