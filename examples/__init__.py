"""Examples: the reference warehouse workload that produces perfkit's demo data."""
