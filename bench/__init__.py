"""Benchmarks, kept apart from the tests. Each prints a table and can write JSON."""
