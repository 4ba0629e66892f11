"""Prints how many inputs each fuzz target tried, whatever pytest's capture settings."""

from __future__ import annotations

from typing import Any

from tests.fuzz.budget import BUDGET_ENV, TALLIES, budget


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not TALLIES:
        return
    write = terminalreporter.write_line
    terminalreporter.section(f"fuzz inputs tried (budget {budget():,}, {BUDGET_ENV})")
    write(f"{'target':<44} {'inputs':>8} {'refused':>8} {'seconds':>8} {'RSS +MiB':>9}")
    for tally in TALLIES:
        write(
            f"{tally.name:<44} {tally.inputs:>8,} {tally.refused:>8,} "
            f"{tally.seconds:>8.1f} {tally.growth_mib:>9.1f}"
        )
    total = sum(t.inputs for t in TALLIES)
    seconds = sum(t.seconds for t in TALLIES)
    write(f"{'total':<44} {total:>8,} {'':>8} {seconds:>8.1f}")
