"""Functions with known line counts, profiled by record_known.py (perfkit's line-profile corpus)."""


def squares(n):
    """Sum of squares below n: the loop body runs n times per call."""
    total = 0
    for i in range(n):
        total += i * i
    return total


def branchy(n):
    # the even branch runs n // 2 + n % 2 times, the odd one n // 2
    evens = odds = 0
    for i in range(n):
        if i % 2 == 0:
            evens += 1
        else:
            odds += 1
    return evens, odds


def words(text):
    parts = text.split()
    return {w: len(w) for w in parts}
