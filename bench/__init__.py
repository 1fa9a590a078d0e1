"""Benchmarks, run by hand (`python -m bench.watch`, `python -m bench.ack`); not part of the tests."""
