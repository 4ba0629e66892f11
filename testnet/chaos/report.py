"""The chaos run's JSON report and its one-screen summary.

:func:`request_figures` splits the requests into those sent while a fault was applied and
those sent in calm, with nearest-rank percentiles of their decision latency (from submission,
so a request refused by some nodes before one took it is charged for it).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

from testnet.chaos.checks import Check
from testnet.chaos.events import Outcome
from testnet.chaos.load import RequestRecord

REPORT_VERSION = 1


def percentile(samples: Sequence[float], q: float) -> float | None:
    """Nearest-rank ``q``-quantile (0..1); ``None`` for no samples."""
    if not samples:
        return None
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered) - 1e-9) - 1))]


def _latency(samples: Sequence[float]) -> dict[str, Any]:
    p50, p99 = percentile(samples, 0.5), percentile(samples, 0.99)
    return {
        "decided": len(samples),
        "p50_ms": None if p50 is None else round(p50, 1),
        "p99_ms": None if p99 is None else round(p99, 1),
    }


def request_figures(
    records: Sequence[RequestRecord], outcomes: Sequence[Outcome]
) -> dict[str, Any]:
    """Counts by outcome and latency during faults vs calm (a request is "during a fault"
    if it was submitted between an event's application and the network's recovery from it)."""
    windows = [(o.applied_s, _recovered_at(o)) for o in outcomes]
    during: list[float] = []
    calm: list[float] = []
    for record in records:
        latency = record.latency_ms
        if latency is None:
            continue
        inside = any(a <= record.submitted_s <= b for a, b in windows)
        (during if inside else calm).append(latency)
    outcomes_seen = Counter(r.outcome for r in records)
    return {
        "sent": len(records),
        "acknowledged": sum(1 for r in records if r.request_id is not None),
        "granted": outcomes_seen["granted"],
        "denied": outcomes_seen["denied"],
        "undecided_by_client": outcomes_seen["undecided"],
        "unacknowledged": outcomes_seen["unacknowledged"],
        "latency_calm": _latency(calm),
        "latency_during_faults": _latency(during),
    }


def _recovered_at(outcome: Outcome) -> float:
    if outcome.healed_s is None or outcome.recovery_s is None:
        return math.inf if outcome.healed_s is None else outcome.healed_s
    return outcome.healed_s + outcome.recovery_s


def recovery_figures(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    times = [o.recovery_s for o in outcomes if o.recovery_s is not None]
    p50, p99 = percentile(times, 0.5), percentile(times, 0.99)
    return {
        "measured": len(times),
        "not_recovered_in_limit": sum(1 for o in outcomes if o.recovery_s is None),
        "p50_s": None if p50 is None else round(p50, 2),
        "p99_s": None if p99 is None else round(p99, 2),
        "max_s": round(max(times), 2) if times else None,
    }


def build_report(
    *,
    settings: dict[str, Any],
    environment: dict[str, Any],
    outcomes: Sequence[Outcome],
    records: Sequence[RequestRecord],
    checks: Sequence[Check],
    extra: dict[str, Any],
) -> dict[str, Any]:
    """The whole report: what was asked, where it ran, what was done, what held."""
    return {
        "version": REPORT_VERSION,
        "ok": all(c.ok for c in checks),
        "settings": settings,
        "environment": environment,
        "faults": {
            "injected_by_kind": dict(sorted(Counter(o.event.kind for o in outcomes).items())),
            "errors": sum(1 for o in outcomes if o.error),
            "recovery": recovery_figures(outcomes),
            "events": [o.to_json() for o in outcomes],
        },
        "requests": request_figures(records, outcomes),
        "checks": [c.to_json() for c in checks],
        **extra,
    }


def summary(report: dict[str, Any]) -> str:
    """One screen of text: settings, faults by kind, requests, latency, checks, verdict."""
    settings, env = report["settings"], report["environment"]
    faults, requests = report["faults"], report["requests"]
    recovery = faults["recovery"]
    lines = [
        f"chaos run: seed {settings['seed']}, {settings['duration_s']:g} s, "
        f"{settings['nodes']} nodes, {settings['requesters']} requesters at "
        f"{settings['rate']:g} req/s each",
        f"network: {env['mode']}" + (f" ({env['note']})" if env.get("note") else ""),
    ]
    if env.get("skipped_kinds"):
        skipped = ", ".join(f"{k} ({why})" for k, why in env["skipped_kinds"].items())
        lines.append(f"skipped: {skipped}")
    by_kind = ", ".join(f"{k} {n}" for k, n in faults["injected_by_kind"].items()) or "none"
    lines.append(f"faults injected: {by_kind}" +
                 (f"; {faults['errors']} failed to apply" if faults["errors"] else ""))
    lines.append(
        f"recovery after heal: p50 {_s(recovery['p50_s'])}, p99 {_s(recovery['p99_s'])}, "
        f"max {_s(recovery['max_s'])}; {recovery['not_recovered_in_limit']} not within the limit"
    )
    lines.append(
        f"requests: {requests['sent']} sent, {requests['acknowledged']} acknowledged, "
        f"{requests['granted']} granted, {requests['denied']} denied, "
        f"{requests['undecided_by_client']} undecided when the client gave up"
    )
    calm, during = requests["latency_calm"], requests["latency_during_faults"]
    lines.append(
        f"latency calm: p50 {_ms(calm['p50_ms'])} p99 {_ms(calm['p99_ms'])} "
        f"({calm['decided']}); during faults: p50 {_ms(during['p50_ms'])} "
        f"p99 {_ms(during['p99_ms'])} ({during['decided']})"
    )
    for check in report["checks"]:
        lines.append(f"  [{'ok' if check['ok'] else 'FAIL'}] {check['name']}: {check['detail']}")
    lines.append("PASS" if report["ok"] else "FAIL")
    return "\n".join(lines)


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} s"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} ms"
