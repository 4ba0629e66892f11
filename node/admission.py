"""Admission of client submissions: the checks that decide whether an item may enter a block.

Every check takes the transaction as the node decoded it once (:mod:`node.items`), named by
its transaction id. An access request is refused outright (no vote, never in a block) when it is
badly signed, from a non-member or a blacklisted member, about an unknown record, stale against this
node's clock, or reuses a nonce (committed, or held by another pending request). An admitted
request is then approved or denied by :meth:`Admission.decide` from committed state. An
owner-grant record needs an unexpired grant and an access count below the record's limit. A
policy record needs no grant: the requester's latest attributes must satisfy its policy, the
access count be below the limit and a keyword hash, if the request names one, be the record's.

An ordinary transaction is admitted when it applies on the committed state by itself (a dry run
of the ledger's state transition, content checks included), so a refused one is reported to the
client at once instead of stalling a round.

A refusal that rests on committed state (an unknown member, record or grant, a key not yet
published or since rotated) is marked ``state_dependent``: a node that is behind the chain
answers those with "retry" rather than as final (see :mod:`node.live_view`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from crypto.errors import DecodeError, VerificationError
from crypto.policy import AttributeHashTree, PolicyError, attribute_hashes, parse
from crypto.signing import VerifyKey
from ledger.block import Block, BlockHeader
from ledger.errors import InvalidTransaction, LedgerError
from ledger.genesis import Genesis
from ledger.keywords import NO_KEYWORDS
from ledger.ledger import Ledger
from ledger.records import ZERO_HASH, RecordEntry
from ledger.transactions import AccessRequest, Transaction
from ledger.transition import execute

#: Largest transaction accepted. A block of ``max_items`` (32) such transactions must still fit
#: one gossip message when it is proposed (see node.service), with room for the votes.
MAX_TX_BYTES = 128 * 1024
_NONCE_MEMORY = 100_000


class RequestRefused(Exception):
    """An access request that gets no vote at all; ``code`` names why (for the HTTP API)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


#: Refusals of an access request that a block this node has not seen yet could lift.
_STATE_CODES = frozenset({"not_registered", "unknown_record", "bad_signature"})

_STATUS_OF_CODE = {
    "malformed": 400,
    "bad_signature": 400,
    "invalid_transaction": 400,
    "not_registered": 403,
    "blacklisted": 403,
    "unknown_record": 404,
    "stale": 409,
    "replayed": 409,
    "duplicate": 409,
}


@dataclass(frozen=True, slots=True)
class Problem:
    """Why a submission cannot enter a block, with the HTTP status it maps to.

    ``state_dependent``: the refusal rests on committed state that later blocks can change.
    """

    code: str
    message: str
    state_dependent: bool = False

    @property
    def status(self) -> int:
        return _STATUS_OF_CODE.get(self.code, 400)


@dataclass(frozen=True, slots=True)
class Decision:
    """This node's decision on a request it admitted, and why when it denies."""

    approve: bool
    threshold: int
    reason: str = ""


class Admission:
    """Admission rules over ``ledger`` for node ``index``; ``clock_ms`` gives wall-clock ms."""

    def __init__(self, ledger: Ledger, index: int, clock_ms: Callable[[], int]) -> None:
        self.ledger = ledger
        self.genesis: Genesis = ledger.genesis
        self.index = index
        self._clock_ms = clock_ms
        self._trees: dict[str, AttributeHashTree] = {}
        #: (requester, nonce) -> transaction id of the pending request holding that nonce.
        self.pending_nonces: dict[tuple[bytes, bytes], bytes] = {}

    def hold_nonce(self, tx: AccessRequest, tx_id: bytes) -> None:
        """Mark ``tx``'s nonce as taken by the pending request ``tx_id``."""
        if len(self.pending_nonces) >= _NONCE_MEMORY:
            self.pending_nonces.clear()
        self.pending_nonces[(tx.requester, tx.nonce)] = tx_id

    def admit(self, tx: AccessRequest, tx_id: bytes) -> None:
        """The checks that make request ``tx_id`` worth voting on; raises
        :class:`RequestRefused`."""
        member = self.ledger.member(tx.requester)
        if member is None:
            raise RequestRefused("not_registered", "requester is not a registered member")
        try:
            tx.verify_signature(VerifyKey(member.verify_key), self.genesis.chain_id)
        except (VerificationError, DecodeError) as exc:
            raise RequestRefused("bad_signature", "request is not signed by the requester") from exc
        if self.ledger.is_blacklisted(tx.requester):
            raise RequestRefused(
                "blacklisted",
                "requester is blacklisted after repeated denials; the authority can lift it "
                "(iomtshare authority unblacklist)",
            )
        if self.ledger.record(tx.record_id) is None:
            raise RequestRefused("unknown_record", "record does not exist")
        if abs(self._clock_ms() - tx.timestamp_ms) > self.genesis.freshness_window_ms:
            raise RequestRefused("stale", "request timestamp is outside the freshness window")
        if self.ledger.nonce_used(tx.requester, tx.nonce):
            raise RequestRefused("replayed", "nonce already used (replay)")
        holder = self.pending_nonces.get((tx.requester, tx.nonce))
        if holder is not None and holder != tx_id:
            raise RequestRefused("replayed", "nonce already used by a pending request")
        if self.ledger.has_transaction(tx_id):
            raise RequestRefused("duplicate", "request already committed")

    def decide(self, tx: AccessRequest) -> Decision:
        """Approve or deny an admitted request from committed state and the clock."""
        record = self.ledger.record(tx.record_id)
        if record is not None and record.policy:
            return self._decide_by_policy(tx, record)
        grant = self.ledger.grant(tx.record_id, tx.requester)
        if grant is None:
            reason = "no active grant (never granted, or revoked)"
            return Decision(False, self.genesis.threshold, reason)
        if grant.expires_at_ms <= self._clock_ms():
            return Decision(False, grant.threshold, "grant has expired")
        record = self.ledger.record(tx.record_id)
        if record is None:  # admitted requests name existing records; records are never removed
            return Decision(False, grant.threshold, "record does not exist")
        if self.ledger.access_count(tx.requester, tx.record_id) >= record.access_limit:
            return Decision(False, grant.threshold, f"access limit {record.access_limit} reached")
        return Decision(True, grant.threshold)

    def _decide_by_policy(self, tx: AccessRequest, record: RecordEntry) -> Decision:
        """A policy record is shared by its policy alone (no grant): the requester's latest
        attributes satisfy it, the access limit is not reached and a keyword hash, when the
        request gives one, is the record's. The threshold is the record's domain epoch's."""
        domain = self.ledger.domain_keys(record.domain_epoch)
        threshold = domain.threshold if domain is not None else self.genesis.threshold
        if domain is None:
            return Decision(False, threshold, f"no domain key of epoch {record.domain_epoch}")
        if self.ledger.access_count(tx.requester, tx.record_id) >= record.access_limit:
            return Decision(False, threshold, f"access limit {record.access_limit} reached")
        if tx.keywords_hash not in (NO_KEYWORDS, record.keywords_hash):
            return Decision(False, threshold, "keyword hash does not match the record's")
        problem = self._policy_problem(tx, record.policy)
        if problem:
            return Decision(False, threshold, problem)
        return Decision(True, threshold)

    def _policy_problem(self, tx: AccessRequest, policy: str) -> str:
        """Why the presented attribute hashes do not satisfy ``policy`` ("" when they do).

        The hashes must be of the requester's latest attributes on chain (an attribute the
        authority has since removed no longer counts), and satisfy the record's attribute-hash
        tree (seed 000, Fig. 5).
        """
        tree = self._trees.get(policy)
        if tree is None:
            try:
                tree = AttributeHashTree.from_policy(parse(policy))
            except PolicyError as exc:
                return f"record policy does not parse: {exc}"
            if len(self._trees) > 1024:
                self._trees.clear()
            self._trees[policy] = tree
        member = self.ledger.member(tx.requester)
        latest = attribute_hashes(member.attributes) if member is not None else frozenset()
        if not set(tx.attribute_hashes) <= latest:
            return "presented attributes are not the requester's latest"
        if not tree.satisfied_by(tx.attribute_hashes):
            return "attributes do not satisfy the record's policy"
        return ""

    def request_problem(self, tx: AccessRequest, tx_id: bytes) -> Problem | None:
        """Why request ``tx_id`` would be refused outright, or None if it is worth voting on."""
        try:
            self.admit(tx, tx_id)
        except RequestRefused as exc:
            return Problem(exc.code, exc.message, exc.code in _STATE_CODES)
        return None

    def transaction_problem(self, tx: Transaction, tx_id: bytes) -> Problem | None:
        """Why ``tx`` cannot apply on the committed state by itself, or None if it can.

        Access requests are judged by :meth:`request_problem`. Transactions that depend on
        others not yet committed are refused too: submit them once those are committed.
        """
        if isinstance(tx, AccessRequest):
            return self.request_problem(tx, tx_id)
        if len(tx.to_bytes()) > MAX_TX_BYTES:
            return Problem("malformed", f"transaction exceeds {MAX_TX_BYTES} bytes")
        head = self.ledger.head()
        header = BlockHeader(
            chain_id=self.genesis.chain_id,
            height=head.height + 1,
            round=0,
            prev_hash=head.block_hash,
            tx_root=ZERO_HASH,
            results_root=ZERO_HASH,
            evidence_hash=ZERO_HASH,
            state_root=ZERO_HASH,
            time_ms=max(self._clock_ms(), head.time_ms),
            proposer=self.index,
        )
        trial = Block(header, (tx,), (), None, None)
        try:
            execute(self.genesis, self.ledger.store, head, trial, [tx_id])
        except InvalidTransaction as exc:
            code = "duplicate" if "duplicate" in exc.reason else "invalid_transaction"
            if "not signed" in exc.reason:
                code = "bad_signature"
            return Problem(code, exc.reason, exc.state_dependent)
        except LedgerError as exc:
            return Problem("invalid_transaction", str(exc))
        return None
