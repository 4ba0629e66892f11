"""Checking a block's transaction signatures up front, on two threads where there are cores.

libsodium releases the GIL while it verifies an Ed25519 signature, so splitting a block's
signatures between the calling thread and one helper thread checks them in about half the time
on a two-core machine. :func:`preverify` only reports which signatures are valid; the state
transition still decides, transaction by transaction, which key must have signed (a key may
change inside the block) and verifies again itself whenever the key it needs is not the one
checked here.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from crypto.errors import VerificationError
from crypto.signing import VerifyKey

#: Below this many signatures a helper thread costs more than it saves.
PARALLEL_MIN = 16

_helper: ThreadPoolExecutor | None = None


def _helper_pool() -> ThreadPoolExecutor:
    global _helper
    if _helper is None:
        _helper = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ledger-sigcheck")
    return _helper


def _valid(items: Sequence[tuple[bytes, bytes, bytes]]) -> list[bool]:
    out = []
    for key, message, signature in items:
        try:
            VerifyKey(key).verify(message, signature)
        except VerificationError:
            out.append(False)
        else:
            out.append(True)
    return out


def preverify(items: Sequence[tuple[bytes, bytes, bytes]]) -> list[bool]:
    """For each ``(public key, message, signature)``: does the signature verify?

    Keys must be 32 bytes (they come from decoded records). Never raises for a bad signature.
    """
    if len(items) < PARALLEL_MIN or (os.cpu_count() or 1) < 2:
        return _valid(items)
    half = len(items) // 2
    later = _helper_pool().submit(_valid, items[half:])
    return _valid(items[:half]) + later.result()
