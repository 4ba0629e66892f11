"""Benchmarks, kept apart from the tests. Each module's ``run`` measures and returns a
:class:`bench.report.Report` (tables and JSON figures); ``cli/bench.py`` holds the commands."""
