"""Hypothesis strategies for every encoded ledger type, derived from their FIELDS."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from ledger import encoding
from ledger.authority_state import AttributeKeyEntry, DomainEpoch
from ledger.block import Block, BlockHeader, ElectionQC, ElectionSignature, SharingResult
from ledger.encoding import Encoded, Kind
from ledger.fragments import StoredFragment
from ledger.genesis import (
    DOMAIN_PUBLIC_KEY_SIZE,
    FAME_PUBLIC_KEY_SIZE,
    G2_POINT_SIZE,
    DomainKeys,
    Genesis,
    NodeInfo,
)
from ledger.qc import AccessVote, CommitQC, CommitSignature
from ledger.records import (
    AttributeRecord,
    AuditRecord,
    BlacklistEntry,
    Counter,
    GrantEntry,
    Head,
    Location,
    Member,
    RecordEntry,
    Revocation,
)
from ledger.transactions import TRANSACTION_TYPES

text = st.text(max_size=12)
SIMPLE: dict[str, st.SearchStrategy[Any]] = {
    "u8": st.integers(0, 2**8 - 1),
    "u16": st.integers(0, 2**16 - 1),
    "u32": st.integers(0, 2**32 - 1),
    "u64": st.integers(0, 2**64 - 1),
    "bool": st.booleans(),
    "bytes[16]": st.binary(min_size=16, max_size=16),
    "bytes[32]": st.binary(min_size=32, max_size=32),
    "bytes[64]": st.binary(min_size=64, max_size=64),
    **{
        f"bytes[{size}]": st.binary(min_size=size, max_size=size)
        for size in (G2_POINT_SIZE, DOMAIN_PUBLIC_KEY_SIZE, FAME_PUBLIC_KEY_SIZE)
    },
    "blob": st.binary(max_size=40),
    "text": text,
    "texts": st.lists(text, max_size=3).map(tuple),
    "hashes": st.lists(st.binary(min_size=32, max_size=32), max_size=3).map(tuple),
}


def for_kind(kind: Kind[Any]) -> st.SearchStrategy[Any]:
    if kind.name in SIMPLE:
        return SIMPLE[kind.name]
    if kind.name.startswith("sequence of "):
        assert isinstance(kind.inner, Kind)
        return st.lists(for_kind(kind.inner), max_size=3).map(tuple)
    if kind.name.startswith("optional "):
        assert isinstance(kind.inner, Kind)
        return st.none() | for_kind(kind.inner)
    if kind.name == "transaction":
        return st.sampled_from(sorted(TRANSACTION_TYPES.values(), key=lambda c: c.TAG)).flatmap(
            for_type
        )
    assert isinstance(kind.inner, type)
    return for_type(kind.inner)


def for_type(cls: type[Encoded]) -> st.SearchStrategy[Any]:
    if cls is Genesis:
        return genesis()
    return st.builds(cls, **{name: for_kind(kind) for name, kind in cls.FIELDS})


@st.composite
def genesis(draw: st.DrawFn) -> Genesis:
    n = draw(st.integers(1, 5))
    keys = draw(
        st.lists(st.binary(min_size=32, max_size=32), min_size=n, max_size=n, unique=True)
    )
    nodes = tuple(
        NodeInfo(i + 1, f"peer-{i}", key, draw(SIMPLE["bytes[32]"])) for i, key in enumerate(keys)
    )
    threshold = draw(st.integers(1, n))
    # Shape only: ledger.genesis does not decode the points (ledger.authority_keys does).
    with_keys = draw(st.booleans())
    domain = (
        DomainKeys(
            0,
            threshold,
            draw(SIMPLE[f"bytes[{DOMAIN_PUBLIC_KEY_SIZE}]"]),
            tuple(draw(SIMPLE[f"bytes[{G2_POINT_SIZE}]"]) for _ in range(n)),
        )
        if with_keys
        else None
    )
    return Genesis(
        chain_id=draw(st.text(min_size=1, max_size=10)),
        genesis_time_ms=draw(SIMPLE["u64"]),
        nodes=nodes,
        authority_key=draw(SIMPLE["bytes[32]"]),
        threshold=threshold,
        quorum=draw(st.integers(n // 2 + 1, n)),
        freshness_window_ms=draw(SIMPLE["u64"]),
        denial_limit=draw(st.integers(1, 2**32 - 1)),
        block_interval_ms=draw(SIMPLE["u32"]),
        round_timeout_ms=draw(SIMPLE["u32"]),
        domain=domain,
        fame_public_key=draw(SIMPLE[f"bytes[{FAME_PUBLIC_KEY_SIZE}]"]) if with_keys else None,
    )


ALL_TYPES: list[type[Encoded]] = [
    NodeInfo,
    Genesis,  # its strategy covers DomainKeys, which only a genesis holds
    CommitSignature,
    CommitQC,
    ElectionSignature,
    ElectionQC,
    AccessVote,
    *sorted(TRANSACTION_TYPES.values(), key=lambda c: c.TAG),
    SharingResult,
    BlockHeader,
    Block,
    Member,
    RecordEntry,
    GrantEntry,
    Revocation,
    Counter,
    BlacklistEntry,
    AttributeRecord,
    AuditRecord,
    Head,
    Location,
    StoredFragment,
    AttributeKeyEntry,
    DomainEpoch,
]

assert encoding.TAG_BLOCK == Block.TAG
