"""Re-encryption shares of a node: its own, checking its peers', and combining t of them.

Every share is bound to its request's transaction id (the proof's context), made with this
node's re-key share of the request's grant, and checked against the grant's verification key of
the node that made it. Checked shares are kept (a share is checked when its vote arrives and
looked at again when a claim, a block and the combination carry it); grant keys and record
values come from :class:`~node.keycache.KeyCache`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from consensus.errors import InvalidBlock
from crypto.errors import CryptoError, DecodeError, VerificationError
from crypto.groups import Group
from crypto.sealing import BoxSecretKey
from crypto.tpre import (
    OwnerCiphertext,
    ReEncryptionShare,
    VerifiedShare,
    combine_shares,
    reencryption_share,
)
from crypto.tpre import verify_share as tpre_verify_share
from ledger.errors import LedgerError
from ledger.ledger import Ledger
from ledger.records import GrantEntry
from ledger.transactions import AccessRequest, Grant
from node.keycache import GrantKeys, KeyCache

logger = logging.getLogger("iomtshare.node.shares")

_VERIFIED_MEMORY = 10_000


class Shares:
    """Share work of node ``index`` over ``ledger``; it opens its re-key shares with
    ``box_key``."""

    def __init__(self, ledger: Ledger, group: Group, index: int, box_key: BoxSecretKey) -> None:
        self.ledger = ledger
        self.group = group
        self.keys = KeyCache(group, index, box_key)
        self._nodes = ledger.genesis.size
        self._verified: dict[tuple[bytes, int, bytes], VerifiedShare] = {}

    def grant_keys(self, tx: AccessRequest) -> tuple[GrantEntry, GrantKeys]:
        """The committed grant ``tx`` relies on; raises :class:`VerificationError` without
        one, ``DecodeError`` for a grant that does not parse."""
        entry = self.ledger.grant(tx.record_id, tx.requester)
        if entry is None:
            raise VerificationError("no active grant")
        return entry, self.keys.grant(entry, self._nodes)

    def ciphertext(self, record_id: bytes) -> OwnerCiphertext:
        record = self.ledger.record(record_id)
        if record is None:
            raise VerificationError("record does not exist")
        return self.keys.ciphertext(record.record_id, record.metadata_ciphertext)

    def own(self, tx: AccessRequest, tx_id: bytes) -> bytes:
        """This node's proven share for request ``tx_id``; raises ``CryptoError``,
        ``DecodeError`` or ``LedgerError`` when its grant or record cannot give one."""
        _, keys = self.grant_keys(tx)
        rekey = keys.own_share()
        ciphertext = self.ciphertext(tx.record_id)
        c1_pairing = self.keys.c1_pairing(tx.record_id, ciphertext)
        share = reencryption_share(self.group, rekey, ciphertext.c1, tx_id, c1_pairing=c1_pairing)
        return share.to_bytes()

    def verified(
        self, tx: AccessRequest, tx_id: bytes, signer: int, share: bytes
    ) -> VerifiedShare | None:
        """``share`` as node ``signer``'s checked share for request ``tx_id``, or None."""
        key = (tx_id, signer, share)
        cached = self._verified.get(key)
        if cached is not None:
            return cached
        try:
            parsed = ReEncryptionShare.from_bytes(self.group, share)
            if parsed.index != signer:
                return None
            _, keys = self.grant_keys(tx)
            ciphertext = self.ciphertext(tx.record_id)
            verified = tpre_verify_share(
                self.group, parsed, keys.verification_key(signer), ciphertext.c1, tx_id
            )
        except (CryptoError, DecodeError, LedgerError):
            return None
        if len(self._verified) > _VERIFIED_MEMORY:
            self._verified.clear()
        self._verified[key] = verified
        return verified

    def combine(
        self, tx: AccessRequest, tx_id: bytes, approvals: Sequence[tuple[int, bytes]]
    ) -> bytes:
        """The ciphertext combined from the first t of ``approvals`` (``(node, share)`` pairs,
        by node index), t being the grant's threshold. Raises :class:`InvalidBlock` for a
        share that does not check out, ``CryptoError``/``LedgerError`` for a bad grant."""
        entry, _ = self.grant_keys(tx)
        chosen = sorted(approvals)[: entry.threshold]
        verified = []
        for signer, share in chosen:
            checked = self.verified(tx, tx_id, signer, share)
            if checked is None:
                raise InvalidBlock(f"share of node {signer} does not verify")
            verified.append(checked)
        ciphertext = self.ciphertext(tx.record_id)
        return combine_shares(self.group, ciphertext, verified, entry.threshold).to_bytes()

    def warm(self, tx: Grant) -> None:
        """Derive a new grant's keys and its record's values now, at commit, so the first
        request under the grant does not pay for them (a few ms, more on a loaded node)."""
        try:
            entry = self.ledger.grant(tx.record_id, tx.grantee)
            if entry is None or entry.tx_id != tx.tx_id():
                return
            self.keys.grant(entry, self._nodes)
            self.keys.c1_pairing(tx.record_id, self.ciphertext(tx.record_id))
        except (CryptoError, DecodeError, LedgerError) as exc:
            # A bad grant is refused when a request uses it; warming it is only an optimisation.
            logger.debug("grant not warmed record=%s reason=%s", tx.record_id.hex()[:16], exc)
