"""``iomtshare bench ledger``: block appends, verify speed and explorer query latencies.

One run builds a LevelDB ledger of ``--records`` records in blocks of 100 transactions (mostly
PutRecord, plus grants, access requests, attribute changes and the sharing results of the
previous block's requests), then, on top of it, for blocks of 1, 10 and 100 transactions:

* append: ``Ledger.apply`` including the sync'd write. "cold" is a block received from a peer
  (decoded from its bytes, every check run in apply: ``recheck=True``); "after validate" is the
  node's path, where the proposal was validated before voting and apply reuses that outcome.
  Anchor: a raw sync'd plyvel write batch holding exactly the keys and values of the last block.
* verify: one full ``Ledger.verify`` in this process, the rate of each block size taken over
  its own stretch of heights; then, with the ledger closed, ``iomtshare ledger verify`` run as a
  fresh process with 1 and with 2 worker processes, as an operator runs it (this process keeps
  helper threads from the appends, which would make verify spawn its workers rather than fork
  them; the command's own timing of the verification is reported).
* queries: every explorer query on random keys; anchor: one raw plyvel ``get``.

Signing transactions (client side) and building blocks (proposer side) are not timed.
"""

from __future__ import annotations

import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench.report import BenchError, Progress, Report, format_table, quiet
from bench.timing import Timing, measure
from crypto.signing import VERIFIED
from ledger import schema
from ledger.block import Block, SharingResult
from ledger.kv import Operations
from ledger.ledger import Ledger
from ledger.leveldb import LevelDBStore
from ledger.testing import ChainFixture
from ledger.transactions import AccessRequest, MemberRole, Transaction

OWNERS = 20
REQUESTERS = 20
KEYWORDS = 1_000
SIDE_TXS = 3  # grants and requests per block of 10 or more transactions
SIZES = (1, 10, 100)
BASE_SIZE = 100

TARGET_APPEND_MS = 20.0  # appending a 100-tx block, sync included (p50)
TARGET_VERIFY_BLOCKS_S = 2_000.0
TARGET_QUERY_MS = 5.0


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

    def __init__(self, fx: ChainFixture) -> None:
        self.fx = fx
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
        # Grants must embed the owner's and the grantee's published TPRE keys.
        members += [self.fx.publish_key(m) for m in self.owners + self.requesters]
        return members

    def block(self, height: int, size: int) -> tuple[list[Transaction], list[SharingResult]]:
        """``size`` transactions: with 10 or more, grants, requests and an attribute change
        among the records (and the previous block's requests decided); else only records."""
        fx = self.fx
        txs: list[Transaction] = []
        results = [fx.result(r, granted=i % 2 == 0) for i, r in enumerate(self.pending)]
        requests: list[AccessRequest] = []
        if size >= 10:
            for i, (owner, record) in enumerate(self.last_records[:SIDE_TXS]):
                requester = self.requesters[(height + i) % REQUESTERS]
                txs.append(fx.grant(owner, record, requester))
                requests.append(fx.request(requester, record, at_ms=fx.time_at(height)))
            txs += requests
            txs.append(fx.change_attributes(self.requesters[height % REQUESTERS], (f"h{height}",)))
        self.last_records = []
        while len(txs) < size:
            owner = self.owners[self.records % OWNERS]
            record = f"rec{self.records}"
            keywords = f"kw{self.records % KEYWORDS}"
            txs.append(fx.put_record(owner, record, keywords=keywords, payload=bytes(256)))
            self.last_records.append((owner, record))
            self.records += 1
        self.pending = requests
        return txs, results


class RecordingStore(LevelDBStore):
    """A LevelDB store that remembers its last write (the anchor replays it)."""

    last_write: dict[bytes, bytes | None]

    def write(self, ops: Operations, *, sync: bool = True) -> None:
        self.last_write = dict(ops)
        super().write(ops, sync=sync)


def _fill(ledger: Ledger, fx: ChainFixture, work: Workload, records: int) -> int:
    """Append 100-tx blocks until ``records`` records exist (built, then applied).

    Returns the number of transactions after the first block (the members' registrations).
    """
    fx.commit(ledger, work.first_block())
    transactions = 0
    while work.records < records:
        txs, results = work.block(ledger.height + 1, BASE_SIZE)
        fx.commit(ledger, txs, results)
        transactions += len(txs)
    return transactions


def _appends(
    ledger: Ledger, fx: ChainFixture, work: Workload, size: int, blocks: int
) -> tuple[list[float], list[float]]:
    """Apply ``blocks`` blocks of ``size`` txs, alternately cold and after validation."""
    cold: list[float] = []
    validated: list[float] = []
    for i in range(blocks):
        txs, results = work.block(ledger.height + 1, size)
        built = fx.next_block(ledger, txs, results)
        qc = fx.commit_qc(built)
        received = Block.from_bytes(built.to_bytes())  # as it arrives from a peer
        if i % 2 == 0:
            VERIFIED.clear()  # building the block verified its signatures: cold means none
            start = time.perf_counter()
            ledger.apply(received, qc, recheck=True)
            cold.append((time.perf_counter() - start) * 1e3)
        else:
            ledger.validate(received)
            start = time.perf_counter()
            ledger.apply(received, qc)
            validated.append((time.perf_counter() - start) * 1e3)
    return cold, validated


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
    record_count = sum(1 for _ in ledger.store.keys(schema.RECORD))

    def some_height() -> int:
        return rng.randrange(2, top + 1)

    def some_record() -> bytes:
        return fx.record_id(f"rec{rng.randrange(0, record_count)}")

    def stored_block(height: int) -> Block:
        stored = ledger.block(height)
        if stored is None:  # pragma: no cover - the ledger was just verified
            raise LookupError(f"block {height} is missing")
        return stored.block

    hashes = [stored_block(some_height()).hash() for _ in range(50)]
    tx_ids: list[bytes] = []
    while len(tx_ids) < 50:
        transactions = stored_block(some_height()).transactions
        if transactions:
            tx_ids.append(rng.choice(transactions).tx_id())
    owners = [fx.member_id(f"owner{i}") for i in range(OWNERS)]
    requesters = [fx.member_id(f"req{i}") for i in range(REQUESTERS)]
    audited = [a.record_id for a in ledger.audit_by_heights(2, top + 1, limit=200)]
    return {
        "status (head)": ledger.head,
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
        "blacklist (50)": lambda: ledger.blacklist(limit=50),
    }


def _verify_rates(
    ledger: Ledger, spans: dict[int, tuple[int, int]], txs: dict[int, int]
) -> dict[str, Any]:
    """Full verify in this process; blocks/s and tx/s of each block size over its span of
    heights."""
    stamps: dict[int, float] = {}

    def progress(height: int) -> None:
        stamps[height] = time.perf_counter()

    VERIFIED.clear()  # the chain was signed and applied in this process
    start = time.perf_counter()
    report = ledger.verify(workers=1, progress=progress)
    total_s = time.perf_counter() - start
    rates: dict[str, Any] = {
        "workers": 1,
        "fresh_process": False,
        "transactions": report.transactions,
        "seconds": total_s,
        "blocks": report.height,
        "blocks_per_s": report.height / total_s,
        "tx_per_s": report.transactions / total_s,
    }
    for size, (first, last) in spans.items():
        # From the block before the span to its last block: every block of the span.
        seconds = max(stamps[last] - stamps[first - 1], 1e-9)
        rates[str(size)] = {
            "blocks": last - first + 1,
            "blocks_per_s": (last - first + 1) / seconds,
            "tx_per_s": txs[size] / seconds,
        }
    return rates


def _cli_verify(db: Path, genesis_file: Path, workers: int, transactions: int) -> dict[str, Any]:
    """``iomtshare ledger verify --workers N --json`` in a fresh process; its own timing."""
    argv = [sys.executable, "-m", "cli", "ledger", "verify", "--db", str(db)]
    argv += ["--genesis", str(genesis_file), "--workers", str(workers), "--json"]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    try:
        payload = json.loads(done.stdout)
    except json.JSONDecodeError as exc:
        raise BenchError(f"ledger verify printed no report: {done.stderr}") from exc
    if not payload.get("ok"):
        raise BenchError(f"ledger verify failed: {payload}")
    seconds = max(float(payload["seconds"]), 1e-9)
    return {
        "workers": workers,
        "fresh_process": True,
        "seconds": seconds,
        "blocks": payload["height"],
        "blocks_per_s": payload["height"] / seconds,
        "tx_per_s": transactions / seconds,
    }


def _yes(ok: bool) -> str:
    return "yes" if ok else "NO"


def run(
    records: int,
    block_counts: Sequence[int],
    query_runs: int,
    directory: Path | None = None,
    seed: int = 1,
    progress: Progress = quiet,
) -> Report:
    """Build a ledger of ``records`` records (in ``directory``, default a temporary one), append
    ``block_counts[i]`` blocks of ``SIZES[i]`` transactions, verify it and time every query
    ``query_runs`` times. Raises ValueError for block counts that are not three numbers of at
    least 2, :class:`BenchError` if ``iomtshare ledger verify`` fails."""
    counts = list(block_counts)
    if len(counts) != len(SIZES) or min(counts) < 2:
        raise ValueError("give three block counts of at least 2")
    rng = random.Random(seed)
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(dir=directory) as tmp:
        fx = ChainFixture(nodes=4, seed=b"bench", denial_limit=10**6)
        store = RecordingStore(Path(tmp) / "ledger")
        ledger = Ledger.from_store(store, fx.genesis)
        work = Workload(fx)
        progress(f"building {records} records in blocks of {BASE_SIZE} transactions ...")
        start = time.perf_counter()
        tx_counts = {BASE_SIZE: _fill(ledger, fx, work, records)}
        build_s = time.perf_counter() - start
        spans = {BASE_SIZE: (2, ledger.height)}
        appends: dict[int, tuple[Timing, Timing, Timing]] = {}
        for size, count in zip(SIZES, counts, strict=True):
            progress(f"appending {count} blocks of {size} transactions ...")
            first = ledger.height + 1
            cold_ms, validated_ms = _appends(ledger, fx, work, size, count)
            anchor = _raw_batch_anchor(store.last_write, Path(tmp) / f"scratch{size}", runs=30)
            appends[size] = (_timing(cold_ms), _timing(validated_ms), anchor)
            if size != BASE_SIZE:
                spans[size] = (first, ledger.height)
                tx_counts[size] = size * count
        verifies = [_verify_rates(ledger, spans, tx_counts)]

        raw_get_key = schema.block(ledger.height // 2)
        anchor_get = measure(lambda: ledger.store.get(raw_get_key), query_runs)
        query_rows = [
            (name, measure(query, query_runs))
            for name, query in _queries(ledger, fx, rng).items()
        ]
        final_records = work.records
        head = ledger.head()
        ledger.close()
        genesis_file = Path(tmp) / "genesis.json"
        fx.genesis.save(genesis_file)
        verified_txs = verifies[0]["transactions"]
        for workers in (1, 2):
            progress(f"iomtshare ledger verify --workers {workers} (fresh process) ...")
            verifies.append(_cli_verify(store.path, genesis_file, workers, verified_txs))
    total_s = time.perf_counter() - began

    append_rows: list[list[object]] = []
    for size, (cold, validated, anchor) in appends.items():
        target = TARGET_APPEND_MS if size == 100 else None
        for label, timing in (("cold", cold), ("after validate", validated)):
            ok = None if target is None else _yes(timing.median_ms <= target)
            append_rows.append([
                f"{size}-tx block, {label}", timing.median_ms, timing.p95_ms,
                anchor.median_ms, timing.median_ms / anchor.median_ms, target, ok,
            ])
    text = [format_table(
        f"append (apply + sync'd write) at {final_records} records, {head.height} blocks "
        f"(base built in {build_s:.0f} s)",
        ["block", "p50 ms", "p95 ms", "raw batch p50 ms", "x raw", "target ms", "meets"],
        append_rows,
    )]
    verify_rows: list[list[object]] = []
    single = verifies[0]
    for size in SIZES:
        entry = single[str(size)]
        verify_rows.append([
            f"{size}-tx blocks (their heights), in process", entry["blocks"],
            entry["blocks_per_s"], entry["tx_per_s"], TARGET_VERIFY_BLOCKS_S,
            _yes(entry["blocks_per_s"] >= TARGET_VERIFY_BLOCKS_S),
        ])
    for rates in verifies:
        where = "in process" if rates["workers"] == 1 else f"{rates['workers']} worker processes"
        if rates.get("fresh_process"):
            where = f"`ledger verify`, {where}"
        verify_rows.append([
            f"whole chain, {where} ({rates['seconds']:.1f} s)", rates["blocks"],
            rates["blocks_per_s"], rates["tx_per_s"], TARGET_VERIFY_BLOCKS_S,
            _yes(rates["blocks_per_s"] >= TARGET_VERIFY_BLOCKS_S),
        ])
    text.append(format_table(
        "verify (one full verify per row group; the whole chain is mostly 100-tx blocks)",
        ["blocks", "count", "blocks/s", "tx/s", "target blocks/s", "meets"],
        verify_rows,
    ))
    text.append(format_table(
        f"explorer queries ({query_runs} calls each, random keys)",
        ["query", "p50 ms", "p95 ms", "raw get p50 ms", "x raw", "target p50 ms", "meets"],
        [
            [name, t.median_ms, t.p95_ms, anchor_get.median_ms,
             t.median_ms / anchor_get.median_ms, TARGET_QUERY_MS,
             _yes(t.median_ms <= TARGET_QUERY_MS)]
            for name, t in query_rows
        ],
    ))
    text.append(f"anchors: a raw sync'd plyvel write batch of the block's exact keys and values; "
                f"one raw plyvel get. Whole run: {total_s:.0f} s.")
    return Report("\n".join(text), {
        "benchmark": "ledger",
        "records": final_records,
        "blocks": head.height,
        "build_seconds": build_s,
        "append": {
            str(size): {"cold": cold.as_dict(), "after_validate": validated.as_dict(),
                        "anchor_raw_batch": anchor.as_dict()}
            for size, (cold, validated, anchor) in appends.items()
        },
        "verify": verifies,
        "queries": {name: t.as_dict() for name, t in query_rows},
        "anchor_raw_get": anchor_get.as_dict(),
        "targets": {"append_100tx_p50_ms": TARGET_APPEND_MS,
                    "verify_blocks_per_s": TARGET_VERIFY_BLOCKS_S,
                    "query_p50_ms": TARGET_QUERY_MS},
        "seconds": total_s,
    })
