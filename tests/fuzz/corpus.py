"""Valid encodings for the fuzzer to start from: real ones and generated ones.

Real encodings come from a small chain built by :class:`ledger.testing.ChainFixture` (members,
published TPRE keys, a record, real TPRE grants to two members, an attribute change, a revocation
and a decided access request, in three committed blocks), from the consensus messages a node
sends about those blocks, and from the stored test vectors. Generated ones come from the
Hypothesis strategies of the ledger and consensus tests, which build every type from its
fields. Mutating real encodings reaches the checks behind the first field (signatures, group
elements, nested blocks); generated ones cover every shape the format allows.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from consensus.encoding import NO_ROUND, ItemKind
from consensus.messages import (
    AuthVote,
    CommittedBlock,
    LeaderClaim,
    Message,
    PrepareVote,
    Submission,
    SyncReply,
    SyncRequest,
)
from crypto.storage import encode
from ledger.access_token import AccessToken
from ledger.block import Block
from ledger.kv import MemoryStore
from ledger.ledger import Ledger
from ledger.testing import ChainFixture, derived
from ledger.transactions import MemberRole, Transaction
from node.p2p.envelope import RequestEnvelope, ResponseEnvelope, Status
from node.wire import FragmentGet, FragmentPut, FrameBatch

VECTORS = Path(__file__).resolve().parents[1] / "vectors"
POLICY = "role:doctor and (dept:cardiology or 2 of (trial:x, trial:y, site:z))"


def vector_file(name: str) -> object:
    loaded: object = json.loads((VECTORS / name).read_text())
    return loaded


def hex_strings(value: object) -> list[bytes]:
    """Every hex string anywhere in a loaded vector file, decoded (other strings skipped)."""
    if isinstance(value, dict):
        return [b for v in value.values() for b in hex_strings(v)]
    if isinstance(value, list):
        return [b for v in value for b in hex_strings(v)]
    if isinstance(value, str) and value and len(value) % 2 == 0:
        try:
            return [bytes.fromhex(value)]
        except ValueError:
            return []
    return []


@dataclass(frozen=True)
class Chain:
    """The fixture chain's blocks and everything in them."""

    fixture: ChainFixture
    blocks: tuple[Block, ...]
    committed: tuple[CommittedBlock, ...]
    transactions: tuple[Transaction, ...]


@cache
def chain() -> Chain:
    fx = ChainFixture(nodes=4)
    ledger = Ledger.from_store(MemoryStore(), fx.genesis)
    blocks = [
        fx.commit(
            ledger,
            [
                fx.register("alice", attributes=("role:patient",)),
                fx.register(
                    "bob",
                    role=MemberRole.REQUESTER,
                    attributes=("role:doctor", "dept:cardiology"),
                ),
                fx.register("carol", role=MemberRole.REQUESTER),
                *(fx.publish_key(name) for name in ("alice", "bob", "carol")),
            ],
        ),
        fx.commit(
            ledger,
            [
                # Shared by grant: a policy record needs a genesis with a domain key.
                fx.put_record("alice", "r1", keywords="ecg"),
                fx.grant("alice", "r1", "bob"),
                fx.grant("alice", "r1", "carol"),
            ],
        ),
    ]
    request = fx.request("bob", "r1", at_ms=fx.time_at(3))
    blocks.append(
        fx.commit(
            ledger,
            [
                fx.change_attributes("bob", ("role:doctor",)),
                # Carol's grant: bob's must stand for his granted request in this block.
                fx.revoke("alice", "r1", "carol"),
                request,
            ],
            [fx.result(request, granted=True)],
        )
    )
    committed = []
    for block in blocks:
        qc = ledger.commit_qc(block.height)
        assert qc is not None
        committed.append(
            CommittedBlock(
                block.height,
                qc.round,
                block.hash(),
                block.to_bytes(),
                tuple(s.node_index for s in qc.signatures),
                tuple(s.signature for s in qc.signatures),
            )
        )
    transactions = tuple(tx for block in blocks for tx in block.transactions)
    return Chain(fx, tuple(blocks), tuple(committed), transactions)


@cache
def transactions() -> tuple[bytes, ...]:
    return tuple(tx.to_bytes() for tx in chain().transactions)


@cache
def blocks() -> tuple[bytes, ...]:
    return tuple(block.to_bytes() for block in chain().blocks)


@cache
def block_parts() -> dict[str, tuple[bytes, ...]]:
    """Encodings of the ledger types a block holds, by type name."""
    found: dict[str, list[bytes]] = {}
    for block in chain().blocks:
        parts: list[object] = [block.header, *block.results]
        parts += [qc for qc in (block.last_commit, block.election_qc) if qc is not None]
        for part in parts:
            found.setdefault(type(part).__name__, []).append(part.to_bytes())  # type: ignore[attr-defined]
    return {name: tuple(encodings) for name, encodings in found.items()}


@cache
def tpre_objects() -> dict[str, bytes]:
    loaded = vector_file("tpre_objects.json")
    assert isinstance(loaded, dict)
    return {name: bytes.fromhex(value) for name, value in loaded.items()}


@cache
def consensus_messages() -> tuple[bytes, ...]:
    """The stored consensus vectors and messages about the fixture chain's blocks."""
    loaded = vector_file("consensus_messages.json")
    assert isinstance(loaded, dict)
    stored = [bytes.fromhex(entry["hex"]) for name, entry in sorted(loaded.items())]
    from consensus.messages import decode_message
    from crypto.errors import DecodeError

    out = []
    for raw in stored:
        try:
            decode_message(raw)
        except DecodeError:
            continue  # evidence and safety state are not wire messages
        out.append(raw)
    fx_chain = chain()
    keys = fx_chain.fixture.node_keys
    block = fx_chain.blocks[-1]
    request = next(tx for tx in block.transactions if tx.TAG == fx_chain.transactions[-1].TAG)
    share = tpre_objects()["reencryption_share"]
    vote = AuthVote(request.tx_id(), 1, True, share, keys[0].sign(b"fuzz"))
    deny = AuthVote(request.tx_id(), 2, False, b"", keys[1].sign(b"fuzz"))
    prepare = PrepareVote(block.height, 0, 3, block.hash(), bytes(64))
    claim = LeaderClaim(
        block.height, 0, 1, NO_ROUND, block.hash(), block.to_bytes(), (), bytes(64)
    )
    reclaim = LeaderClaim(
        block.height, 1, 1, 0, block.hash(), block.to_bytes(), (prepare,), bytes(64)
    )
    messages: list[Message] = [
        Submission(ItemKind.TX, fx_chain.transactions[0].to_bytes()),
        Submission(ItemKind.REQUEST, request.to_bytes()),
        vote,
        deny,
        claim,
        prepare,
        reclaim,
        SyncRequest(2, 3),
        SyncReply(fx_chain.committed),
    ]
    return (*out, *(m.to_bytes() for m in messages))


@cache
def fragments() -> tuple[bytes, bytes]:
    """A real erasure-coded fragment and its storage commitment."""
    coded = encode(b"bulk ciphertext " * 8, 2, 4)
    return coded.fragments[0].to_bytes(), coded.commitment.to_bytes()


@cache
def node_wire() -> dict[str, tuple[bytes, ...]]:
    loaded = vector_file("node_wire.json")
    assert isinstance(loaded, dict)
    fx_chain = chain()
    record_id = fx_chain.fixture.record_id("r1")
    requester = fx_chain.fixture.member_id("bob")
    token = AccessToken(
        record_id, requester, derived(b"fuzz", "decision"), 1_700_000_600_000, None,
        1_700_000_000_000, derived(b"fuzz", "nonce")[:16],
    )
    get = FragmentGet(token.signed(fx_chain.fixture.key_of("bob"), fx_chain.fixture.chain_id))
    put = FragmentPut(record_id, fragments()[0])
    batch = FrameBatch(consensus_messages()[-6:])
    return {
        "FrameBatch": (bytes.fromhex(loaded["FrameBatch"]), batch.to_bytes()),
        "FragmentPut": (bytes.fromhex(loaded["FragmentPut"]), put.to_bytes()),
        "FragmentGet": (bytes.fromhex(loaded["FragmentGet"]), get.to_bytes()),
        "RequestEnvelope": (
            RequestEnvelope(get.to_bytes()).to_bytes(),
            RequestEnvelope(put.to_bytes()).to_bytes(),
            *hex_strings({k: v for k, v in _envelopes().items() if k.startswith("request")}),
        ),
        "ResponseEnvelope": (
            ResponseEnvelope.ok(fragments()[0]).to_bytes(),
            ResponseEnvelope.error(Status.REJECTED, "not granted").to_bytes(),
            *hex_strings({k: v for k, v in _envelopes().items() if k.startswith("response")}),
        ),
    }


def _envelopes() -> dict[str, str]:
    loaded = vector_file("node_p2p_envelopes.json")
    assert isinstance(loaded, dict)
    return loaded


def _policy_vectors() -> list[dict[str, str]]:
    loaded = vector_file("policy_vectors.json")
    assert isinstance(loaded, list)
    return loaded


@cache
def policy_texts() -> tuple[bytes, ...]:
    return (*(entry["text"].encode() for entry in _policy_vectors()), POLICY.encode())


@cache
def policy_encodings() -> tuple[bytes, ...]:
    return tuple(bytes.fromhex(entry["policy_hex"]) for entry in _policy_vectors())


@cache
def hash_trees() -> tuple[bytes, ...]:
    return tuple(bytes.fromhex(entry["hash_tree_hex"]) for entry in _policy_vectors())


@cache
def storage() -> dict[str, tuple[bytes, ...]]:
    loaded = vector_file("storage_erasure_vectors.json")
    assert isinstance(loaded, list)
    fragment, commitment = fragments()
    return {
        "fragment": (fragment, *(bytes.fromhex(f) for e in loaded for f in e["fragments_hex"])),
        "commitment": (commitment, *(bytes.fromhex(e["commitment_hex"]) for e in loaded)),
    }


@cache
def record_metadata() -> tuple[bytes, ...]:
    loaded = vector_file("client_vectors.json")
    assert isinstance(loaded, dict)
    return (bytes.fromhex(loaded["vectors"]["record_metadata"]),)
