"""Node-local fragment storage beside the chain."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger.ledger import Ledger
from ledger.testing import ChainFixture


@pytest.mark.parametrize("backend", ["memory", "leveldb"])
def test_fragments_round_trip_and_stay_out_of_the_chain(
    fx: ChainFixture, ledger: Ledger, tmp_path: Path, backend: str
) -> None:
    if backend == "leveldb":
        ledger = Ledger.open(tmp_path / "ledger", fx.genesis)
        fx.commit(ledger, [fx.register("alice")])
    head = ledger.head()
    r1, r2 = fx.record_id("r1"), fx.record_id("r2")
    store = ledger.fragments
    store.put(r1, 2, b"two")
    store.put(r1, 0, b"zero")
    store.put(r2, 1, b"other")
    store.put(r1, 2, b"two again")
    assert [(f.index, f.fragment) for f in store.of_record(r1)] == [(0, b"zero"), (2, b"two again")]
    fragment = store.get(r2, 1)
    assert fragment is not None
    assert fragment.fragment == b"other"
    assert store.get(r2, 0) is None
    assert ledger.head() == head
    ledger.verify()  # fragments are not chain data and do not disturb verification
    assert store.drop(r1) == 2
    assert store.of_record(r1) == []
    assert store.drop(r1) == 0
    assert len(store.of_record(r2)) == 1
    ledger.close()


def test_fragment_keys_are_checked(ledger: Ledger) -> None:
    with pytest.raises(ValueError, match="record_id"):
        ledger.fragments.put(b"short", 0, b"x")
    with pytest.raises(ValueError, match="index"):
        ledger.fragments.put(bytes(32), 70_000, b"x")
