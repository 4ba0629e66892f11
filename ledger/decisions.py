"""What a sharing result may carry, beyond its votes' signatures.

A granted result carries the ciphertext combined from its approvals' shares (the node checks the
combination when it opens a block). A denied result must carry nothing of the kind: no combined
ciphertext and no approval, since every approval carries its node's re-encryption share. The
leader builds a denial from the denial votes alone; without this rule a leader could write any
bytes, or a handful of real shares, into a denial, and every node would store and serve them.
The state transition and ``iomtshare ledger verify`` both apply it.
"""

from __future__ import annotations

from ledger.block import SharingResult
from ledger.errors import InvalidBlock


def check_result_shape(result: SharingResult) -> None:
    """Raise :class:`InvalidBlock` if a denied ``result`` carries a ciphertext or shares."""
    if result.granted:
        return
    if result.combined_ciphertext:
        raise InvalidBlock("a denied result carries a combined ciphertext")
    if any(vote.approve for vote in result.votes):
        raise InvalidBlock("a denied result carries approvals (and their shares)")
