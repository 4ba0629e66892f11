"""Dependencies point cli -> bench -> testnet -> node: bench and testnet never import the CLI,
and testnet never imports bench (also not lazily, inside a function)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def imported_packages(package: str) -> dict[str, set[str]]:
    """Top-level package of every import in ``package``'s modules, per module path."""
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
        found[str(path.relative_to(ROOT))] = names
    return found


@pytest.mark.parametrize(
    ("package", "forbidden"), [("bench", {"cli"}), ("testnet", {"cli", "bench"})]
)
def test_package_does_not_import_upwards(package: str, forbidden: set[str]) -> None:
    modules = imported_packages(package)
    assert modules, f"no modules found in {package}/"
    offenders = {path: names & forbidden for path, names in modules.items() if names & forbidden}
    assert offenders == {}
