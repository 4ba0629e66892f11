"""Cheap deterministic stand-ins for the crypto and the ledger, used in most simulated runs.

A fake share is ``value || proof`` where ``value`` is a hash of the node's (public, fake) secret
and the request, and ``proof`` a hash over ``value``; anyone can check both, so the simulator can
send a wrong value ("bad share") or a right value with a wrong proof ("bad proof"). Signatures
are keyed hashes: unforgeable only by convention, which is all a simulation of honest and
Byzantine *nodes* (not of broken cryptography) needs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from consensus.app import Authorization, BuiltBlock, OpenedBlock
from consensus.encoding import ItemKind, get_index, get_round, put_round
from consensus.errors import InvalidBlock, InvalidMessage
from consensus.item import Item
from consensus.messages import BlockContent, CommittedBlock
from consensus.safety import SafetyState
from consensus.votes import DecidedRequest, get_bundles, put_bundles
from crypto import tags
from crypto.codec import Reader, Writer, parse
from crypto.errors import DecodeError
from crypto.hashing import DIGEST_SIZE, digest

TAG_FAKE_REQUEST = tags.SIMULATION_FAKE_REQUEST
TAG_FAKE_BLOCK = tags.SIMULATION_FAKE_BLOCK
FAKE_BLOCK_VERSION = 3
GENESIS_HASH = bytes(DIGEST_SIZE)


class FakeSigner:
    """Keyed-hash "signatures" (64 bytes) for validator ``index``."""

    def __init__(self, index: int) -> None:
        self.index = index

    def sign(self, message: bytes) -> bytes:
        return fake_signature(self.index, message)


class FakeVerifier:
    def verify(self, signer: int, message: bytes, signature: bytes) -> bool:
        return signature == fake_signature(signer, message)


def fake_signature(index: int, message: bytes) -> bytes:
    head = digest(b"iomtshare/sim/fake-signature", index.to_bytes(2, "big"), message)
    return head + bytes(32)


@dataclass(frozen=True, slots=True)
class FakeRequest:
    """A simulated access request; ``allowed`` is the ground truth every honest node sees."""

    nonce: int
    allowed: bool
    threshold: int

    def to_bytes(self) -> bytes:
        w = Writer(TAG_FAKE_REQUEST, 1).u64(self.nonce).boolean(self.allowed)
        return w.u16(self.threshold).to_bytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> FakeRequest:
        def body(r: Reader) -> FakeRequest:
            r.expect_header(TAG_FAKE_REQUEST, 1)
            return cls(r.u64(), r.boolean(), r.u16())

        return parse(data, "FakeRequest", body)


def sim_item_id(body: bytes) -> bytes:
    """The id a simulated application gives an item (a hash of its bytes)."""
    return digest(b"iomtshare/sim/item-id", body)


def sim_item(kind: ItemKind, body: bytes) -> Item:
    """Decode a simulated item: a request is a :class:`FakeRequest`, a transaction any bytes
    (:meth:`SimApp.check_transaction` judges them). Raises ``InvalidMessage``."""
    if kind is ItemKind.TX:
        return Item(kind, sim_item_id(body), body)
    try:
        request = FakeRequest.from_bytes(body)
    except DecodeError as exc:
        raise InvalidMessage(f"malformed request: {exc}") from exc
    return Item(kind, sim_item_id(body), body, request)


def fake_request(item: Item) -> FakeRequest:
    """The simulated request an item of kind REQUEST was decoded into."""
    if not isinstance(item.value, FakeRequest):
        raise InvalidMessage("not a simulated access request")
    return item.value


def fake_share(index: int, request: bytes) -> bytes:
    value = digest(b"iomtshare/sim/fake-share", index.to_bytes(2, "big"), request)
    return value + fake_proof(index, request, value)


def fake_proof(index: int, request: bytes, value: bytes) -> bytes:
    return digest(b"iomtshare/sim/fake-proof", index.to_bytes(2, "big"), request, value)


def fake_combined(request: bytes) -> bytes:
    """What any t correct shares of ``request`` combine to."""
    return digest(b"iomtshare/sim/fake-combined", request)


def fake_share_ok(index: int, request: bytes, share: bytes) -> bool:
    if len(share) != 2 * DIGEST_SIZE:
        return False
    return share == fake_share(index, request)


@dataclass(slots=True)
class FakeLedger:
    """The part of a node that survives a crash: its committed blocks."""

    blocks: list[CommittedBlock] = field(default_factory=list)
    contents: list[BlockContent] = field(default_factory=list)
    items: set[bytes] = field(default_factory=set)
    safety: bytes = b""

    def tip_hash(self) -> bytes:
        return self.blocks[-1].block_hash if self.blocks else GENESIS_HASH


Results = list[tuple[bytes, bytes]]


def encode_block(height: int, prev: bytes, content: BlockContent, results: Results) -> bytes:
    """Simulated block: header, content and one combined ciphertext per approved request."""
    w = Writer(TAG_FAKE_BLOCK, FAKE_BLOCK_VERSION).u64(height).fixed(prev, DIGEST_SIZE)
    put_round(w, content.round)
    w.u16(content.proposer).u64(content.timestamp)
    put_bundles(w, tuple(d.bundle() for d in content.approved))
    put_bundles(w, tuple(d.bundle() for d in content.denied))
    w.seq(content.txs, lambda ww, tx: ww.blob(tx.body))
    w.seq(results, lambda ww, pair: ww.fixed(pair[0], DIGEST_SIZE).blob(pair[1]))
    return w.to_bytes()


def decode_block(data: bytes) -> tuple[int, bytes, BlockContent, Results]:
    """Inverse of :func:`encode_block`; raises DecodeError (also for a malformed item)."""

    def body(r: Reader) -> tuple[int, bytes, BlockContent, Results]:
        r.expect_header(TAG_FAKE_BLOCK, FAKE_BLOCK_VERSION)
        height = r.u64()
        prev = r.fixed(DIGEST_SIZE)
        round_ = get_round(r)
        proposer = get_index(r, "proposer")
        timestamp = r.u64()
        approved = get_bundles(r)
        denied = get_bundles(r)
        txs = r.seq(lambda rr: rr.blob(), max_items=4096)
        results = r.seq(lambda rr: (rr.fixed(DIGEST_SIZE), rr.blob()))
        try:
            yes, no = (
                tuple(DecidedRequest(sim_item(ItemKind.REQUEST, b.request), b.votes) for b in bs)
                for bs in (approved, denied)
            )
            items = tuple(sim_item(ItemKind.TX, tx) for tx in txs)
        except InvalidMessage as exc:
            raise DecodeError(str(exc)) from exc
        content = BlockContent(height, round_, proposer, timestamp, yes, no, items)
        return height, prev, content, results

    return parse(data, "SimBlock", body)


class ShareScheme(Protocol):
    """The threshold re-encryption operations a simulated node needs (fake or real)."""

    def share(self, index: int, request: bytes) -> bytes:
        """Node ``index``'s share for the request with body ``request`` regardless of policy."""
        ...

    def verify(self, index: int, request: bytes, share: bytes) -> bool: ...

    def combine(self, decided: DecidedRequest) -> bytes:
        """The combined ciphertext from an approved request's shares."""
        ...

    def result_ok(self, request: bytes, result: bytes) -> bool:
        """Whether the requester can open ``result`` (checked by the invariants)."""
        ...


class FakeShares:
    """Hash-based shares: cheap, checkable, and combining to a value fixed per request."""

    def share(self, index: int, request: bytes) -> bytes:
        return fake_share(index, request)

    def verify(self, index: int, request: bytes, share: bytes) -> bool:
        return fake_share_ok(index, request, share)

    def combine(self, decided: DecidedRequest) -> bytes:
        return fake_combined(decided.request.body)

    def result_ok(self, request: bytes, result: bytes) -> bool:
        return result == fake_combined(request)


def block_hash(block: bytes) -> bytes:
    return digest(b"iomtshare/sim/fake-block", block)


class SimApp:
    """The application interface over a :class:`FakeLedger` and a share scheme."""

    def __init__(self, index: int, ledger: FakeLedger, shares: ShareScheme) -> None:
        self.index = index
        self.ledger = ledger
        self.shares = shares

    def decode_item(self, kind: ItemKind, body: bytes) -> Item:
        return sim_item(kind, body)

    def authorize(self, request: Item) -> Authorization:
        parsed = fake_request(request)
        if not parsed.allowed:
            return Authorization(False, parsed.threshold)
        return Authorization(True, parsed.threshold, self.shares.share(self.index, request.body))

    def request_threshold(self, request: Item) -> int:
        return fake_request(request).threshold

    def verify_share(self, request: Item, signer: int, share: bytes) -> bool:
        return self.shares.verify(signer, request.body, share)

    def check_transaction(self, tx: Item) -> bool:
        return tx.body.startswith(b"tx:")

    def build_block(self, content: BlockContent) -> BuiltBlock:
        results = [(d.request_id, self.shares.combine(d)) for d in content.approved]
        block = encode_block(content.height, self.ledger.tip_hash(), content, results)
        return BuiltBlock(block, block_hash(block), content)

    def open_block(self, height: int, block: bytes) -> OpenedBlock:
        try:
            got_height, prev, content, results = decode_block(block)
        except DecodeError as exc:
            raise InvalidBlock(f"undecodable block: {exc}") from exc
        if got_height != height or prev != self.ledger.tip_hash():
            raise InvalidBlock("block does not extend this ledger")
        if [r[0] for r in results] != [d.request_id for d in content.approved]:
            raise InvalidBlock("results do not match the approved requests")
        # Votes and shares were checked by consensus; the combination is checked here.
        expected = [(d.request_id, self.shares.combine(d)) for d in content.approved]
        if results != expected:
            raise InvalidBlock("combined results do not match the approved requests")
        return OpenedBlock(content, block_hash(block))

    def commit(self, block: CommittedBlock) -> None:
        if block.height != len(self.ledger.blocks) + 1:
            raise InvalidBlock(f"commit of height {block.height} out of order")
        _, _, content, _ = decode_block(block.block)
        self.ledger.blocks.append(block)
        self.ledger.contents.append(content)
        self.ledger.items.update(content.item_ids())

    def committed_height(self) -> int:
        return len(self.ledger.blocks)

    def committed_block(self, height: int) -> CommittedBlock | None:
        if 1 <= height <= len(self.ledger.blocks):
            return self.ledger.blocks[height - 1]
        return None

    def is_committed(self, ident: bytes) -> bool:
        return ident in self.ledger.items

    def save_safety_state(self, state: SafetyState) -> None:
        self.ledger.safety = state.to_bytes()

    def load_safety_state(self) -> SafetyState | None:
        return SafetyState.from_bytes(self.ledger.safety) if self.ledger.safety else None


def fake_access_payload(chain_id: str, request_id: bytes, approve: bool, share: bytes) -> bytes:
    """Stand-in for the ledger's access-vote payload (same shape as ``AccessPayload``)."""
    return digest(
        b"iomtshare/sim/access-vote",
        chain_id.encode("utf-8"),
        request_id,
        b"\x01" if approve else b"\x00",
        share,
    )


def fake_commit_payload(chain_id: str, height: int, round_: int, block_hash_: bytes) -> bytes:
    """Stand-in for the ledger's ``commit_vote_payload`` (same signature)."""
    return digest(
        b"iomtshare/sim/commit-vote",
        chain_id.encode("utf-8"),
        height.to_bytes(8, "big"),
        round_.to_bytes(4, "big"),
        block_hash_,
    )
