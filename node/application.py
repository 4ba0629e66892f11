"""The consensus :class:`~consensus.app.Application` of a node: the ledger plus threshold PRE.

How consensus items map to the ledger:

* an ordinary transaction (any ledger transaction except an access request) is a ``TX`` item;
* an :class:`~ledger.transactions.AccessRequest` is a ``REQUEST`` item. Its block carries the
  request as a transaction followed, in the same block, by its
  :class:`~ledger.block.SharingResult` (granted with the combined re-encrypted ciphertext, or
  denied). A block's transactions are the ordinary ones first, then one request per result, in
  the order of the results; :class:`node.wire.BlockEvidence` (the block's ``election_qc`` field)
  keeps the election QC and each result's signed votes, so every node reads the consensus
  content back out of the ledger block.

Authorization (:meth:`NodeApplication.authorize`) reads only committed state, except the clock
that judges a request's freshness: a request that is malformed, badly signed, from a non-member
or a blacklisted member, about an unknown record, stale, or replaying a nonce is refused
outright (no vote, never in a block); otherwise the node approves when an unexpired grant exists
and the access count is below the record's limit, and denies otherwise. Denials are voted on and
recorded in the audit chain like approvals.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from consensus.app import Authorization, BuiltBlock, OpenedBlock
from consensus.encoding import ItemKind, item_id
from consensus.errors import InvalidBlock, InvalidMessage
from consensus.messages import BlockContent, Bundle, CommittedBlock, Submission
from consensus.safety import SafetyState
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
from ledger.block import Block, SharingResult
from ledger.errors import InvalidTransaction, LedgerError
from ledger.genesis import Genesis
from ledger.ledger import Ledger
from ledger.qc import AccessVote, CommitQC, CommitSignature, access_vote_payload
from ledger.records import GrantEntry
from ledger.transactions import (
    AccessRequest,
    Grant,
    Transaction,
    decode_transaction,
    tx_id_of,
)
from node.admission import MAX_TX_BYTES, Admission, Decision, Problem, RequestRefused
from node.keycache import GrantKeys, KeyCache
from node.localstore import LocalStore
from node.wire import BlockEvidence, ShareList

logger = logging.getLogger("iomtshare.node.application")

#: How far ahead of this node's clock a proposed block's time may be.
MAX_CLOCK_SKEW_MS = 30_000
_REASON_MEMORY = 100_000


def ledger_access_payload(chain_id: str, request: bytes, approve: bool) -> bytes:
    """The ledger's access-vote payload for a request given by its encoded body (what
    consensus signs into every authorization vote)."""
    return access_vote_payload(chain_id, tx_id_of(request), approve)


class NodeApplication:
    """Implements :class:`consensus.app.Application` over a :class:`Ledger`.

    ``clock_ms()`` gives wall-clock milliseconds; it is used only for request freshness and the
    sanity bound on block times.
    """

    def __init__(
        self,
        ledger: Ledger,
        local: LocalStore,
        group: Group,
        index: int,
        box_key: BoxSecretKey,
        clock_ms: Callable[[], int],
    ) -> None:
        self.ledger = ledger
        self.genesis: Genesis = ledger.genesis
        self.local = local
        self.group = group
        self.index = index
        self._clock_ms = clock_ms
        self.keys = KeyCache(group, index, box_key)
        self._verified: dict[tuple[bytes, int, bytes], VerifiedShare] = {}
        self.admission = Admission(ledger, index, clock_ms, self.is_committed)
        self.denial_reasons: dict[bytes, str] = {}
        #: Consensus item ids the last build had to leave out (the service drops them).
        self.dropped: set[bytes] = set()
        self._reindex()

    # -- admission and authorization ----------------------------------------------------------

    def parse_request(self, request: bytes) -> AccessRequest:
        return self.admission.parse_request(request)

    def request_problem(self, request: bytes) -> Problem | None:
        return self.admission.request_problem(request)

    def transaction_problem(self, raw: bytes) -> Problem | None:
        return self.admission.transaction_problem(raw)

    def authorize(self, request: bytes) -> Authorization:
        try:
            tx = self.admission.admit(request)
        except RequestRefused as exc:
            raise InvalidMessage(exc.message) from exc
        decision = self.admission.decide(tx)
        ident = item_id(ItemKind.REQUEST, request)
        self.admission.hold_nonce(tx, ident)
        share = b""
        if decision.approve:
            try:
                share = self._own_share(tx, request)
            except (CryptoError, DecodeError, LedgerError) as exc:
                logger.warning("cannot compute share request=%s reason=%s", ident.hex()[:16], exc)
                decision = Decision(False, decision.threshold, f"unusable grant: {exc}")
        if not decision.approve:
            if len(self.denial_reasons) >= _REASON_MEMORY:
                self.denial_reasons.clear()
            self.denial_reasons[tx_id_of(request)] = decision.reason
        return Authorization(decision.approve, decision.threshold, share)

    def _grant_keys(self, tx: AccessRequest) -> tuple[GrantEntry, GrantKeys]:
        entry = self.ledger.grant(tx.record_id, tx.requester)
        if entry is None:
            raise VerificationError("no active grant")
        return entry, self.keys.grant(entry, self.genesis.size)

    def _ciphertext(self, record_id: bytes) -> OwnerCiphertext:
        record = self.ledger.record(record_id)
        if record is None:
            raise VerificationError("record does not exist")
        return self.keys.ciphertext(record.record_id, record.metadata_ciphertext)

    def _own_share(self, tx: AccessRequest, request: bytes) -> bytes:
        _, keys = self._grant_keys(tx)
        rekey = keys.own_share()
        ciphertext = self._ciphertext(tx.record_id)
        c1_pairing = self.keys.c1_pairing(tx.record_id, ciphertext)
        share = reencryption_share(
            self.group, rekey, ciphertext.c1, tx_id_of(request), c1_pairing=c1_pairing
        )
        return share.to_bytes()

    def request_threshold(self, request: bytes) -> int:
        try:
            tx = self.parse_request(request)
        except RequestRefused as exc:
            raise InvalidMessage(exc.message) from exc
        grant = self.ledger.grant(tx.record_id, tx.requester)
        return grant.threshold if grant is not None else self.genesis.threshold

    def verify_share(self, request: bytes, signer: int, share: bytes) -> bool:
        return self._verified_share(request, signer, share) is not None

    def _verified_share(self, request: bytes, signer: int, share: bytes) -> VerifiedShare | None:
        key = (tx_id_of(request), signer, share)
        cached = self._verified.get(key)
        if cached is not None:
            return cached
        try:
            tx = self.parse_request(request)
            parsed = ReEncryptionShare.from_bytes(self.group, share)
            if parsed.index != signer:
                return None
            _, keys = self._grant_keys(tx)
            ciphertext = self._ciphertext(tx.record_id)
            verified = tpre_verify_share(
                self.group, parsed, keys.verification_key(signer), ciphertext.c1, key[0]
            )
        except (RequestRefused, CryptoError, DecodeError, LedgerError):
            return None
        if len(self._verified) > 10_000:
            self._verified.clear()
        self._verified[key] = verified
        return verified

    def stale_items(self, pending: Iterable[Submission]) -> set[bytes]:
        """Consensus ids of pending items that can no longer enter a block: those the last
        build left out, and those committed state now refuses (a conflicting transaction
        committed, a request gone stale or its requester blacklisted)."""
        stale = set(self.dropped)
        self.dropped.clear()
        for sub in pending:
            if sub.kind is ItemKind.TX:
                problem = self.transaction_problem(sub.body)
            else:
                problem = self.request_problem(sub.body)
            if problem is not None:
                stale.add(sub.item_id)
        return stale

    def check_transaction(self, tx: bytes) -> bool:
        if len(tx) > MAX_TX_BYTES:
            return False
        try:
            decoded = decode_transaction(tx)
        except DecodeError:
            return False
        return not isinstance(decoded, AccessRequest)

    # -- blocks -------------------------------------------------------------------------------

    def build_block(self, content: BlockContent) -> BuiltBlock:
        """Assemble the ledger block; items the ledger would refuse are left out (and listed in
        :attr:`dropped`) rather than failing the round."""
        txs = []
        for tx in content.txs:
            if self.check_transaction(tx):
                txs.append(tx)
            else:
                self.dropped.add(item_id(ItemKind.TX, tx))
        results: list[tuple[Bundle, SharingResult]] = []
        for bundle, granted in [(b, True) for b in content.approved] + [
            (b, False) for b in content.denied
        ]:
            try:
                results.append((bundle, self._result(bundle, granted)))
            except (CryptoError, DecodeError, LedgerError, InvalidBlock, RequestRefused) as exc:
                logger.warning(
                    "request left out of block height=%d request=%s reason=%s",
                    content.height,
                    bundle.request_id.hex()[:16],
                    exc,
                )
                self.dropped.add(bundle.request_id)
        while True:
            try:
                block = self._assemble(content, txs, results)
            except InvalidTransaction as exc:
                logger.info("block item left out height=%d reason=%s", content.height, exc)
                self._drop(exc, txs, results)
                continue
            except LedgerError as exc:
                raise InvalidBlock(f"cannot build block {content.height}: {exc}") from exc
            return BuiltBlock(block.to_bytes(), block.hash())

    def _drop(
        self,
        exc: InvalidTransaction,
        txs: list[bytes],
        results: list[tuple[Bundle, SharingResult]],
    ) -> None:
        """Remove the item a failed build named, remembering its consensus id."""
        position = exc.index
        if exc.what == "transaction" and position < len(txs):
            self.dropped.add(item_id(ItemKind.TX, txs.pop(position)))
            return
        if exc.what == "transaction":
            position -= len(txs)
        if not 0 <= position < len(results):
            raise InvalidBlock(f"build failed on an item it cannot name: {exc}")
        self.dropped.add(results.pop(position)[0].request_id)

    def _assemble(
        self,
        content: BlockContent,
        txs: list[bytes],
        results: list[tuple[Bundle, SharingResult]],
    ) -> Block:
        transactions: list[Transaction] = [decode_transaction(t) for t in txs]
        transactions += [decode_transaction(bundle.request) for bundle, _ in results]
        head = self.ledger.head()
        stored = self.ledger.block(head.height) if head.height else None
        last_commit = stored.commit_qc if stored is not None else None
        evidence = BlockEvidence(content.election_qc, tuple(b.votes for b, _ in results))
        return self.ledger.build_block(
            round=content.round,
            # Wall-clock block time from this node, not consensus's clock: consensus runs on
            # trio's clock, which only measures intervals (see node.service).
            time_ms=max(self._clock_ms(), head.time_ms),
            proposer=content.proposer,
            transactions=transactions,
            results=[r for _, r in results],
            last_commit=last_commit,
            election_qc=evidence.to_bytes(),
        )

    def _result(self, bundle: Bundle, granted: bool) -> SharingResult:
        request = self.parse_request(bundle.request)
        combined, shares = b"", b""
        if granted:
            combined, shares = self._combine(bundle, request)
        votes = self._access_votes(bundle)
        return SharingResult(
            request_id=request.tx_id(),
            record_id=request.record_id,
            requester=request.requester,
            granted=granted,
            combined_ciphertext=combined,
            shares_and_proofs=shares,
            votes=votes,
        )

    def _combine(self, bundle: Bundle, request: AccessRequest) -> tuple[bytes, bytes]:
        """The combined ciphertext and the share list from an approved bundle's shares."""
        entry, _ = self._grant_keys(request)
        chosen = sorted(bundle.votes, key=lambda v: v.voter)[: entry.threshold]
        verified = []
        for vote in chosen:
            share = self._verified_share(bundle.request, vote.voter, vote.share)
            if share is None:
                raise InvalidBlock(f"share of node {vote.voter} does not verify")
            verified.append(share)
        ciphertext = self._ciphertext(request.record_id)
        combined = combine_shares(self.group, ciphertext, verified, entry.threshold)
        return combined.to_bytes(), ShareList(tuple(v.share for v in chosen)).to_bytes()

    @staticmethod
    def _access_votes(bundle: Bundle) -> tuple[AccessVote, ...]:
        """The bundle's votes as the ledger records them (consensus checked each signature)."""
        ordered = sorted(bundle.votes, key=lambda v: v.voter)
        return tuple(AccessVote(v.voter, v.approve, v.access_signature) for v in ordered)

    def open_block(self, height: int, block: bytes) -> OpenedBlock:
        try:
            decoded = Block.from_bytes(block)
            content = self._content(height, decoded)
            self.ledger.validate(decoded)
        except (DecodeError, LedgerError, CryptoError, RequestRefused) as exc:
            raise InvalidBlock(f"block {height} rejected: {exc}") from exc
        return OpenedBlock(content, decoded.hash())

    def _content(self, height: int, block: Block) -> BlockContent:
        header = block.header
        if header.height != height:
            raise InvalidBlock(f"block says height {header.height}, expected {height}")
        if header.time_ms > self._clock_ms() + MAX_CLOCK_SKEW_MS:
            raise InvalidBlock("block time is in the future")
        evidence = BlockEvidence.from_bytes(block.election_qc)
        results = block.results
        plain = len(block.transactions) - len(results)
        if plain < 0 or len(evidence.result_votes) != len(results):
            raise InvalidBlock("results, requests and evidence do not line up")
        approved: list[Bundle] = []
        denied: list[Bundle] = []
        for result, request, votes in zip(
            results, block.transactions[plain:], evidence.result_votes, strict=True
        ):
            if not isinstance(request, AccessRequest) or request.tx_id() != result.request_id:
                raise InvalidBlock("a sharing result does not follow its access request")
            bundle = Bundle(request.to_bytes(), votes)
            if result.granted:
                combined, shares = self._combine(bundle, request)
                if (combined, shares) != (result.combined_ciphertext, result.shares_and_proofs):
                    raise InvalidBlock("combined ciphertext does not match the shares")
                approved.append(bundle)
            else:
                denied.append(bundle)
        txs = []
        for tx in block.transactions[:plain]:
            if isinstance(tx, AccessRequest):
                raise InvalidBlock("an access request without a sharing result")
            txs.append(tx.to_bytes())
        return BlockContent(
            height,
            header.round,
            header.proposer,
            header.time_ms,
            evidence.election_qc,
            tuple(approved),
            tuple(denied),
            tuple(txs),
        )

    def commit(self, block: CommittedBlock) -> None:
        decoded = Block.from_bytes(block.block)
        signatures = sorted(
            (CommitSignature(i, s) for i, s in zip(block.signers, block.signatures, strict=True)),
            key=lambda s: s.node_index,
        )
        qc = CommitQC(block.height, block.round, block.block_hash, tuple(signatures))
        self.ledger.apply(decoded, qc)
        self._index_block(decoded)
        for tx in decoded.transactions:
            if isinstance(tx, Grant):
                self._warm_grant(tx)

    def _warm_grant(self, tx: Grant) -> None:
        """Derive a new grant's keys and its record's values now, at commit, so the first
        request under the grant does not pay for them (a few ms, more on a loaded node)."""
        try:
            entry = self.ledger.grant(tx.record_id, tx.grantee)
            if entry is None or entry.tx_id != tx_id_of(tx.to_bytes()):
                return
            self.keys.grant(entry, self.genesis.size)
            self.keys.c1_pairing(tx.record_id, self._ciphertext(tx.record_id))
        except (CryptoError, DecodeError, LedgerError) as exc:
            # A bad grant is refused when a request uses it; warming it is only an optimisation.
            logger.debug("grant not warmed record=%s reason=%s", tx.record_id.hex()[:16], exc)

    def _index_block(self, block: Block) -> None:
        ids = []
        results = len(block.results)
        plain = len(block.transactions) - results
        for position, tx in enumerate(block.transactions):
            kind = ItemKind.TX if position < plain else ItemKind.REQUEST
            ids.append(item_id(kind, tx.to_bytes()))
            if isinstance(tx, AccessRequest):
                self.admission.pending_nonces.pop((tx.requester, tx.nonce), None)
        self.local.mark_committed(block.height, ids)

    def _reindex(self) -> None:
        """Bring the committed-item index up to the ledger head (after a crash between the two
        writes, or a ledger restored from elsewhere)."""
        for height in range(self.local.indexed_height() + 1, self.ledger.height + 1):
            stored = self.ledger.block(height)
            if stored is not None:
                self._index_block(stored.block)

    def committed_height(self) -> int:
        return self.ledger.height

    def committed_block(self, height: int) -> CommittedBlock | None:
        stored = self.ledger.block(height)
        if stored is None:
            return None
        qc = stored.commit_qc
        return CommittedBlock(
            height,
            qc.round,
            qc.block_hash,
            stored.block.to_bytes(),
            tuple(s.node_index for s in qc.signatures),
            tuple(s.signature for s in qc.signatures),
        )

    def is_committed(self, item_id: bytes) -> bool:
        return self.local.is_committed(item_id)

    def save_safety_state(self, state: SafetyState) -> None:
        self.local.save_safety(state)

    def load_safety_state(self) -> SafetyState | None:
        return self.local.load_safety()
