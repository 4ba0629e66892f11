"""Domain-key decryption shares for policy records: this node's, its peers' checked, t combined.

A policy record's K_pre is encrypted to the domain key of the record's epoch
(``RecordEntry.domain_ciphertext``). For an approved request, node i answers
``D_i = e(X1, C1')^(sigma_i)`` with a Chaum-Pedersen proof (:mod:`crypto.dual.threshold`), where
``X1`` is the requester's published TPRE key (the same point g1^d the requester decrypts with)
and the proof is bound to the request's transaction id. ``C1'`` always comes from the committed
record, whose C1 proof the ledger checked when the PutRecord was admitted and applied; it is
checked once more here (cached per record) because only a :class:`VerifiedCiphertext` can form
a request, and a node never raises a base a request names.

Each peer share is checked against that epoch's ``VK_i`` once (the outcome is kept); the leader
combines ``t`` checked shares into ``X^p2``, whose bytes are the decision's combined value, and
followers recompute it from the same checked shares.
"""

from __future__ import annotations

from collections.abc import Sequence

from consensus.errors import InvalidBlock
from crypto.dual import (
    DecryptionRequest,
    DecryptionShare,
    DomainKeyDealing,
    NormalizedCiphertext,
    VerifiedCiphertext,
    VerifiedDecryptionShare,
    combine_decryption_shares,
    own_decryption_share,
    setup,
    verify_ciphertext,
    verify_decryption_share,
)
from crypto.errors import CryptoError, DecodeError, VerificationError
from crypto.groups import Group
from crypto.tpre import UserPublicKey
from ledger.authority_keys import check_domain_keys
from ledger.content import record_context
from ledger.errors import LedgerError
from ledger.genesis import GenesisError
from ledger.ledger import Ledger
from ledger.records import RecordEntry
from ledger.transactions import AccessRequest
from node.domain_share import EpochShares
from node.keycache import Lru

_MEMORY = 10_000


class DomainShares:
    """Domain-key share work of a node over ``ledger``; ``epochs`` holds its share of each epoch
    (the genesis one as loaded from its home, later ones opened from the chain's rotations)."""

    def __init__(self, ledger: Ledger, group: Group, epochs: EpochShares) -> None:
        self.ledger = ledger
        self.epochs = epochs
        self.group = group
        self.params = setup(group)
        self._dealings: dict[int, DomainKeyDealing] = {}
        self._ciphertexts: Lru[bytes, VerifiedCiphertext] = Lru(1024)
        self._requests: Lru[tuple[bytes, bytes], DecryptionRequest] = Lru(1024)
        self._verified: Lru[tuple[bytes, int, bytes], VerifiedDecryptionShare] = Lru(_MEMORY)

    def dealing(self, epoch: int) -> DomainKeyDealing:
        """The public dealing (t and every ``VK_i``) of ``epoch``; raises
        :class:`VerificationError` for an epoch the chain does not deal."""
        known = self._dealings.get(epoch)
        if known is not None:
            return known
        domain = self.ledger.domain_keys(epoch)
        if domain is None:
            raise VerificationError(f"the chain deals no domain key of epoch {epoch}")
        try:
            _, dealing = check_domain_keys(domain, self.group, f"domain epoch {epoch}")
        except GenesisError as exc:
            raise VerificationError(str(exc)) from exc
        self._dealings[epoch] = dealing
        return dealing

    def threshold(self, record: RecordEntry) -> int:
        """How many shares a decision on ``record`` needs: its epoch's threshold."""
        return self.dealing(record.domain_epoch).threshold

    def ciphertext(self, record: RecordEntry) -> VerifiedCiphertext:
        """The committed record's domain ciphertext, its proof checked (once per record)."""
        known = self._ciphertexts.get(record.record_id)
        if known is not None:
            return known
        ciphertext = NormalizedCiphertext.from_bytes(self.params, record.domain_ciphertext)
        context = record_context(record.record_id, record.owner, self.ledger.genesis.chain_id)
        return self._ciphertexts.put(
            record.record_id, verify_ciphertext(self.params, ciphertext, context)
        )

    def request(self, tx: AccessRequest, tx_id: bytes, record: RecordEntry) -> DecryptionRequest:
        """What request ``tx_id`` asks the nodes to answer: the committed record's C1 for the
        requester's published key, bound to ``tx_id``. Raises ``VerificationError`` when the
        requester has published no key."""
        member = self.ledger.member(tx.requester)
        material = member.public_key_material if member is not None else b""
        if not material:
            raise VerificationError("requester has published no key to decrypt with")
        known = self._requests.get((tx_id, material))
        if known is not None:
            return known
        x1 = UserPublicKey.from_bytes(self.group, material).x1
        request = DecryptionRequest(self.params, self.ciphertext(record), x1, tx_id)
        return self._requests.put((tx_id, material), request)

    def own(self, tx: AccessRequest, tx_id: bytes, record: RecordEntry) -> bytes:
        """This node's proven share for request ``tx_id``; raises ``CryptoError`` (no share of
        the record's epoch, no requester key, a ciphertext that does not check out)."""
        share = self.epochs.share(record.domain_epoch)
        if share is None:
            raise VerificationError(
                f"this node holds no domain share of epoch {record.domain_epoch}"
            )
        own = own_decryption_share(self.params, share, self.request(tx, tx_id, record))
        encoded = own.share.to_bytes()
        # The blocks this node builds or votes on carry its share: not checked again there.
        self._verified.put((tx_id, own.share.index, encoded), own)
        return encoded

    def verified(
        self, tx: AccessRequest, tx_id: bytes, signer: int, share: bytes, record: RecordEntry
    ) -> VerifiedDecryptionShare | None:
        """``share`` as node ``signer``'s checked share for request ``tx_id``, or None."""
        key = (tx_id, signer, share)
        known = self._verified.get(key)
        if known is not None:
            return known
        try:
            parsed = DecryptionShare.from_bytes(self.params, share)
            if parsed.index != signer:
                return None
            checked = verify_decryption_share(
                self.params,
                self.dealing(record.domain_epoch),
                self.request(tx, tx_id, record),
                parsed,
            )
        except (CryptoError, DecodeError, LedgerError):
            return None
        return self._verified.put(key, checked)

    def combine(
        self,
        tx: AccessRequest,
        tx_id: bytes,
        approvals: Sequence[tuple[int, bytes]],
        record: RecordEntry,
    ) -> bytes:
        """``X^p2`` from the first t of ``approvals`` (by node index), as bytes. Raises
        :class:`InvalidBlock` for a share that does not check out."""
        dealing = self.dealing(record.domain_epoch)
        checked = []
        for signer, share in sorted(approvals)[: dealing.threshold]:
            verified = self.verified(tx, tx_id, signer, share, record)
            if verified is None:
                raise InvalidBlock(f"domain share of node {signer} does not verify")
            checked.append(verified)
        return bytes(combine_decryption_shares(self.params, dealing, checked))
