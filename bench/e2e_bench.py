"""``iomtshare bench e2e``: request-to-decrypt latency and committed requests/s on a real testnet.

What is measured (seed 002, 5.2, Figs. 6 and 8), on n node processes started for the run (or on
a running testnet given with ``--dir``; :func:`run`):

* low load: one request at a time; latency from submitting the AccessRequest until the requester
  holds the decrypted metadata (the paper's definition), the decision part of it, and the extra
  time to fetch the bulk ciphertext from the nodes and open it; p50 and p99;
* bursts: c = 5, 10, ... concurrent requests (spread over the nodes and several requesters),
  committed requests per second and the latency distribution at each level (the seed's Fig. 8);
* sustained load, with a :class:`~bench.load.LoadPlan`: open-loop arrivals at fixed rates, 30 s
  each by default, stepping up until p99 passes 1 s or requests fail (:mod:`bench.load`); each
  node's CPU share, the load generator's own CPU, and the knee;
* with ``policy``: policy records next to owner-grant records at low load, interleaved, the FAME
  decryption timed apart (:mod:`bench.e2e_policy`);
* with ``prior_records`` N: N records are put on the chain after the fixture and before the
  low-load runs (:mod:`bench.prefill`), so that the latency is measured on a chain of that
  length; the rate at which they went in is reported too.

Anchor, measured in the same run: the same threshold re-encryption done in one process with no
network (t shares with proofs, batch verification, combination, requester decryption). The
ratio network/anchor is what consensus, gossip, HTTP and the ledger add. The paper's own
figures are printed beside ours: its re-encryption stage takes 98 ms on average and the user-side
stages under 25 ms (Fig. 6); Fig. 8 gives no numbers in the text, only a linear rise of latency
from 5 to 50 requests, so the slope of our latency over c is printed instead.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench import e2e_policy, load, prefill
from bench.e2e_fixture import Fixture, Requester, prepare
from bench.e2e_load import sustained
from bench.load import LoadPlan, percentile
from bench.report import Progress, Report, format_table, quiet
from crypto.groups import Group, load_group
from crypto.sealing import BoxSecretKey
from crypto.tpre import (
    combine_shares,
    decrypt_reencrypted,
    encrypt_to_owner,
    generate_user_key,
    make_grant,
    open_rekey_share,
    reencryption_share,
    verification_keys,
    verify_rekey_share,
    verify_shares_batch,
)
from testnet.launcher import stop, up
from testnet.layout import Network, load_network

PAPER_REENCRYPTION_MS = 98.0
PAPER_USER_SIDE_MS = 25.0


def low_load(fixture: Fixture, group: Group, runs: int, timeout: float) -> dict[str, list[float]]:
    """``runs`` sequential requests, rotating over nodes and requesters."""
    samples: dict[str, list[float]] = {"decision": [], "decrypt": [], "fetch": []}
    clients = [Requester(fixture, group, i) for i in range(len(fixture.network.nodes))]
    try:
        for i in range(runs):
            keys = fixture.requesters[i % len(fixture.requesters)]
            for name, value in clients[i % len(clients)].run(keys, True, timeout).items():
                samples[name].append(value)
    finally:
        for client in clients:
            client.close()
    return samples


def saturation_repeated(
    fixture: Fixture, group: Group, concurrency: int, timeout: float, repeats: int
) -> dict[str, Any]:
    """:func:`saturation` ``repeats`` times (the paper averages 10): mean rate, pooled latencies."""
    runs = [saturation(fixture, group, concurrency, timeout) for _ in range(repeats)]
    latencies = [ms for run in runs for ms in run.pop("latencies_ms")]
    return {
        "concurrent": concurrency,
        "repeats": repeats,
        "requests_per_s": statistics.fmean(run["requests_per_s"] for run in runs),
        "wall_s": statistics.fmean(run["wall_s"] for run in runs),
        "latency_mean_ms": statistics.fmean(latencies),
        "latency_p50_ms": percentile(latencies, 0.5),
        "latency_p99_ms": percentile(latencies, 0.99),
    }


def saturation(
    fixture: Fixture, group: Group, concurrency: int, timeout: float
) -> dict[str, Any]:
    """``concurrency`` requests submitted at once; committed requests/s and latencies."""
    clients = [Requester(fixture, group, i) for i in range(concurrency)]
    barrier = threading.Barrier(concurrency)

    def one(i: int) -> float:
        barrier.wait()
        keys = fixture.requesters[i % len(fixture.requesters)]
        return clients[i].run(keys, False, timeout)["decrypt"]

    try:
        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            latencies = list(pool.map(one, range(concurrency)))
        wall = time.perf_counter() - start
    finally:
        for client in clients:
            client.close()
    return {
        "concurrent": concurrency,
        "requests_per_s": concurrency / wall,
        "wall_s": wall,
        "latency_mean_ms": statistics.fmean(latencies),
        "latency_p50_ms": percentile(latencies, 0.5),
        "latency_p99_ms": percentile(latencies, 0.99),
        "latencies_ms": latencies,
    }


def anchor(group: Group, n: int, t: int, runs: int) -> list[float]:
    """The same re-encryption in one process, no network: ms per request."""
    owner, requester = generate_user_key(group), generate_user_key(group)
    boxes = [BoxSecretKey.generate() for _ in range(n)]
    ct = encrypt_to_owner(group, owner.public_key(), b"\x00" * 120, b"record")
    grant = make_grant(group, owner, requester.public_key(), [b.public_key for b in boxes], t)
    vks = verification_keys(group, grant)
    rekeys = [
        verify_rekey_share(group, open_rekey_share(group, grant, i + 1, boxes[i]), vks[i])
        for i in range(t)
    ]
    vk_map = {i + 1: vk for i, vk in enumerate(vks)}
    samples = []
    for run in range(runs + 1):
        context = run.to_bytes(8, "big")
        start = time.perf_counter()
        shares = [reencryption_share(group, rk, ct.c1, context) for rk in rekeys]
        verified = verify_shares_batch(group, shares, vk_map, ct.c1, context)
        decrypt_reencrypted(requester, combine_shares(group, ct, verified, t), b"record")
        if run:  # the first run warms caches
            samples.append((time.perf_counter() - start) * 1e3)
    return samples


def run(
    n: int = 4,
    threshold: int | None = None,
    runs: int = 20,
    concurrency: Sequence[int] = (5, 10, 20, 30, 40, 50),
    repeats: int = 1,
    requesters: int = 5,
    size: int = 4096,
    directory: Path | None = None,
    round_timeout_ms: int = 1000,
    timeout: float = 120.0,
    progress: Progress = quiet,
    load_plan: LoadPlan | None = None,
    *,
    policy: bool = False,
    prior_records: int = 0,
) -> Report:
    """Measure on the running testnet in ``directory``, or on an ``n``-node testnet started for
    the run in a temporary directory and stopped afterwards; with ``load_plan``, also the
    sustained-load sweep (:mod:`bench.load`); with ``policy``, also policy records next to
    owner-grant records (:mod:`bench.e2e_policy`; the testnet needs the authority's keys);
    with ``prior_records``, that many records are put on the chain before the low-load runs
    (:mod:`bench.prefill`; also needs the authority's keys).

    Raises :class:`~testnet.launcher.LaunchError` if that testnet does not come up,
    :class:`~testnet.layout.LayoutError` if ``directory`` holds no network, and the client's
    errors if a request fails.
    """
    group = load_group()
    if directory is not None:
        network = load_network(directory)
        payload = _run(
            network, group, runs, concurrency, repeats, requesters, size, timeout, progress,
            load_plan, policy, prior_records,
        )
        return Report(_tables(payload), payload)
    with tempfile.TemporaryDirectory(prefix="iomtshare-e2e-") as tmp:
        root = Path(tmp) / "testnet"
        params = {"block_interval_ms": 100, "round_timeout_ms": round_timeout_ms}
        network = up(root, n, threshold=threshold, timeout=timeout, genesis_params=params,
                     progress=progress)
        try:
            payload = _run(
                network, group, runs, concurrency, repeats, requesters, size, timeout, progress,
                load_plan, policy, prior_records,
            )
        finally:
            stop(root)
    return Report(_tables(payload), payload)


def _run(
    network: Network,
    group: Group,
    runs: int,
    concurrency: Sequence[int],
    repeats: int,
    requesters: int,
    size: int,
    timeout: float,
    progress: Progress,
    load_plan: LoadPlan | None = None,
    policy: bool = False,
    prior_records: int = 0,
) -> dict[str, Any]:
    genesis = network.genesis
    progress(f"preparing: {requesters} requesters granted on one {size}-byte record"
             + (", and a record under a policy they satisfy" if policy else ""))
    fixture = prepare(network, group, requesters, size, policy=policy)
    filled = None
    if prior_records:
        filled = prefill.prefill(network, group, prior_records, timeout=timeout,
                                 progress=progress)
        progress(f"prefill: {prior_records} records in {filled.seconds:.1f} s, "
                 f"{filled.records_per_s:.1f} records/s, height {filled.height_after}")
    progress(f"low load: {runs} sequential requests")
    load_at_start = os.getloadavg()[0]
    low = low_load(fixture, group, runs, timeout)
    # Right after the low-load runs it is compared with, while the nodes are idle: after an
    # overloaded sustained rate they go on deciding the backlog and would slow it down.
    anchor_ms = anchor(group, genesis.size, genesis.threshold, max(5, min(runs, 20)))
    load_at_end = os.getloadavg()[0]
    compared = None
    if policy:
        progress(f"policy vs owner-grant: {runs} requests of each, interleaved")
        compared = e2e_policy.compare(fixture, group, runs, timeout)
    progress(f"bursts: {list(concurrency)} concurrent requests, {repeats} run(s) each")
    levels = [saturation_repeated(fixture, group, c, timeout, repeats) for c in concurrency]
    load_figures = None if load_plan is None else sustained(fixture, group, load_plan, progress)
    slope = _slope([lv["concurrent"] for lv in levels], [lv["latency_mean_ms"] for lv in levels])
    return {
        "benchmark": "e2e",
        "backend": group.name,
        "nodes": genesis.size,
        "threshold": genesis.threshold,
        "quorum": genesis.quorum,
        "block_interval_ms": genesis.block_interval_ms,
        "round_timeout_ms": genesis.round_timeout_ms,
        "file_bytes": size,
        # How busy the machine was: the 1-minute load average as the low-load runs began and
        # once the anchor after them was done.
        "load_average_1min": {"start": load_at_start, "end": load_at_end},
        "prior_records": prior_records,
        "prefill_records_per_s": None if filled is None else filled.records_per_s,
        "prefill": None if filled is None else filled.to_json(),
        "low_load": {
            name: {
                "runs": len(values),
                "p50_ms": percentile(values, 0.5),
                "p99_ms": percentile(values, 0.99),
                "mean_ms": statistics.fmean(values),
            }
            for name, values in low.items()
        },
        "anchor_in_process_ms": {
            "p50_ms": percentile(anchor_ms, 0.5),
            "p99_ms": percentile(anchor_ms, 0.99),
        },
        "saturation": levels,
        "sustained": load_figures,
        "policy_vs_grant": compared,
        "latency_slope_ms_per_request": slope,
        "paper": {
            "reencryption_stage_ms": PAPER_REENCRYPTION_MS,
            "user_side_stages_ms_below": PAPER_USER_SIDE_MS,
            "fig8": "latency rises linearly from 5 to 50 requests; no values in the text",
        },
    }


def _slope(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    if len(xs) < 2:
        return None
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    var = sum((x - mean_x) ** 2 for x in xs)
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / var


def _tables(payload: dict[str, Any]) -> str:
    low = payload["low_load"]
    anchor_p50 = payload["anchor_in_process_ms"]["p50_ms"]
    names = {
        "decision": "request -> decision",
        "decrypt": "request -> decrypted metadata",
        "fetch": "fetch + open bulk data",
    }
    rows: list[list[object]] = [
        [names[k], v["runs"], v["p50_ms"], v["p99_ms"], v["p50_ms"] / anchor_p50]
        for k, v in low.items()
    ]
    rows.append(["anchor: same TPRE in one process", None,
                 anchor_p50, payload["anchor_in_process_ms"]["p99_ms"], 1.0])
    rows.append(["paper Fig. 6: re-encryption stage", None, PAPER_REENCRYPTION_MS, None,
                 PAPER_REENCRYPTION_MS / anchor_p50])
    title = (f"e2e at low load: {payload['nodes']} nodes, t={payload['threshold']}, "
             f"{payload['backend']}, round timeout {payload['round_timeout_ms']} ms, "
             f"{payload.get('prior_records', 0)} prior records "
             "(ms; ratio = p50 / anchor p50)")
    text = [format_table(title, ["phase", "runs", "p50", "p99", "x anchor"], rows), ""]
    if payload.get("policy_vs_grant") is not None:
        text += [e2e_policy.table(payload["policy_vs_grant"]), ""]
    if payload.get("sustained") is not None:
        text += [load.table(payload["sustained"]), ""]
    sat_rows = [
        [lv["concurrent"], lv["requests_per_s"], lv["wall_s"], lv["latency_mean_ms"],
         lv["latency_p50_ms"], lv["latency_p99_ms"]]
        for lv in payload["saturation"]
    ]
    text.append(format_table(
        "bursts of c concurrent requests (seed 002 Fig. 8: linear latency rise, no values given)",
        ["concurrent", "committed req/s", "wall s", "mean ms", "p50 ms", "p99 ms"],
        sat_rows,
    ))
    slope = payload["latency_slope_ms_per_request"]
    if slope is not None:
        text.append(f"latency slope: {slope:.1f} ms per extra concurrent request")
    return "\n".join(text)
