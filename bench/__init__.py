"""Benchmarks: speed and quality against a same-run baseline."""
