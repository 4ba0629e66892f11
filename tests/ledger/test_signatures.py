"""Up-front signature checks: right answers in order, and never trusted for the wrong key."""

from __future__ import annotations

import pytest

from crypto.signing import SigningKey
from ledger import signatures
from ledger.errors import InvalidTransaction
from ledger.ledger import Ledger
from ledger.testing import ChainFixture


@pytest.mark.parametrize("count", [3, signatures.PARALLEL_MIN, 41])
def test_preverify_reports_each_signature_in_order(count: int) -> None:
    keys = [SigningKey(bytes([i + 1]) * 32) for i in range(count)]
    items = []
    for i, key in enumerate(keys):
        message = f"message {i}".encode()
        signature = key.sign(message)
        if i % 3 == 1:
            signature = key.sign(b"another message")
        if i % 5 == 4:
            message += b"!"
        items.append((bytes(key.verify_key), message, signature))
    expected = [i % 3 != 1 and i % 5 != 4 for i in range(count)]
    assert signatures.preverify(items) == expected


def test_key_rotated_inside_a_block_is_honoured(fx: ChainFixture, ledger: Ledger) -> None:
    # The up-front check uses the key the state names before the block; after the rotation
    # the owner's next transaction needs the new key, and the old key no longer passes.
    rotate = fx.key_update("alice", "alice-new")
    fresh = fx.put_record("alice", "r2")  # signed with the new key
    fx.commit(ledger, [rotate, fresh])
    assert ledger.record(fx.record_id("r2")) is not None

    current_key = fx.key_of("alice")  # valid before the next block, stale inside it
    rotate_again = fx.key_update("alice", "alice-newer")
    stale = fx.put_record("alice", "r3").signed(current_key, fx.chain_id)
    with pytest.raises(InvalidTransaction, match="not signed by the owner") as caught:
        fx.next_block(ledger, [rotate_again, stale])
    assert caught.value.index == 1
