"""One behaviour suite run against every key-value backend."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import plyvel
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.errors import StoreError
from ledger.kv import KeyValueStore, MemoryStore, prefix_upper_bound
from ledger.leveldb import LevelDBStore

BACKENDS = ["memory", "leveldb"]


def make_store(kind: str, path: Path) -> KeyValueStore:
    return MemoryStore() if kind == "memory" else LevelDBStore(path)


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[KeyValueStore]:
    kv = make_store(request.param, tmp_path / "db")
    yield kv
    kv.close()


def test_get_put_delete(store: KeyValueStore) -> None:
    assert store.get(b"a") is None
    store.put(b"a", b"1")
    assert store.get(b"a") == b"1"
    store.put(b"a", b"2")
    assert store.get(b"a") == b"2"
    store.delete(b"a")
    assert store.get(b"a") is None
    store.delete(b"never-there")


def test_iterate_prefix_in_byte_order(store: KeyValueStore) -> None:
    store.write({b"b\x02": b"2", b"b\x01": b"1", b"a\xff": b"x", b"c": b"y", b"b": b"0"})
    assert list(store.iterate(b"b")) == [(b"b", b"0"), (b"b\x01", b"1"), (b"b\x02", b"2")]
    assert [k for k, _ in store.iterate(b"b", reverse=True)] == [b"b\x02", b"b\x01", b"b"]
    assert [k for k, _ in store.iterate()] == [b"a\xff", b"b", b"b\x01", b"b\x02", b"c"]


def test_keys_under_a_prefix(store: KeyValueStore) -> None:
    store.write({b"b\x02": b"2", b"b\x01": b"1", b"a": b"x", b"c": b"y"})
    assert list(store.keys(b"b")) == [b"b\x01", b"b\x02"]
    assert list(store.keys()) == [b"a", b"b\x01", b"b\x02", b"c"]


def test_a_scan_reads_the_same_items(store: KeyValueStore) -> None:
    store.write({bytes([0x10, i]): bytes([i]) * i for i in range(20)} | {b"\x11": b"z"})
    for kwargs in ({}, {"start": b"\x10\x05", "stop": b"\x10\x09"}, {"reverse": True}):
        plain = list(store.iterate(b"\x10", **kwargs))  # type: ignore[arg-type]
        assert list(store.iterate(b"\x10", scan=True, **kwargs)) == plain  # type: ignore[arg-type]
        assert plain
    assert list(store.keys(b"\x10", scan=True)) == list(store.keys(b"\x10"))
    assert list(store.keys(scan=True)) == list(store.keys())


def test_iterate_start_and_stop(store: KeyValueStore) -> None:
    store.write({bytes([0x10, i]): bytes([i]) for i in range(10)})
    keys = [k[1] for k, _ in store.iterate(b"\x10", start=b"\x10\x03", stop=b"\x10\x07")]
    assert keys == [3, 4, 5, 6]
    # A start below the prefix and a stop above it are clipped to the prefix.
    assert len(list(store.iterate(b"\x10", start=b"\x00", stop=b"\x20"))) == 10


def test_prefix_of_ff_bytes(store: KeyValueStore) -> None:
    store.write({b"\xff\xff": b"1", b"\xff\xff\x00": b"2", b"\xff": b"3"})
    assert [k for k, _ in store.iterate(b"\xff\xff")] == [b"\xff\xff", b"\xff\xff\x00"]


def test_prefix_upper_bound() -> None:
    assert prefix_upper_bound(b"ab") == b"ac"
    assert prefix_upper_bound(b"a\xff") == b"b"
    assert prefix_upper_bound(b"\xff\xff") is None
    assert prefix_upper_bound(b"") is None


def test_atomic_batch_applies_on_success(store: KeyValueStore) -> None:
    store.put(b"gone", b"x")
    with store.atomic_batch() as batch:
        batch.put(b"k1", b"v1")
        batch.put(b"k2", b"v2")
        batch.delete(b"gone")
        assert store.get(b"k1") is None  # nothing visible before the batch commits
    assert (store.get(b"k1"), store.get(b"k2"), store.get(b"gone")) == (b"v1", b"v2", None)


def _write_then_fail(store: KeyValueStore) -> None:
    with store.atomic_batch() as batch:
        batch.put(b"k", b"v")
        raise RuntimeError("abort")


def test_atomic_batch_discarded_on_error(store: KeyValueStore) -> None:
    with pytest.raises(RuntimeError):
        _write_then_fail(store)
    assert store.get(b"k") is None


def test_later_operation_on_a_key_wins(store: KeyValueStore) -> None:
    with store.atomic_batch() as batch:
        batch.put(b"k", b"1")
        batch.delete(b"k")
        batch.put(b"j", b"1")
        batch.put(b"j", b"2")
    assert (store.get(b"k"), store.get(b"j")) == (None, b"2")


def test_a_snapshot_keeps_the_state_it_was_taken_in(store: KeyValueStore) -> None:
    store.write({b"p/a": b"1", b"p/b": b"2"})
    view = store.snapshot()
    store.write({b"p/a": None, b"p/c": b"3", b"p/b": b"changed"})
    assert view.get(b"p/a") == b"1"
    assert list(view.iterate(b"p/")) == [(b"p/a", b"1"), (b"p/b", b"2")]
    assert list(view.iterate(b"p/", reverse=True, scan=True)) == [(b"p/b", b"2"), (b"p/a", b"1")]
    assert list(view.keys(b"p/")) == [b"p/a", b"p/b"]
    assert store.get(b"p/a") is None
    with pytest.raises(StoreError, match="read-only"):
        view.put(b"p/z", b"9")
    assert store.get(b"p/z") is None
    view.close()
    with pytest.raises(StoreError):
        view.get(b"p/b")
    assert store.get(b"p/b") == b"changed"


def test_closed_store_refuses_use(store: KeyValueStore) -> None:
    store.close()
    with pytest.raises(StoreError):
        store.get(b"k")
    with pytest.raises(StoreError):
        store.put(b"k", b"v")
    with pytest.raises(StoreError):
        list(store.iterate())


def test_leveldb_persists_and_locks(tmp_path: Path) -> None:
    path = tmp_path / "db"
    first = LevelDBStore(path)
    first.write({b"k": b"v"}, sync=True)
    with pytest.raises(StoreError):
        LevelDBStore(path)  # LevelDB allows one process/handle at a time
    first.close()
    again = LevelDBStore(path)
    assert again.get(b"k") == b"v"
    again.close()


def test_leveldb_open_without_create_fails_cleanly(tmp_path: Path) -> None:
    with pytest.raises(StoreError):
        LevelDBStore(tmp_path / "missing", create=False)


keys = st.binary(min_size=1, max_size=4)
operations = st.lists(
    st.tuples(keys, st.one_of(st.none(), st.binary(max_size=4))), max_size=30
)


@pytest.mark.parametrize("kind", BACKENDS)
@settings(max_examples=40)
@given(batches=st.lists(operations, max_size=5), prefix=st.binary(max_size=2))
def test_matches_a_dict_model(kind: str, batches: list[list[tuple[bytes, bytes | None]]],
                              prefix: bytes, tmp_path_factory: pytest.TempPathFactory) -> None:
    store = make_store(kind, tmp_path_factory.mktemp("kv") / "db")
    model: dict[bytes, bytes] = {}
    try:
        for ops in batches:
            store.write(dict(ops))
            for key, value in dict(ops).items():
                if value is None:
                    model.pop(key, None)
                else:
                    model[key] = value
        expected = sorted((k, v) for k, v in model.items() if k.startswith(prefix))
        assert list(store.iterate(prefix)) == expected
        assert list(store.iterate(prefix, reverse=True)) == expected[::-1]
        for key in {k for ops in batches for k, _ in ops}:
            assert store.get(key) == model.get(key)
    finally:
        store.close()


class _FullDisk:
    """Stands in for a plyvel DB whose disk is full: every batch write fails as LevelDB does."""

    def __init__(self, db: object) -> None:
        self._db = db
        self.closed = False

    def write_batch(self, **_: object) -> object:
        raise plyvel.IOError(b"IO error: No space left on device")

    def get(self, key: bytes) -> bytes | None:
        value: bytes | None = self._db.get(key)  # type: ignore[attr-defined]
        return value


def test_leveldb_write_on_a_full_disk_raises_store_error(tmp_path: Path) -> None:
    store = LevelDBStore(tmp_path / "db")
    store.write({b"k": b"before"})
    real = store._db
    store._db = _FullDisk(real)
    with pytest.raises(StoreError, match="No space left"):
        store.write({b"k": b"after", b"other": b"x"})
    store._db = real
    assert store.get(b"k") == b"before"
    assert store.get(b"other") is None
    store.close()
