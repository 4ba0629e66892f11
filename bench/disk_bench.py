"""``iomtshare bench disk``: LevelDB bytes on disk per granted access request, and where they go.

A run starts an n-node testnet of its own (the nodes are stopped around each measurement, so a
running testnet is not used), prepares the same fixture as ``bench e2e`` (an owner, requesters
granted on one record), then:

1. stops the nodes, compacts each node's ledger database and measures it (the baseline);
2. starts them again and makes ``requests`` access requests, ``concurrency`` at a time, each
   to decrypted metadata as in ``bench e2e``;
3. stops the nodes, measures each ledger as the node left it ("raw": write-ahead log and
   uncompacted tables included), compacts it and measures it again ("compacted").

``ledger_bytes_per_granted_request`` is (compacted size - baseline) / granted requests,
averaged over the nodes; the raw figure is given beside it, and the logical one (key and value
bytes before LevelDB's compression, node 1). The breakdown reads the blocks
added in step 2 and every key the ledger holds: bytes of each block part (request
transactions, sharing results split into votes, shares, signatures and the combined
ciphertext, election and carried commit QCs, headers) and of each key namespace (logical
key + value bytes, before LevelDB's own compression).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.e2e_fixture import Fixture, Requester, prepare
from bench.report import BenchError, Progress, Report, format_table, quiet
from crypto.groups import Group, load_group
from ledger import disk_usage, schema
from ledger.block import Block
from ledger.leveldb import LevelDBStore
from ledger.transactions import AccessRequest
from testnet.launcher import start, stop, up
from testnet.layout import Network

#: Where a node keeps its ledger database inside its home (node.service opens it there).
LEDGER_DIR = ("data", "ledger")


def ledger_path(network: Network, index: int) -> Path:
    return network.directory / network.node(index).home / Path(*LEDGER_DIR)


def breakdown(path: Path, from_height: int) -> dict[str, Any]:
    """Logical bytes in the closed ledger at ``path``: per key namespace over the whole
    database, and per block part over the blocks above ``from_height``."""
    parts: Counter[str] = Counter()
    counts: Counter[str] = Counter()
    store = LevelDBStore(path, create=False)
    try:
        start = schema.block(from_height + 1)
        for _, value in store.iterate(schema.BLOCK, start=start, scan=True):
            _block_parts(Block.from_bytes(value), parts, counts)
    finally:
        store.close()
    namespaces = disk_usage.namespace_bytes(path)
    return {"namespaces": dict(namespaces), "block_parts": dict(parts), "counts": dict(counts)}


def _block_parts(block: Block, parts: Counter[str], counts: Counter[str]) -> None:
    """Add the sizes of ``block``'s parts to ``parts`` (everything not named is framing)."""
    counts["blocks"] += 1
    total = len(block.to_bytes())
    named = 0

    def add(name: str, size: int) -> None:
        nonlocal named
        parts[name] += size
        named += size

    add("header", len(block.header.to_bytes()))
    for tx in block.transactions:
        kind = "access request txs" if isinstance(tx, AccessRequest) else "other txs"
        add(kind, len(tx.to_bytes()))
    for result in block.results:
        counts["granted" if result.granted else "denied"] += 1
        add("combined ciphertexts", len(result.combined_ciphertext))
        for vote in result.votes:
            counts["votes"] += 1
            add("vote shares (with proofs)", len(vote.share))
            add("vote signatures", len(vote.signature))
        add("result ids and vote framing", len(result.to_bytes()) - len(result.combined_ciphertext)
            - sum(len(v.share) + len(v.signature) for v in result.votes))
    if block.election_qc is not None:
        add("election QCs", len(block.election_qc.to_bytes()))
    if block.last_commit is not None:
        add("carried commit QCs", len(block.last_commit.to_bytes()))
    parts["block framing"] += total - named


def _requests(fixture: Fixture, group: Group, requests: int, concurrency: int,
              timeout: float) -> float:
    """Make ``requests`` access requests, ``concurrency`` at a time; returns the wall time."""
    clients = [Requester(fixture, group, i) for i in range(concurrency)]

    def worker(slot: int) -> None:
        for i in range(slot, requests, concurrency):
            keys = fixture.requesters[i % len(fixture.requesters)]
            clients[slot].run(keys, False, timeout)

    started = time.perf_counter()
    try:
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            list(pool.map(worker, range(concurrency)))
    finally:
        for client in clients:
            client.close()
    return time.perf_counter() - started


def run(
    n: int = 4,
    threshold: int | None = None,
    requests: int = 1000,
    concurrency: int = 8,
    requesters: int = 5,
    size: int = 4096,
    timeout: float = 120.0,
    progress: Progress = quiet,
) -> Report:
    """Measure on an ``n``-node testnet started for the run in a temporary directory.

    Raises :class:`~testnet.launcher.LaunchError` if the testnet does not come up,
    :class:`BenchError` if no request was granted, and the client's errors if a request fails.
    """
    group = load_group()
    with tempfile.TemporaryDirectory(prefix="iomtshare-disk-") as tmp:
        root = Path(tmp) / "testnet"
        params = {"block_interval_ms": 100}
        network = up(root, n, threshold=threshold, timeout=timeout, genesis_params=params,
                     progress=progress)
        try:
            progress(f"preparing: {requesters} requesters granted on one {size}-byte record")
            fixture = prepare(network, group, requesters, size)
            stop(root)
            indexes = [node.index for node in network.nodes]
            baseline = {i: disk_usage.compact(ledger_path(network, i)) for i in indexes}
            logical = {i: sum(disk_usage.namespace_bytes(ledger_path(network, i)).values())
                       for i in indexes}
            heights = {i: _height(ledger_path(network, i)) for i in indexes}
            start(root, timeout=timeout, progress=progress)
            progress(f"{requests} requests, {concurrency} at a time")
            wall = _requests(fixture, group, requests, concurrency, timeout)
        finally:
            stop(root)
        raw = {i: disk_usage.directory_bytes(ledger_path(network, i)) for i in indexes}
        compacted = {i: disk_usage.compact(ledger_path(network, i)) for i in indexes}
        details = {i: breakdown(ledger_path(network, i), heights[i]) for i in indexes}
        for i in indexes:
            details[i]["baseline_logical_bytes"] = logical[i]
    payload = _payload(network, requests, concurrency, wall, baseline, raw, compacted, details)
    return Report(_tables(payload), payload)


def _height(path: Path) -> int:
    store = LevelDBStore(path, create=False)
    try:
        last = next(store.iterate(schema.BLOCK, reverse=True), None)
    finally:
        store.close()
    return 0 if last is None else schema.trailing_u64(last[0])


def _payload(
    network: Network,
    requests: int,
    concurrency: int,
    wall: float,
    baseline: dict[int, int],
    raw: dict[int, int],
    compacted: dict[int, int],
    details: dict[int, dict[str, Any]],
) -> dict[str, Any]:
    # Every node holds the same chain, so counts agree; node 1's breakdown stands for all.
    first = details[min(details)]
    granted = first["counts"].get("granted", 0)
    if not granted:
        raise BenchError("no request was granted: nothing to divide by")
    per_node = {
        f"node{i}": {
            "baseline_bytes": baseline[i],
            "raw_bytes": raw[i],
            "compacted_bytes": compacted[i],
            "compacted_bytes_per_granted_request": (compacted[i] - baseline[i]) / granted,
            "raw_bytes_per_granted_request": (raw[i] - baseline[i]) / granted,
        }
        for i in sorted(baseline)
    }
    genesis = network.genesis
    return {
        "benchmark": "disk",
        "nodes": genesis.size,
        "threshold": genesis.threshold,
        "quorum": genesis.quorum,
        "requests": requests,
        "concurrency": concurrency,
        "wall_s": wall,
        "granted": granted,
        "denied": first["counts"].get("denied", 0),
        "blocks": first["counts"].get("blocks", 0),
        "votes_per_result": first["counts"].get("votes", 0) / max(1, granted),
        "ledger_bytes_per_granted_request": statistics.fmean(
            v["compacted_bytes_per_granted_request"] for v in per_node.values()
        ),
        # Keys and values before LevelDB's block compression, which the fixture flatters: its
        # requests all name one record, so a block's combined ciphertexts repeat its C1, C2
        # and body, and compress.
        "ledger_logical_bytes_per_granted_request": (
            sum(first["namespaces"].values()) - first["baseline_logical_bytes"]
        ) / granted,
        "ledger_raw_bytes_per_granted_request": statistics.fmean(
            v["raw_bytes_per_granted_request"] for v in per_node.values()
        ),
        "per_node": per_node,
        "block_parts_per_granted_request": {
            k: v / granted for k, v in sorted(first["block_parts"].items(), key=lambda kv: -kv[1])
        },
        "namespace_bytes": dict(sorted(first["namespaces"].items(), key=lambda kv: -kv[1])),
    }


def _tables(payload: dict[str, Any]) -> str:
    title = (f"ledger on disk: {payload['nodes']} nodes, t={payload['threshold']}, "
             f"{payload['granted']} granted requests in {payload['blocks']} blocks")
    rows = [
        [name, v["baseline_bytes"], v["raw_bytes"], v["compacted_bytes"],
         v["raw_bytes_per_granted_request"], v["compacted_bytes_per_granted_request"]]
        for name, v in payload["per_node"].items()
    ]
    text = [format_table(title, ["node", "baseline", "raw", "compacted", "raw B/req",
                                 "compacted B/req"], rows)]
    compacted = payload["ledger_bytes_per_granted_request"]
    raw = payload["ledger_raw_bytes_per_granted_request"]
    logical = payload["ledger_logical_bytes_per_granted_request"]
    text.append(f"ledger_bytes_per_granted_request: {compacted:.0f} (compacted; raw {raw:.0f}; "
                f"keys and values before compression {logical:.0f})")
    parts = [[k, v] for k, v in payload["block_parts_per_granted_request"].items()]
    text += ["", format_table("block bytes per granted request (logical, before compression)",
                              ["part", "bytes"], parts)]
    spaces = [[k, v] for k, v in payload["namespace_bytes"].items()]
    text += ["", format_table("key + value bytes per namespace, whole ledger",
                              ["namespace", "bytes"], spaces)]
    return "\n".join(text)
