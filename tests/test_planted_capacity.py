"""Tests written to kill surviving mutants (issue 16); see tools/mutate.py."""
