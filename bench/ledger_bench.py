"""``iomtshare bench ledger``: block appends, explorer query latencies and verify speed.

Builds a LevelDB ledger holding ``--records`` records in blocks of ``--txs-per-block``
transactions (mostly PutRecord, plus grants, access requests, attribute changes and the sharing
results of the previous block's requests), then measures:

* append: ``Ledger.apply`` of each block (validation, signature checks, one sync'd batch);
  anchor: a raw sync'd plyvel batch with the same keys and values;
* queries: every explorer query on random keys; anchor: one raw plyvel ``get``;
* verify: a full ``Ledger.verify``; anchor: a raw scan reading every block's bytes.

Signing transactions (client side) and building blocks (proposer side) are not timed as append.
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from bench.report import format_table, write_json
from bench.timing import Timing, measure
from ledger import schema
from ledger.block import SharingResult
from ledger.kv import Operations
from ledger.ledger import Ledger
from ledger.leveldb import LevelDBStore
from ledger.testing import ChainFixture
from ledger.transactions import AccessRequest, MemberRole, Transaction

OWNERS = 20
REQUESTERS = 20
KEYWORDS = 1_000
SIDE_TXS = 3  # grants, requests per block (plus one attribute change)

TARGETS = {"query p50 ms": 5.0, "verify blocks/s": 2_000.0, "append 100-tx block ms": 20.0}


def _timing(samples: list[float]) -> Timing:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))]
    return Timing(
        runs=len(ordered),
        median_ms=statistics.median(ordered),
        p95_ms=p95,
        mean_ms=statistics.fmean(ordered),
        min_ms=ordered[0],
    )


class Workload:
    """Deterministic blocks of signed transactions."""

    def __init__(self, fx: ChainFixture, txs_per_block: int) -> None:
        self.fx = fx
        self.txs_per_block = txs_per_block
        self.records = 0
        self.owners = [f"owner{i}" for i in range(OWNERS)]
        self.requesters = [f"req{i}" for i in range(REQUESTERS)]
        self.pending: list[AccessRequest] = []
        self.last_records: list[tuple[str, str]] = []

    def first_block(self) -> list[Transaction]:
        members: list[Transaction] = [self.fx.register(o) for o in self.owners]
        members += [
            self.fx.register(r, role=MemberRole.REQUESTER, attributes=("role:doctor",))
            for r in self.requesters
        ]
        return members

    def block(self, height: int) -> tuple[list[Transaction], list[SharingResult]]:
        fx = self.fx
        txs: list[Transaction] = []
        results = [fx.result(r, granted=i % 2 == 0) for i, r in enumerate(self.pending)]
        requests: list[AccessRequest] = []
        for i, (owner, record) in enumerate(self.last_records[:SIDE_TXS]):
            requester = self.requesters[(height + i) % REQUESTERS]
            txs.append(fx.grant(owner, record, requester))
            requests.append(fx.request(requester, record, at_ms=fx.time_at(height)))
        txs += requests
        txs.append(fx.change_attributes(self.requesters[height % REQUESTERS], (f"h{height}",)))
        self.last_records = []
        while len(txs) < self.txs_per_block:
            owner = self.owners[self.records % OWNERS]
            record = f"rec{self.records}"
            keywords = f"kw{self.records % KEYWORDS}"
            txs.append(fx.put_record(owner, record, keywords=keywords, payload=bytes(256)))
            self.last_records.append((owner, record))
            self.records += 1
        self.pending = requests
        return txs, results


def _fill(ledger: Ledger, fx: ChainFixture, records: int, txs_per_block: int) -> list[float]:
    """Append blocks until ``records`` records exist; return each apply's milliseconds."""
    work = Workload(fx, txs_per_block)
    fx.commit(ledger, work.first_block())
    apply_ms: list[float] = []
    while work.records < records:
        height = ledger.height + 1
        txs, results = work.block(height)
        block = fx.next_block(ledger, txs, results)
        qc = fx.commit_qc(block)
        start = time.perf_counter()
        ledger.apply(block, qc)
        apply_ms.append((time.perf_counter() - start) * 1e3)
    return apply_ms


class RecordingStore(LevelDBStore):
    """A LevelDB store that remembers its last write (the anchor replays it)."""

    last_write: dict[bytes, bytes | None]

    def write(self, ops: Operations, *, sync: bool = True) -> None:
        self.last_write = dict(ops)
        super().write(ops, sync=sync)


def _raw_batch_anchor(ops: dict[bytes, bytes | None], scratch: Path, runs: int) -> Timing:
    """A raw sync'd plyvel batch with exactly the keys and values of one block's write."""
    store = LevelDBStore(scratch)
    counter = iter(range(1 << 30))

    def write() -> None:
        salt = next(counter).to_bytes(4, "big")  # fresh keys each run, like a new block
        store.write({salt + k: v for k, v in ops.items()}, sync=True)

    try:
        return measure(write, runs)
    finally:
        store.close()


def _queries(ledger: Ledger, fx: ChainFixture, rng: random.Random) -> dict[str, Callable[[], Any]]:
    top = ledger.height
    head = ledger.head()

    def some_height() -> int:
        return rng.randrange(2, top + 1)

    def some_record() -> bytes:
        return fx.record_id(f"rec{rng.randrange(0, ledger_records)}")

    def some_block_hash() -> bytes:
        stored = ledger.block(some_height())
        assert stored is not None
        return stored.block.hash()

    ledger_records = sum(1 for _ in ledger.store.iterate(schema.RECORD))
    hashes = [some_block_hash() for _ in range(50)]
    tx_ids = []
    for _ in range(50):
        stored = ledger.block(some_height())
        assert stored is not None
        tx_ids.append(rng.choice(stored.block.transactions).tx_id())
    owners = [fx.member_id(f"owner{i}") for i in range(OWNERS)]
    requesters = [fx.member_id(f"req{i}") for i in range(REQUESTERS)]
    audited = [a.record_id for a in ledger.audit_by_heights(2, top + 1, limit=200)]
    return {
        "status (head)": lambda: (ledger.head(), head.audit_length),
        "block by height": lambda: ledger.block(some_height()),
        "block by hash": lambda: ledger.block_by_hash(rng.choice(hashes)),
        "block headers range (10)": lambda: ledger.block_headers(h := some_height(), h + 10),
        "full blocks range (10)": lambda: ledger.blocks(h := some_height(), h + 10),
        "tx by id": lambda: ledger.transaction(rng.choice(tx_ids)),
        "record by id": lambda: ledger.record(some_record()),
        "records by owner (50)": lambda: ledger.records_by_owner(rng.choice(owners), limit=50),
        "records by keywords (50)": lambda: ledger.records_by_keywords(
            fx.keywords_hash(f"kw{rng.randrange(KEYWORDS)}"), limit=50
        ),
        "audit by record": lambda: ledger.audit_by_record(rng.choice(audited)),
        "audit by requester (50)": lambda: ledger.audit_by_requester(
            rng.choice(requesters), limit=50
        ),
        "audit by heights (10 blocks)": lambda: ledger.audit_by_heights(
            h := some_height(), h + 10
        ),
        "attribute history": lambda: ledger.attribute_history(rng.choice(requesters)),
        "grants of a record": lambda: ledger.grants(rng.choice(audited)),
        "blacklist": lambda: ledger.blacklist(limit=50),
    }


@click.command()
@click.option("--records", default=100_000, show_default=True, help="Records to store.")
@click.option("--txs-per-block", default=100, show_default=True)
@click.option("--query-runs", default=200, show_default=True, help="Calls per query type.")
@click.option("--dir", "directory", type=click.Path(path_type=Path), default=None,
              help="Where to build the ledger (default: a temporary directory).")
@click.option("--json", "json_path", type=click.Path(path_type=Path), default=None)
@click.option("--seed", default=1, show_default=True)
def command(
    records: int,
    txs_per_block: int,
    query_runs: int,
    directory: Path | None,
    json_path: Path | None,
    seed: int,
) -> None:
    """Append blocks, time explorer queries and verify a ledger of RECORDS records."""
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory(dir=directory) as tmp:
        fx = ChainFixture(nodes=4, seed=b"bench", denial_limit=10**6)
        store = RecordingStore(Path(tmp) / "ledger")
        ledger = Ledger.from_store(store, fx.genesis)
        click.echo(f"building {records} records in blocks of {txs_per_block} transactions ...")
        build_start = time.perf_counter()
        apply_ms = _fill(ledger, fx, records, txs_per_block)
        build_s = time.perf_counter() - build_start
        append = _timing(apply_ms)
        block_write = store.last_write
        anchor_write = _raw_batch_anchor(block_write, Path(tmp) / "scratch", runs=50)

        raw_get_key = schema.block(ledger.height // 2)
        anchor_get = measure(lambda: ledger.store.get(raw_get_key), query_runs)
        query_rows = []
        for name, query in _queries(ledger, fx, rng).items():
            timing = measure(query, query_runs)
            query_rows.append((name, timing))

        start = time.perf_counter()
        report = ledger.verify()
        verify_s = time.perf_counter() - start
        start = time.perf_counter()
        scanned = sum(len(v) for _, v in ledger.store.iterate(schema.BLOCK))
        scan_s = time.perf_counter() - start
        ledger.close()

    blocks_per_s = report.height / verify_s
    rows: list[list[object]] = [
        ["append block (apply+sync)", append.median_ms, append.p95_ms, anchor_write.median_ms,
         append.median_ms / anchor_write.median_ms, TARGETS["append 100-tx block ms"],
         append.median_ms <= TARGETS["append 100-tx block ms"]],
    ]
    for name, timing in query_rows:
        rows.append([f"query: {name}", timing.median_ms, timing.p95_ms, anchor_get.median_ms,
                     timing.median_ms / anchor_get.median_ms, TARGETS["query p50 ms"],
                     timing.median_ms <= TARGETS["query p50 ms"]])
    click.echo(format_table(
        f"ledger: {records} records, {report.height} blocks, {report.transactions} txs, "
        f"{report.audit_records} audit records (built in {build_s:.1f} s)",
        ["operation", "p50 ms", "p95 ms", "anchor p50 ms", "x anchor", "target ms", "ok"],
        rows,
    ))
    click.echo(format_table(
        "verify",
        ["operation", "blocks/s", "seconds", "anchor (raw scan) s", "x anchor", "target", "ok"],
        [["full verify", blocks_per_s, verify_s, scan_s, verify_s / max(scan_s, 1e-9),
          TARGETS["verify blocks/s"], blocks_per_s >= TARGETS["verify blocks/s"]]],
    ))
    batch_bytes = sum(len(k) + len(v or b"") for k, v in block_write.items())
    click.echo(f"anchors: append vs a raw sync'd plyvel batch of the same {len(block_write)} keys "
               f"({batch_bytes} bytes); queries vs one plyvel get; verify vs a raw scan of all "
               f"{scanned} block bytes. Verify rate: {report.transactions / verify_s:.0f} tx/s")
    if json_path is not None:
        write_json(json_path, {
            "benchmark": "ledger",
            "records": records,
            "blocks": report.height,
            "transactions": report.transactions,
            "append": append.as_dict(),
            "anchor_raw_batch": anchor_write.as_dict(),
            "anchor_raw_get": anchor_get.as_dict(),
            "queries": {name: t.as_dict() for name, t in query_rows},
            "verify": {"seconds": verify_s, "blocks_per_s": blocks_per_s,
                       "anchor_scan_seconds": scan_s},
            "targets": TARGETS,
        })
