"""The test-only wall-clock shift a node takes from IOMTSHARE_TEST_CLOCK_SKEW_MS (chaos runs)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import node.home
from node.config import ConfigError
from node.home import TEST_CLOCK_SKEW_ENV, load_identity, wall_ms
from testnet.layout import create_network


@pytest.fixture(autouse=True)
def fixed_time(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(time, "time", lambda: 1_000.0)
    yield
    monkeypatch.delenv(TEST_CLOCK_SKEW_ENV, raising=False)
    node.home._install_test_clock_skew()


def test_no_variable_no_shift(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TEST_CLOCK_SKEW_ENV, raising=False)
    node.home._install_test_clock_skew()
    assert wall_ms() == 1_000_000


@pytest.mark.parametrize("skew", [-7_500, 4_200])
def test_the_shift_applies_to_the_wall_clock(monkeypatch: pytest.MonkeyPatch, skew: int) -> None:
    monkeypatch.setenv(TEST_CLOCK_SKEW_ENV, str(skew))
    node.home._install_test_clock_skew()
    assert wall_ms() == 1_000_000 + skew


def test_a_node_start_reads_it_and_refuses_a_malformed_value(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    network = create_network(tmp_path, 3)
    home = network.directory / network.node(1).home
    monkeypatch.setenv(TEST_CLOCK_SKEW_ENV, "300")
    load_identity(home)
    assert wall_ms() == 1_000_300
    monkeypatch.setenv(TEST_CLOCK_SKEW_ENV, "3s")
    with pytest.raises(ConfigError, match="not a whole number"):
        load_identity(home)
