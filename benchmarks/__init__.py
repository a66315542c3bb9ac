"""perfkit's speed and memory benchmarks (``python -m benchmarks``); not part of the tests."""
