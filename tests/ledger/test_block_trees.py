"""The per-ledger cache of committed blocks' Merkle trees that inclusion proofs use."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import schema
from ledger.block import BlockParts
from ledger.block_trees import DEFAULT_CAPACITY, BlockTrees, MerkleTree
from ledger.inclusion import ResultInclusion, TxInclusion, prove_decision, prove_transaction
from ledger.kv import MemoryStore
from ledger.ledger import Ledger
from ledger.merkle import merkle_path, merkle_root
from ledger.testing import ChainFixture
from tests.ledger.test_inclusion import grow


class CountingStore(MemoryStore):
    """A memory store that counts reads of block values."""

    def __init__(self) -> None:
        super().__init__()
        self.block_reads = 0

    def get(self, key: bytes) -> bytes | None:
        if key.startswith(schema.BLOCK) and len(key) == len(schema.block(0)):
            self.block_reads += 1
        return super().get(key)


def leaves_of(sizes: list[int]) -> list[bytes]:
    return [bytes([i % 256]) * size for i, size in enumerate(sizes)]


@given(st.lists(st.integers(0, 40), min_size=1, max_size=70), st.data())
def test_tree_paths_equal_merkle_paths(sizes: list[int], data: st.DataObject) -> None:
    leaves = leaves_of(sizes)
    tree = MerkleTree.of(leaves)
    assert tree.levels[-1] == (merkle_root(leaves),)
    index = data.draw(st.integers(0, len(leaves) - 1))
    assert tree.path(index) == merkle_path(leaves, index)
    for outside in (-1, len(leaves)):
        with pytest.raises(IndexError):
            tree.path(outside)


def test_the_cache_keeps_the_most_recently_used_heights() -> None:
    trees = BlockTrees(capacity=3)
    built: list[int] = []

    def leaves(height: int) -> list[bytes]:
        built.append(height)
        return [height.to_bytes(8, "big")]

    for height in (1, 2, 3, 1, 4, 5):  # 1 is used again before 4 and 5 push 2 and 3 out
        trees.tree(height, "tx", 10, lambda h=height: leaves(h))
    assert len(trees) == 3
    assert trees.heights() == [1, 4, 5]
    assert built == [1, 2, 3, 4, 5]  # the second use of 1 was a hit
    trees.tree(2, "tx", 10, lambda: leaves(2))
    assert built[-1] == 2
    assert len(trees) == 3
    with pytest.raises(ValueError, match="holds nothing"):
        BlockTrees(capacity=0)


def test_heights_above_the_tip_are_never_served_or_stored() -> None:
    trees = BlockTrees()
    calls = 0

    def leaves() -> list[bytes]:
        nonlocal calls
        calls += 1
        return [b"leaf"]

    trees.tree(5, "tx", 4, leaves)
    trees.tree(5, "tx", 4, leaves)
    assert (calls, len(trees)) == (2, 0)
    trees.tree(5, "tx", 5, leaves)  # committed now: stored
    trees.tree(5, "tx", 5, leaves)
    assert (calls, len(trees)) == (3, 1)
    trees.tree(5, "tx", 4, leaves)  # asked as if the tip were lower: a miss, not the cache
    assert calls == 4


def all_proofs(ledger: Ledger, requests: list[bytes]) -> list[TxInclusion | ResultInclusion]:
    out: list[TxInclusion | ResultInclusion] = []
    for height in range(1, ledger.height + 1):
        stored = ledger.block(height)
        assert stored is not None
        for tx in stored.block.transactions:
            proof = prove_transaction(ledger, tx.tx_id())
            assert proof is not None
            out.append(proof)
    for request_id in requests:
        decision = prove_decision(ledger, request_id)
        assert decision is not None
        out.append(decision)
    return out


@settings(max_examples=12, deadline=None)
@given(st.data())
def test_cached_proofs_equal_cold_ones(data: st.DataObject) -> None:
    fx = ChainFixture(nodes=4, denial_limit=3)
    ledger = Ledger.from_store(MemoryStore(), fx.genesis)
    fx.commit(ledger, [fx.register(name) for name in ("alice", "bob", "carol")]
              + [fx.publish_key(name) for name in ("alice", "bob", "carol")])
    fx.commit(ledger, [fx.put_record("alice", "r1", access_limit=2),
                       fx.grant("alice", "r1", "bob")])
    requests = [r.tx_id() for r in grow(fx, ledger)]
    # Warm the cache at a few drawn heights, in a drawn order, before the full pass.
    for height in data.draw(st.lists(st.integers(1, ledger.height), max_size=6)):
        stored = ledger.block(height)
        assert stored is not None
        for tx in stored.block.transactions:
            prove_transaction(ledger, tx.tx_id())
    warm = all_proofs(ledger, requests)
    again = all_proofs(ledger, requests)
    cold = all_proofs(Ledger.from_store(ledger.store, fx.genesis, verify=False), requests)
    assert warm == again == cold
    assert len(ledger.block_trees()) == ledger.height
    assert ledger.block_trees().capacity == DEFAULT_CAPACITY


def test_one_block_read_per_proof_and_no_hashing_on_a_hit(
    fx: ChainFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = CountingStore()
    ledger = Ledger.from_store(store, fx.genesis)
    fx.commit(ledger, [fx.register(name) for name in ("alice", "bob")]
              + [fx.publish_key(name) for name in ("alice", "bob")])
    fx.commit(ledger, [fx.put_record("alice", "r1"), fx.grant("alice", "r1", "bob")])
    request = fx.request("bob", "r1", at_ms=fx.time_at(3))
    block = fx.commit(ledger, [request, fx.put_record("alice", "r2")],
                      [fx.result(request, granted=True)])
    hashed: list[str] = []
    for name in ("tx_ids", "result_hashes"):
        original = getattr(BlockParts, name)
        monkeypatch.setattr(
            BlockParts, name,
            lambda parts, name=name, original=original: hashed.append(name) or original(parts),
        )
    for _ in range(2):
        for tx in block.transactions:
            store.block_reads = 0
            assert prove_transaction(ledger, tx.tx_id()) is not None
            assert store.block_reads == 1
        store.block_reads = 0
        assert prove_decision(ledger, request.tx_id()) is not None
        assert store.block_reads == 1  # the request and its result share the block
        assert hashed == ["tx_ids", "result_hashes"]  # built in round 0 only


def test_a_ledger_behind_the_store_does_not_prove_above_its_tip(fx: ChainFixture) -> None:
    store = MemoryStore()
    ahead = Ledger.from_store(store, fx.genesis)
    fx.commit(ahead, [fx.register("alice"), fx.publish_key("alice")])
    behind = Ledger.from_store(store, fx.genesis, verify=False)  # its tip stays at height 1
    later = fx.put_record("alice", "r1")
    fx.commit(ahead, [later])
    assert prove_transaction(ahead, later.tx_id()) is not None
    assert prove_transaction(behind, later.tx_id()) is None
    assert behind.block_trees().heights() == []


def test_block_headers_from_the_cache_equal_stored_ones(fx: ChainFixture, ledger: Ledger) -> None:
    grow(fx, ledger)
    stored = [b.block.header for b in ledger.blocks(1, ledger.height + 1)]
    assert ledger.block_headers(2, 4) == stored[1:3]
    assert ledger.block_headers(1, 100) == stored  # partly cached
    assert ledger.block_headers(1, 100) == stored  # all cached
    assert ledger.block_headers(2, 100, limit=2) == stored[1:3]
    assert ledger.block_headers(4, 4) == []


def test_block_headers_above_the_tip_are_read_not_cached(fx: ChainFixture) -> None:
    store = MemoryStore()
    ahead = Ledger.from_store(store, fx.genesis)
    fx.commit(ahead, [fx.register("alice"), fx.publish_key("alice")])
    behind = Ledger.from_store(store, fx.genesis, verify=False)  # its tip stays at height 1
    fx.commit(ahead, [fx.put_record("alice", "r1")])
    fx.commit(ahead, [fx.put_record("alice", "r2")])
    headers = [b.block.header for b in ahead.blocks(1, 4)]
    assert behind.block_headers(1, 10) == headers  # as before: what the store holds
    assert behind.block_headers(1, 10, limit=2) == headers[:2]
    assert behind._headers is not None
    assert behind._headers.heights() == [1]
