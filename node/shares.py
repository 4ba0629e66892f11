"""Shares of a node: its own, checking its peers', and combining t of them.

This is the one entry point for both kinds of record: a policy record's shares are domain-key
decryption shares (:mod:`node.domain_shares`); an owner-grant record's are threshold PRE
re-encryption shares, described below.

Every re-encryption share is bound to its request's transaction id (the proof's context), made
with this node's re-key share of the request's grant, and checked against the grant's
verification key of the node that made it. Checked shares are kept (a share is checked when its
vote arrives and looked at again when a claim, a block and the combination carry it); grant keys
and record values come from :class:`~node.keycache.KeyCache`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from consensus.errors import InvalidBlock
from crypto.dual import DomainKeyShare, VerifiedDecryptionShare
from crypto.errors import CryptoError, DecodeError, VerificationError
from crypto.groups import Group
from crypto.sealing import BoxSecretKey
from crypto.tpre import (
    OwnerCiphertext,
    ReEncryptionShare,
    VerifiedShare,
    combine_shares,
    own_reencryption_share,
)
from crypto.tpre import verify_share as tpre_verify_share
from ledger.errors import LedgerError
from ledger.ledger import Ledger
from ledger.records import GrantEntry, RecordEntry
from ledger.transactions import AccessRequest, Grant
from node.domain_share import EpochShares
from node.domain_shares import DomainShares
from node.keycache import GrantKeys, KeyCache

logger = logging.getLogger("iomtshare.node.shares")

_VERIFIED_MEMORY = 10_000


class Shares:
    """Share work of node ``index`` over ``ledger``; it opens its re-key shares with
    ``box_key`` and answers for policy records with ``domain_share`` (the genesis epoch's) and
    its shares of later epochs, kept in ``home`` (:class:`~node.domain_share.EpochShares`)."""

    def __init__(
        self,
        ledger: Ledger,
        group: Group,
        index: int,
        box_key: BoxSecretKey,
        domain_share: DomainKeyShare | None = None,
        home: Path | None = None,
    ) -> None:
        self.ledger = ledger
        self.group = group
        self.keys = KeyCache(group, index, box_key)
        epochs = EpochShares(ledger, index, box_key, group, domain_share, home)
        self.domain = DomainShares(ledger, group, epochs)
        self._nodes = ledger.genesis.size
        self._verified: dict[tuple[bytes, int, bytes], VerifiedShare] = {}

    def policy_record(self, tx: AccessRequest) -> RecordEntry | None:
        """The committed record ``tx`` names if it is a policy record, else None."""
        record = self.ledger.record(tx.record_id)
        return record if record is not None and record.policy else None

    def threshold(self, tx: AccessRequest) -> int:
        """How many approving shares a granted decision on ``tx`` combines: the record's domain
        epoch's threshold for a policy record, the grant's otherwise (the network's without
        one)."""
        record = self.policy_record(tx)
        if record is not None:
            try:
                return self.domain.threshold(record)
            except CryptoError:
                return self.ledger.genesis.threshold
        grant = self.ledger.grant(tx.record_id, tx.requester)
        return grant.threshold if grant is not None else self.ledger.genesis.threshold

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
        record = self.policy_record(tx)
        if record is not None:
            return self.domain.own(tx, tx_id, record)
        _, keys = self.grant_keys(tx)
        rekey = keys.own_share()
        ciphertext = self.ciphertext(tx.record_id)
        c1_pairing = self.keys.c1_pairing(tx.record_id, ciphertext)
        own = own_reencryption_share(
            self.group, rekey, ciphertext.c1, tx_id, c1_pairing=c1_pairing
        )
        encoded = own.share.to_bytes()
        # The blocks this node builds or votes on carry its share: not checked again there.
        self._remember((tx_id, own.index, encoded), own)
        return encoded

    def verified(
        self, tx: AccessRequest, tx_id: bytes, signer: int, share: bytes
    ) -> VerifiedShare | VerifiedDecryptionShare | None:
        """``share`` as node ``signer``'s checked share for request ``tx_id``, or None."""
        record = self.policy_record(tx)
        if record is not None:
            return self.domain.verified(tx, tx_id, signer, share, record)
        return self._reencryption_share(tx, tx_id, signer, share)

    def _reencryption_share(
        self, tx: AccessRequest, tx_id: bytes, signer: int, share: bytes
    ) -> VerifiedShare | None:
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
        self._remember(key, verified)
        return verified

    def _remember(self, key: tuple[bytes, int, bytes], verified: VerifiedShare) -> None:
        if len(self._verified) > _VERIFIED_MEMORY:
            self._verified.clear()
        self._verified[key] = verified

    def combine(
        self, tx: AccessRequest, tx_id: bytes, approvals: Sequence[tuple[int, bytes]]
    ) -> bytes:
        """The ciphertext combined from the first t of ``approvals`` (``(node, share)`` pairs,
        by node index), t being the grant's threshold. Raises :class:`InvalidBlock` for a
        share that does not check out, ``CryptoError``/``LedgerError`` for a bad grant.
        For a policy record: the combined domain-key value ``X^p2`` instead."""
        record = self.policy_record(tx)
        if record is not None:
            return self.domain.combine(tx, tx_id, approvals, record)
        entry, _ = self.grant_keys(tx)
        chosen = sorted(approvals)[: entry.threshold]
        verified = []
        for signer, share in chosen:
            checked = self._reencryption_share(tx, tx_id, signer, share)
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
