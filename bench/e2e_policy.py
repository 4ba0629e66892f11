"""``bench e2e --policy``: request -> decrypted latency of policy records next to owner-grant
records, in one run on the same testnet (issue 13's target: policy p50 within 1.5x).

Requests alternate between the two kinds, one at a time, rotating over the nodes and the
requesters, so both see the same load and the same moments of the machine. Per kind:

* owner-grant: request -> decision -> re-encrypted metadata opened (threshold PRE);
* policy: request -> decision -> K_pre from the combined domain-key shares ("domain half") ->
  K_abe with the member's FAME attribute key ("FAME decrypt") -> metadata opened.

The FAME decryption is timed apart: it is work on the requester's machine that the network
does not do, and the one step the owner-grant path has no counterpart for.
"""

from __future__ import annotations

import statistics
from typing import Any

from bench.e2e_fixture import POLICY, Fixture, Requester
from bench.load import percentile
from bench.report import format_table
from crypto.groups import Group

#: The issue's target for the policy path's p50 against the owner-grant path's.
TARGET_RATIO = 1.5


def compare(fixture: Fixture, group: Group, runs: int, timeout: float) -> dict[str, Any]:
    """``runs`` requests of each kind, interleaved; the figures of :func:`table`."""
    nodes = len(fixture.network.nodes)
    clients = [Requester(fixture, group, i) for i in range(nodes)]
    grant: dict[str, list[float]] = {"decision": [], "decrypt": []}
    policy: dict[str, list[float]] = {
        "decision": [], "decrypt": [], "domain_half": [], "fame_decrypt": []
    }
    try:
        for client in clients:  # the record answers are asked once, outside the timings
            client.session.record(fixture.record_id)
        for i in range(runs):
            client = clients[i % nodes]
            index = i % len(fixture.requesters)
            for name, value in client.run(fixture.requesters[index], False, timeout).items():
                grant[name].append(value)
            for name, value in client.run_policy(index, timeout).items():
                policy[name].append(value)
    finally:
        for client in clients:
            client.close()
    summary = {"owner_grant": _summary(grant), "policy": _summary(policy)}
    ratio = summary["policy"]["decrypt"]["p50_ms"] / summary["owner_grant"]["decrypt"]["p50_ms"]
    without_fame = [
        total - fame
        for total, fame in zip(policy["decrypt"], policy["fame_decrypt"], strict=True)
    ]
    return {
        "runs": runs,
        "policy_text": POLICY,
        **summary,
        "p50_ratio": ratio,
        "p50_ratio_without_fame": (
            percentile(without_fame, 0.5) / summary["owner_grant"]["decrypt"]["p50_ms"]
        ),
        "target_ratio": TARGET_RATIO,
        "within_target": ratio <= TARGET_RATIO,
    }


def _summary(samples: dict[str, list[float]]) -> dict[str, dict[str, float]]:
    return {
        name: {
            "p50_ms": percentile(values, 0.5),
            "p99_ms": percentile(values, 0.99),
            "mean_ms": statistics.fmean(values),
        }
        for name, values in samples.items()
    }


def table(payload: dict[str, Any]) -> str:
    """The comparison as printed by ``bench e2e --policy``."""
    grant, policy = payload["owner_grant"], payload["policy"]
    phases = [
        ("owner-grant: request -> decision", grant["decision"]),
        ("owner-grant: request -> decrypted metadata", grant["decrypt"]),
        ("policy: request -> decision", policy["decision"]),
        ("policy:   domain half (K_pre)", policy["domain_half"]),
        ("policy:   FAME decrypt (K_abe)", policy["fame_decrypt"]),
        ("policy: request -> decrypted metadata", policy["decrypt"]),
    ]
    rows: list[list[object]] = [[name, f["p50_ms"], f["p99_ms"]] for name, f in phases]
    verdict = "within" if payload["within_target"] else "OUTSIDE"
    return "\n".join([
        format_table(
            f"policy records next to owner-grant records, {payload['runs']} requests each, "
            f"interleaved (ms); policy {payload['policy_text']!r}",
            ["phase", "p50", "p99"],
            rows,
        ),
        f"p50 ratio policy / owner-grant: {payload['p50_ratio']:.2f} ({verdict} the "
        f"{payload['target_ratio']:g}x target); without the FAME decrypt: "
        f"{payload['p50_ratio_without_fame']:.2f}",
    ])
