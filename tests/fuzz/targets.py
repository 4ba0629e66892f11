"""Every decoder a node runs on bytes from a peer or a client, as a fuzz target.

A target is a decoder, the way back to bytes, and the valid encodings its inputs start from.
The rule every decoder must keep: for any input it returns a value whose canonical encoding is
exactly the input, or it raises its package's typed error (``DecodeError``; ``PolicyError`` for
policy text). Anything else (``IndexError``, ``ValueError``, ``OverflowError``,
``MemoryError``, ``RecursionError``...) is a crash.

Two targets follow a node's own path through nested formats, so that a frame whose outside is
well formed carries mutated contents inward: ``consensus link`` (a frame batch from a peer's
link: every frame, then the transactions, shares and blocks inside the messages, through the
node's own :class:`~node.items.ItemDecoder`) and ``block (node path)`` (a proposed or synced
block, opened as :mod:`node.blocks` opens it).
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, TypeVar

from hypothesis import strategies as st

from consensus.messages import (
    AuthVote,
    LeaderClaim,
    Message,
    Submission,
    SyncReply,
    decode_message,
)
from crypto.errors import DecodeError
from crypto.groups import Group, load_group
from crypto.policy import AttributeHashTree, Policy, PolicyError, parse
from crypto.storage import Fragment, StorageCommitment
from crypto.tpre import (
    Grant,
    OwnerCiphertext,
    ReEncryptedCiphertext,
    ReEncryptionShare,
    ReKeyShare,
    UserPublicKey,
)
from ledger.block import Block, BlockHeader, BlockParts, ElectionQC, SharingResult
from ledger.encoding import Encoded
from ledger.qc import CommitQC
from ledger.record_metadata import RecordMetadata
from ledger.transactions import TRANSACTION_TYPES, decode_transaction
from node.items import ItemDecoder, transaction_of
from node.p2p.envelope import RequestEnvelope, ResponseEnvelope
from node.p2p.errors import FrameTooLarge, StreamBroken
from node.p2p.framing import PREFIX, FrameBuffer
from node.wire import FragmentGet, FragmentPut, FrameBatch
from tests.consensus import strategies as consensus_st
from tests.fuzz import corpus
from tests.fuzz.budget import DECODER_SHARE, share
from tests.fuzz.mutations import mutated
from tests.ledger.strategies import for_type

T = TypeVar("T")


@dataclass(frozen=True)
class Decoder:
    """One fuzz target: ``decode`` bytes, ``encode`` the value back, start from ``seeds``."""

    name: str
    decode: Callable[[bytes], Any]
    encode: Callable[[Any], bytes]
    seeds: Callable[[], st.SearchStrategy[bytes]]
    weight: float
    #: The typed errors that count as a clean refusal.
    errors: tuple[type[Exception], ...] = (DecodeError,)
    #: Type tag and version, so random bodies behind a right header are tried too.
    header: bytes | None = None
    #: Whether an accepted input must be exactly the encoding of its value (policy text is
    #: not: whitespace and letter case are free, so only its canonical forms are checked).
    exact: bool = True


@cache
def group() -> Group:
    return load_group()


def canonical(value: Any) -> bytes:
    """A value's encoding computed from its fields (never a cached copy of the input)."""
    if isinstance(value, Encoded):
        return Encoded.to_bytes(value)
    encoded: bytes = value.to_bytes()
    return encoded


def seeds_from(
    real: Sequence[bytes], generated: st.SearchStrategy[Any] | None = None
) -> st.SearchStrategy[bytes]:
    """Real encodings, and values of ``generated`` encoded."""
    choices: list[st.SearchStrategy[bytes]] = [st.sampled_from(list(real))]
    if generated is not None:
        choices.append(generated.map(canonical))
    return st.one_of(choices)


def refused(decode: Callable[..., object], *args: Any) -> bool:
    """Run one nested decode; True if it raised ``DecodeError`` (as the node drops it)."""
    try:
        decode(*args)
    except DecodeError:
        return True
    return False


# -- the node's paths through nested formats ----------------------------------------------------


def open_block(raw: bytes, items: ItemDecoder | None = None) -> Block:
    """A block as :class:`node.blocks.BlockAssembly` opens it: split, decode each
    transaction through the item decoder, rebuild; the re-encoding must be ``raw``."""
    items = items or ItemDecoder()
    parts = BlockParts.from_bytes(raw)
    decoded = [transaction_of(items.decode(body)) for body in parts.transactions]
    block = Block.from_parts(parts, decoded, raw)
    if canonical(block) != raw:
        raise AssertionError("a block decoded from bytes that are not its encoding")
    return block


def open_message(message: Message, items: ItemDecoder) -> None:
    """Decode what a consensus message carries, as the node does when it handles it."""
    if isinstance(message, Submission):
        refused(items.decode, message.body, message.kind)
    elif isinstance(message, AuthVote):
        open_vote(message)
    elif isinstance(message, LeaderClaim):
        refused(open_block, message.block, items)
    elif isinstance(message, SyncReply):
        for committed in message.blocks:
            refused(open_block, committed.block, items)


def open_vote(vote: AuthVote) -> None:
    if vote.share:
        refused(ReEncryptionShare.from_bytes, group(), vote.share)


def open_link_batch(data: bytes) -> FrameBatch:
    """A frame batch from a peer's link, every message in it and what those carry."""
    batch = FrameBatch.from_bytes(data)
    items = ItemDecoder()
    for frame in batch.frames:
        try:
            message = decode_message(frame)
        except DecodeError:
            continue  # logged and dropped by the node
        if message.to_bytes() != frame:
            raise AssertionError(f"{type(message).__name__} decoded from a non-canonical frame")
        open_message(message, items)
    return batch


#: Frame limit for the stream target: small, so that edge length prefixes cross it.
FRAME_LIMIT = 64 * 1024


class ChunkedStream:
    """A peer's stream holding ``data``, handed out in reads of random sizes."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0
        self._rng = random.Random(zlib.crc32(data))

    async def read(self, n: int | None = None) -> bytes:
        left = len(self._data) - self._pos
        size = self._rng.randint(1, max(1, min(n or left, left)))
        chunk = self._data[self._pos : self._pos + size]
        self._pos += len(chunk)
        return chunk

    async def write(self, data: bytes) -> None:
        raise AssertionError("the reader never writes")


def _at_once(step: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that never waits (its stream answers at once) without an event loop."""
    try:
        step.send(None)
    except StopIteration as done:
        result: T = done.value
        return result
    step.close()
    raise AssertionError("the frame reader waited on an in-memory stream")


def read_frames(data: bytes) -> list[bytes]:
    """Every frame of a stream, as a link or request stream reads them (:mod:`node.p2p.framing`)."""
    reader = FrameBuffer(ChunkedStream(data), FRAME_LIMIT)
    frames = []
    while (frame := _at_once(reader.next())) is not None:
        frames.append(frame)
    return frames


def frames_again(frames: list[bytes]) -> bytes:
    return b"".join(PREFIX.pack(len(frame)) + frame for frame in frames)


def _framed() -> st.SearchStrategy[bytes]:
    return st.lists(_messages(), max_size=4).map(frames_again)


def parse_policy_text(data: bytes) -> Policy:
    """A record's policy text as admission reads it (parsed, then hashed into a tree)."""
    policy = parse(data.decode("utf-8", errors="replace"))
    AttributeHashTree.from_policy(policy)
    return policy


def policy_text_again(policy: Policy) -> bytes:
    """The canonical text, checked to parse back into the same policy."""
    text = policy.canonical_text()
    if parse(text) != policy or Policy.from_bytes(policy.to_bytes()) != policy:
        raise AssertionError(f"policy {text!r} does not survive its own canonical forms")
    return text.encode()


def _header(tag: int, version: int) -> bytes:
    return bytes([tag, version])


# -- the targets --------------------------------------------------------------------------------


def _ledger_target(cls: type[Encoded], weight: float) -> Decoder:
    return Decoder(
        f"ledger {cls.__name__}",
        cls.from_bytes,
        canonical,
        lambda: seeds_from(corpus.block_parts()[cls.__name__], for_type(cls)),
        weight,
        header=_header(cls.TAG, cls.VERSION),
    )


def _tpre_target(name: str, cls: Any, vector: str, weight: float) -> Decoder:
    return Decoder(
        f"tpre {name}",
        lambda data: cls.from_bytes(group(), data),
        canonical,
        lambda: seeds_from([corpus.tpre_objects()[vector]]),
        weight,
    )


def _transactions() -> st.SearchStrategy[bytes]:
    generated = st.sampled_from(sorted(TRANSACTION_TYPES.values(), key=lambda c: c.TAG))
    return seeds_from(corpus.transactions(), generated.flatmap(for_type))


def _wire(name: str) -> Callable[[], st.SearchStrategy[bytes]]:
    return lambda: seeds_from(corpus.node_wire()[name])


def _messages() -> st.SearchStrategy[bytes]:
    wire = st.one_of([strategy for _, strategy in consensus_st.WIRE])
    return seeds_from(corpus.consensus_messages(), wire)


def _link_batches() -> st.SearchStrategy[bytes]:
    """Batches of valid frames, some frames mutated inside a well-formed batch."""
    frame = st.one_of(_messages(), mutated(_messages()))
    return st.one_of(
        seeds_from(corpus.node_wire()["FrameBatch"]),
        st.lists(frame, max_size=6).map(lambda frames: FrameBatch(tuple(frames)).to_bytes()),
    )


def _blocks() -> st.SearchStrategy[bytes]:
    return seeds_from(corpus.blocks(), for_type(Block))


DECODERS: tuple[Decoder, ...] = (
    Decoder("consensus message", decode_message, canonical, _messages, 8),
    Decoder("consensus link (frame batch, deep)", open_link_batch, canonical, _link_batches, 6),
    Decoder(
        "p2p stream frames",
        read_frames,
        frames_again,
        _framed,
        2,
        errors=(FrameTooLarge, StreamBroken),
    ),
    Decoder("node FrameBatch", FrameBatch.from_bytes, canonical, _wire("FrameBatch"), 2),
    Decoder("node FragmentPut", FragmentPut.from_bytes, canonical, _wire("FragmentPut"), 2),
    Decoder("node FragmentGet", FragmentGet.from_bytes, canonical, _wire("FragmentGet"), 2),
    Decoder(
        "p2p RequestEnvelope", RequestEnvelope.from_bytes, canonical, _wire("RequestEnvelope"), 2
    ),
    Decoder(
        "p2p ResponseEnvelope",
        ResponseEnvelope.from_bytes,
        canonical,
        _wire("ResponseEnvelope"),
        2,
    ),
    Decoder("ledger transaction", decode_transaction, canonical, _transactions, 8),
    Decoder("block (node path)", open_block, canonical, _blocks, 6),
    Decoder("ledger Block", Block.from_bytes, canonical, _blocks, 3),
    _ledger_target(BlockHeader, 2),
    _ledger_target(CommitQC, 2),
    _ledger_target(ElectionQC, 2),
    _ledger_target(SharingResult, 2),
    _tpre_target("Grant", Grant, "grant", 2),
    _tpre_target("ReKeyShare", ReKeyShare, "rekey_share", 1.5),
    _tpre_target("ReEncryptionShare", ReEncryptionShare, "reencryption_share", 1.5),
    _tpre_target("UserPublicKey", UserPublicKey, "public_key", 1.5),
    _tpre_target("OwnerCiphertext", OwnerCiphertext, "owner_ciphertext", 1.5),
    _tpre_target(
        "ReEncryptedCiphertext", ReEncryptedCiphertext, "reencrypted_ciphertext", 1.5
    ),
    Decoder(
        "storage Fragment",
        Fragment.from_bytes,
        canonical,
        lambda: seeds_from(corpus.storage()["fragment"]),
        2,
    ),
    Decoder(
        "storage StorageCommitment",
        StorageCommitment.from_bytes,
        canonical,
        lambda: seeds_from(corpus.storage()["commitment"]),
        2,
    ),
    Decoder(
        "policy (encoded)",
        Policy.from_bytes,
        canonical,
        lambda: seeds_from(corpus.policy_encodings()),
        2,
    ),
    Decoder(
        "policy attribute-hash tree",
        AttributeHashTree.from_bytes,
        canonical,
        lambda: seeds_from(corpus.hash_trees()),
        2,
    ),
    Decoder(
        "policy text (admission)",
        parse_policy_text,
        policy_text_again,
        lambda: st.one_of(
            st.sampled_from(corpus.policy_texts()),
            st.text(max_size=80).map(str.encode),
        ),
        3,
        errors=(PolicyError,),
        exact=False,
    ),
    Decoder(
        "client RecordMetadata",
        RecordMetadata.from_bytes,
        canonical,
        lambda: seeds_from(corpus.record_metadata()),
        1.5,
    ),
)


def inputs_for(target: Decoder) -> int:
    """The target's share of the fuzz budget."""
    total = sum(d.weight for d in DECODERS)
    return share(DECODER_SHARE * target.weight / total)
