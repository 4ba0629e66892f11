"""One real in-process testnet (4 nodes, t = 3) for every CLI test that needs nodes.

Tests make their own members and records, so they do not depend on each other's chain state.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.client.live_network import LiveNetwork, live_network


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveNetwork]:
    with live_network(tmp_path_factory.mktemp("cli") / "net", 4, threshold=3) as running:
        yield running
