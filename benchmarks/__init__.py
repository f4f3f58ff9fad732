"""Benchmarks behind the timings the README states (see benchmarks/__main__.py)."""
