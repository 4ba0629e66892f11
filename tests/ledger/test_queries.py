"""Explorer queries return exactly what a plain in-memory model of the same history says."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.errors import InvalidTransaction
from ledger.kv import MemoryStore
from ledger.ledger import Ledger
from ledger.testing import ChainFixture
from ledger.transactions import MemberRole

OWNERS = ["o1", "o2"]
REQUESTERS = ["q1", "q2", "q3"]
RECORDS = ["a", "b", "c", "d"]
KEYWORDS = ["ecg", "bp"]


@dataclass
class Model:
    """What the ledger should contain, kept the obvious way."""

    owner_of: dict[str, str] = field(default_factory=dict)
    keywords_of: dict[str, str] = field(default_factory=dict)
    grants: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    attributes: dict[str, list[tuple[str, ...]]] = field(default_factory=dict)
    # (seq, height, record or None for an unblacklisting, requester, granted)
    audit: list[tuple[int, int, str | None, str, bool]] = field(default_factory=list)
    counts: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))
    denials: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    # requester -> height of its blacklisting
    blacklisted: dict[str, int] = field(default_factory=dict)
    # (record, grantee) -> version of its latest grant or revoke
    versions: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))


operation = st.one_of(
    st.tuples(st.just("put"), st.sampled_from(OWNERS), st.sampled_from(RECORDS),
              st.sampled_from(KEYWORDS)),
    st.tuples(st.just("grant"), st.sampled_from(RECORDS), st.sampled_from(REQUESTERS)),
    st.tuples(st.just("revoke"), st.sampled_from(RECORDS), st.sampled_from(REQUESTERS)),
    st.tuples(st.just("request"), st.sampled_from(RECORDS), st.sampled_from(REQUESTERS),
              st.booleans()),
    st.tuples(st.just("attributes"), st.sampled_from(REQUESTERS + OWNERS),
              st.lists(st.sampled_from(["x", "y", "z"]), max_size=2).map(tuple)),
    st.tuples(st.just("unblacklist"), st.sampled_from(REQUESTERS)),
)


def predicted_valid(model: Model, op: tuple, access_limit: int) -> bool:
    """Whether the ledger's rules admit ``op`` in the state ``model`` describes."""
    kind = op[0]
    if kind == "put":
        return op[2] not in model.owner_of
    if kind == "grant":
        return op[1] in model.owner_of
    if kind == "revoke":
        return op[1] in model.owner_of and op[2] in model.grants.get(op[1], set())
    if kind == "request":
        _, record, requester, granted = op
        if record not in model.owner_of or requester in model.blacklisted:
            return False
        if not granted:
            return True
        has_grant = requester in model.grants.get(record, set())
        return has_grant and model.counts[(requester, record)] < access_limit
    if kind == "unblacklist":
        return op[1] in model.blacklisted
    return True


def run(fx: ChainFixture, ledger: Ledger, model: Model, op: tuple) -> None:
    """Commit ``op`` as one block, check the ledger accepted it exactly when the model says it
    should, and mirror it in ``model`` when it did."""
    expected = predicted_valid(model, op, access_limit=2)
    height = ledger.height + 1
    kind = op[0]
    if kind == "put":
        _, owner, record, keywords = op
        txs, results = [fx.put_record(owner, record, keywords=keywords, access_limit=2)], []
    elif kind == "grant":
        _, record, grantee = op
        version = model.versions[(record, grantee)] + 1
        txs, results = [
            fx.grant(model.owner_of.get(record, "o1"), record, grantee, version=version)
        ], []
    elif kind == "revoke":
        _, record, grantee = op
        version = model.versions[(record, grantee)] + 1
        txs, results = [
            fx.revoke(model.owner_of.get(record, "o1"), record, grantee, version=version)
        ], []
    elif kind == "request":
        _, record, requester, granted = op
        request = fx.request(requester, record, at_ms=fx.time_at(height))
        txs, results = [request], [fx.result(request, granted=granted)]
    elif kind == "unblacklist":
        _, member = op
        txs, results = [fx.unblacklist(member, model.blacklisted.get(member, 1))], []
    else:
        _, member, attributes = op
        seq = len(model.attributes[member])
        txs, results = [fx.change_attributes(member, attributes, seq=seq)], []
    if not expected:
        with pytest.raises(InvalidTransaction):
            fx.commit(ledger, txs, results)
        return
    fx.commit(ledger, txs, results)
    if kind == "put":
        model.owner_of[op[2]] = op[1]
        model.keywords_of[op[2]] = op[3]
    elif kind == "grant":
        model.grants[op[1]].add(op[2])
        model.versions[(op[1], op[2])] += 1
    elif kind == "revoke":
        model.grants[op[1]].discard(op[2])
        model.versions[(op[1], op[2])] += 1
    elif kind == "request":
        _, record, requester, granted = op
        model.audit.append((len(model.audit), height, record, requester, granted))
        if granted:
            model.counts[(requester, record)] += 1
        else:
            model.denials[requester] += 1
            if model.denials[requester] >= fx.genesis.denial_limit:
                model.blacklisted.setdefault(requester, height)
    elif kind == "unblacklist":
        model.audit.append((len(model.audit), height, None, op[1], False))
        model.denials[op[1]] = 0
        del model.blacklisted[op[1]]
    else:
        model.attributes[op[1]].append(op[2])


def check_queries(fx: ChainFixture, ledger: Ledger, model: Model) -> None:
    rid, mid = fx.record_id, fx.member_id
    for owner in OWNERS:
        expected = sorted(rid(r) for r, o in model.owner_of.items() if o == owner)
        assert [e.record_id for e in ledger.records_by_owner(mid(owner))] == expected
        assert len(ledger.records_by_owner(mid(owner), limit=1)) == min(1, len(expected))
    for keywords in KEYWORDS:
        expected = sorted(rid(r) for r, k in model.keywords_of.items() if k == keywords)
        found = ledger.records_by_keywords(fx.keywords_hash(keywords))
        assert [e.record_id for e in found] == expected
    for record in RECORDS:
        expected_grantees = sorted(mid(g) for g in model.grants.get(record, ()))
        assert [g.grantee for g in ledger.grants(rid(record))] == expected_grantees
        expected_seqs = [a[0] for a in model.audit if a[2] == record]
        assert [a.seq for a in ledger.audit_by_record(rid(record))] == expected_seqs
    for member in REQUESTERS + OWNERS:
        history = [h.attributes for h in ledger.attribute_history(mid(member))]
        assert history == model.attributes[member]
    for requester in REQUESTERS:
        records = ledger.audit_by_requester(mid(requester))
        assert [a.seq for a in records] == [a[0] for a in model.audit if a[3] == requester]
        assert all(a.requester == mid(requester) for a in records)
        assert ledger.denial_count(mid(requester)) == model.denials[requester]
        for record in RECORDS:
            count = ledger.access_count(mid(requester), rid(record))
            assert count == model.counts[(requester, record)]
    assert sorted((e.member_id, e.height) for e in ledger.blacklist()) == sorted(
        (mid(m), height) for m, height in model.blacklisted.items()
    )
    top = ledger.height
    for start, stop in [(0, top + 2), (2, 4), (top, top + 1), (5, 3)]:
        expected_audit = [a[0] for a in model.audit if start <= a[1] < stop]
        found_audit = ledger.audit_by_heights(start, stop)
        assert [a.seq for a in found_audit] == expected_audit
        assert all(start <= a.height < stop for a in found_audit)
        blocks = ledger.blocks(start, stop, limit=None)
        assert [b.block.height for b in blocks] == list(range(max(start, 1), min(stop, top + 1)))
        assert all(b.commit_qc.block_hash == b.block.hash() for b in blocks)
        assert ledger.block_headers(start, stop, limit=None) == [b.block.header for b in blocks]
    assert len(ledger.blocks(1, top + 1, limit=2)) == min(2, top)
    for height in range(1, top + 1):
        stored = ledger.block(height)
        assert stored is not None
        by_hash = ledger.block_by_hash(stored.block.hash())
        assert by_hash is not None
        assert by_hash.block == stored.block
        for position, tx in enumerate(stored.block.transactions):
            found_tx = ledger.transaction(tx.tx_id())
            assert found_tx is not None
            assert (found_tx.height, found_tx.position) == (height, position)
    assert ledger.block(top + 1) is None
    assert ledger.block_by_hash(bytes(32)) is None
    assert ledger.transaction(bytes(32)) is None


PRELUDE = [("put", "o1", "a", "ecg"), ("put", "o2", "b", "bp"), ("grant", "a", "q1"),
           ("grant", "b", "q2"), ("grant", "a", "q2")]


@settings(max_examples=30)
@given(ops=st.lists(operation, min_size=4, max_size=18))
def test_queries_match_the_model(ops: list[tuple]) -> None:
    fx = ChainFixture(nodes=4, denial_limit=2)
    ledger = Ledger.from_store(MemoryStore(), fx.genesis)
    members = [fx.register(o) for o in OWNERS]
    members += [fx.register(q, role=MemberRole.REQUESTER, attributes=("init",)) for q in REQUESTERS]
    members += [fx.publish_key(m) for m in OWNERS + REQUESTERS]
    fx.commit(ledger, members)
    model = Model(attributes={m: [()] for m in OWNERS})
    model.attributes.update({q: [("init",)] for q in REQUESTERS})
    for op in PRELUDE + ops:
        run(fx, ledger, model, op)
    check_queries(fx, ledger, model)
    assert ledger.verify().audit_records == len(model.audit)
