"""Merkle inclusion paths agree with the tree :func:`ledger.merkle.merkle_root` builds."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.merkle import merkle_path, merkle_root, path_length, verify_path

leaf_lists = st.lists(st.binary(max_size=40), min_size=1, max_size=70)


@given(leaves=leaf_lists, data=st.data())
def test_every_path_verifies_against_the_root(leaves: list[bytes], data: st.DataObject) -> None:
    root = merkle_root(leaves)
    index = data.draw(st.integers(0, len(leaves) - 1))
    for i in {index, 0, len(leaves) - 1}:  # the last index is the promoted odd one when odd
        path = merkle_path(leaves, i)
        assert len(path) == path_length(i, len(leaves)) <= math.ceil(math.log2(len(leaves)))
        assert verify_path(leaves[i], i, len(leaves), path, root)


@pytest.mark.parametrize("count", [1, 2, 3, 5, 7, 8, 9, 33, 100])
def test_each_leaf_of_small_and_odd_trees(count: int) -> None:
    leaves = [bytes([i % 256]) * (i % 5) + i.to_bytes(2, "big") for i in range(count)]
    root = merkle_root(leaves)
    for i, leaf in enumerate(leaves):
        path = merkle_path(leaves, i)
        assert verify_path(leaf, i, count, path, root)
    if count == 1:
        assert merkle_path(leaves, 0) == []


@given(leaves=leaf_lists, data=st.data())
def test_a_changed_leaf_index_count_or_path_fails(leaves: list[bytes], data: st.DataObject) -> None:
    count = len(leaves)
    root = merkle_root(leaves)
    i = data.draw(st.integers(0, count - 1))
    path = merkle_path(leaves, i)
    assert not verify_path(leaves[i] + b"x", i, count, path, root)
    assert not verify_path(leaves[i], i, count, path, b"\x00" * 32)
    assert not verify_path(leaves[i], count, count, path, root)
    assert not verify_path(leaves[i], -1, count, path, root)
    assert not verify_path(leaves[i], i, count, [*path, b"\x00" * 32], root)
    if path:
        k = data.draw(st.integers(0, len(path) - 1))
        flipped = bytes([path[k][0] ^ 1]) + path[k][1:]
        assert not verify_path(leaves[i], i, count, [*path[:k], flipped, *path[k + 1 :]], root)
        assert not verify_path(leaves[i], i, count, [*path[:k], path[k][:31], *path[k + 1 :]], root)
        assert not verify_path(leaves[i], i, count, path[:-1], root)
    other = data.draw(st.integers(0, count - 1))
    if leaves[other] != leaves[i]:
        assert not verify_path(leaves[other], i, count, path, root)


def test_index_outside_the_tree_has_no_path() -> None:
    with pytest.raises(IndexError):
        merkle_path([b"a", b"b"], 2)
    with pytest.raises(IndexError):
        merkle_path([], 0)
    assert not verify_path(b"a", 0, 0, [], merkle_root([]))
