"""The client library and the node share only what lies below both (ledger, crypto): the client
never imports node, the node never imports the client, and neither imports the tools above them
(also not lazily, inside a function)."""

from __future__ import annotations

import pytest

from tests.bench.test_layering import imported_packages


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("client", {"node", "consensus", "cli", "bench", "testnet"}),
        ("node", {"client", "cli", "bench", "testnet"}),
    ],
)
def test_package_does_not_import_across_or_upwards(package: str, forbidden: set[str]) -> None:
    modules = imported_packages(package)
    assert modules, f"no modules found in {package}/"
    offenders = {path: names & forbidden for path, names in modules.items() if names & forbidden}
    assert offenders == {}
