"""Recursion (direct and mutual) and a function called from two places with different costs."""

import time


def spin(seconds):
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def is_even(n):
    return True if n == 0 else is_odd(n - 1)


def is_odd(n):
    return False if n == 0 else is_even(n - 1)


def shared(seconds):
    spin(seconds)


def cheap_caller():
    for _ in range(10):
        shared(0.002)  # 10 calls, 0.02 s


def dear_caller():
    shared(0.08)  # 1 call, 0.08 s


def main():
    fib(21)
    for _ in range(200):
        is_even(300)
    cheap_caller()
    dear_caller()


main()
