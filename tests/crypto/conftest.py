"""Fixtures shared by the crypto tests: every pairing test runs on both backends."""

from __future__ import annotations

import pytest

from crypto.groups import BACKENDS, Group, load_group


@pytest.fixture(scope="session", params=BACKENDS)
def group(request: pytest.FixtureRequest) -> Group:
    return load_group(request.param)


@pytest.fixture(scope="session")
def mcl() -> Group:
    return load_group("mcl")


@pytest.fixture(scope="session")
def pyecc() -> Group:
    return load_group("py_ecc")
