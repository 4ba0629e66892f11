"""The grouped transaction index finds exactly the faults a plain key -> location table finds."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from crypto.errors import DecodeError
from ledger import schema
from ledger.block_check import BlockSummary, _put_records, check_index
from ledger.chain_index import ChainIndex
from ledger.records import location_bytes
from ledger.transactions import PutRecord, put_record_id

ids = st.binary(min_size=32, max_size=32)


def reference_fault(
    height: int,
    tx_ids: list[bytes],
    transactions: tuple[bytes, ...],
    table: dict[bytes, bytes],
    record_ids: frozenset[bytes],
) -> tuple[int, str] | str | None:
    """The index check done one lookup at a time in a plain table (the definition)."""
    try:
        for raw in transactions:
            if raw and raw[0] == PutRecord.TAG:
                put_record_id(raw)
    except DecodeError as exc:
        return str(exc)
    for position, tx_id in enumerate(tx_ids):
        key = schema.TX + tx_id
        entry = table.get(key)
        if entry is None:
            return position, f"transaction index entry {key.hex()} is missing"
        if entry != location_bytes(height, position):
            return position, f"transaction index entry {key.hex()} is wrong"
        raw = transactions[position]
        if raw and raw[0] == PutRecord.TAG and put_record_id(raw) not in record_ids:
            return position, f"record {put_record_id(raw).hex()} is missing"
    return None


def grouped_fault(
    height: int, tx_ids: list[bytes], transactions: tuple[bytes, ...], index: ChainIndex
) -> tuple[int, str] | str | None:
    try:
        positions, record_ids = _put_records(transactions)
    except DecodeError as exc:
        return str(exc)
    summary = BlockSummary(
        height,
        None,
        tx_ids=b"".join(tx_ids),
        record_ids=record_ids,
        record_positions=positions,
    )
    checked = check_index(summary, index)
    if checked.error is None:
        return None
    assert checked.error_position is not None
    return checked.error_position, checked.error


@st.composite
def chains(draw: st.DrawFn) -> tuple[list[tuple[int, list[bytes], tuple[bytes, ...]]], dict[
    bytes, bytes
], frozenset[bytes]]:
    """Blocks of transactions with a correct index, then damaged in a few random ways."""
    blocks = []
    table: dict[bytes, bytes] = {}
    records: set[bytes] = set()
    for height in range(1, draw(st.integers(1, 4)) + 1):
        tx_ids = draw(st.lists(ids, max_size=6))
        transactions = []
        for position, tx_id in enumerate(tx_ids):
            table[schema.TX + tx_id] = location_bytes(height, position)
            kind = draw(st.sampled_from(["record", "other", "short record"]))
            if kind == "record":
                record_id = draw(ids)
                records.add(record_id)
                transactions.append(bytes([PutRecord.TAG, 1]) + record_id + b"rest")
            elif kind == "short record":
                transactions.append(bytes([PutRecord.TAG, 1]) + b"short")
            else:
                transactions.append(b"\x4b\x01" + tx_id)
        blocks.append((height, tx_ids, tuple(transactions)))
    keys = sorted(table)
    for _ in range(draw(st.integers(0, 3))):
        how = draw(st.sampled_from(["delete", "move", "stray", "odd", "record"]))
        if how == "stray":
            table[schema.TX + draw(ids)] = location_bytes(draw(st.integers(1, 4)), 0)
        elif how == "record" and records:
            records.discard(draw(st.sampled_from(sorted(records))))
        elif keys:
            key = draw(st.sampled_from(keys))
            if how == "delete":
                table.pop(key, None)
            elif how == "move":
                table[key] = location_bytes(draw(st.integers(0, 4)), draw(st.integers(0, 6)))
            else:
                table[key] = draw(st.binary(max_size=20))
    return blocks, table, frozenset(records)


@settings(max_examples=300)
@given(chain=chains())
def test_grouped_index_reports_what_the_table_reports(
    chain: tuple[list[tuple[int, list[bytes], tuple[bytes, ...]]], dict[bytes, bytes], frozenset[
        bytes
    ]],
) -> None:
    blocks, table, records = chain
    index = ChainIndex.from_entries(table.items(), records)
    assert index.table() == table
    for height, tx_ids, transactions in blocks:
        expected = reference_fault(height, tx_ids, transactions, table, records)
        assert grouped_fault(height, tx_ids, transactions, index) == expected
