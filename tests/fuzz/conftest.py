"""The fuzz nodes, and the table of how many inputs each fuzz target tried (printed whatever
pytest's capture settings)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

from tests.fuzz.budget import BUDGET_ENV, TALLIES, budget
from tests.fuzz.fuzz_node import FuzzNode, fuzz_node


@pytest.fixture(scope="module")
def http_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzNode]:
    """A running node with a small history, for the HTTP fuzzer."""
    with fuzz_node(tmp_path_factory.mktemp("fuzz-http") / "net") as running:
        yield running


@pytest.fixture(scope="module")
def p2p_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzNode]:
    """Another one, for the p2p fuzzer (what a peer sends may move a node's round)."""
    with fuzz_node(tmp_path_factory.mktemp("fuzz-p2p") / "net") as running:
        yield running


@pytest.fixture
def quiet_node() -> Iterator[None]:
    """The node logs a warning for every malformed peer message; pytest would keep each of
    the fuzzer's tens of thousands in memory. Errors still show."""
    logger = logging.getLogger("iomtshare")
    level = logger.level
    logger.setLevel(logging.ERROR)
    yield
    logger.setLevel(level)


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
