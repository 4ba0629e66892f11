"""``iomtshare bench ...``: benchmarks that print a table and can write JSON."""

from __future__ import annotations

import click

from cli.lazy import LazyGroup

# name -> "module:attribute" of a click command. One line per benchmark.
BENCHES: dict[str, str] = {
    "crypto": "bench.crypto_bench:command",
    "ledger": "bench.ledger_bench:command",
    "dual": "bench.dual_bench:command",
    "abe": "bench.abe_bench:command",
    "light": "bench.light_bench:command",
    "e2e": "bench.e2e_bench:command",
}


@click.group(cls=LazyGroup, lazy_commands=BENCHES)
def bench() -> None:
    """Measure the system and compare it with its anchors (umbral-pre, py_ecc, the papers)."""
