"""A granted sharing result with real shares fits the ledger's disk budget (issue 17 item 5).

A granted request may add at most 6 KB to a node's ledger; its sharing result (t shares with
proofs, t signed votes, the combined ciphertext) is the bulk of that, and the rest (the request
transaction, audit record, indexes, a block's share of header and QCs) takes about 1.7 KB at one
request per block (docs/performance.md). Version 1 shares, with the proof as (A, B, z), made the
result alone about 7 KB at t = 3.
"""

from __future__ import annotations

from crypto.groups import load_group
from crypto.tpre import combine_shares, verify_share
from ledger.block import SharingResult
from ledger.qc import AccessVote
from tests.crypto.tpre_helpers import make_world

#: The result's part of the 6 KB per granted request.
RESULT_BUDGET = 6_000 - 1_700
#: Plaintext of the record's metadata ciphertext, which the combined ciphertext repeats: a bit
#: more than ``bench disk``'s records carry (their combined ciphertexts take 1,356 bytes).
METADATA_BYTES = 200


def test_a_granted_result_at_t_3_fits_its_budget() -> None:
    mcl, threshold = load_group("mcl"), 3
    world = make_world(mcl, threshold=threshold, n=4, plaintext=bytes(METADATA_BYTES))
    request_id = bytes(range(32))
    shares = world.shares(request_id)[:threshold]
    verified = [
        verify_share(mcl, s, world.vks[s.index - 1], world.ciphertext.c1, request_id)
        for s in shares
    ]
    combined = combine_shares(mcl, world.ciphertext, verified, threshold)
    votes = tuple(AccessVote(s.index, True, s.to_bytes(), bytes(64)) for s in shares)
    result = SharingResult(request_id, bytes(32), bytes(32), True, combined.to_bytes(), votes)
    size = len(result.to_bytes())
    assert size <= RESULT_BUDGET, f"a granted result takes {size} bytes"
