"""A load generator for the sensor path: simulated patients stream an ECG-like signal.

Each upload carries one second of a synthetic ECG (250 samples, int16, a P wave, a QRS complex
and a T wave per beat, a heart rate per patient) encrypted through the lightweight profile
(:func:`client.sensors.make_upload`) and posted to the edge. Uploads are started at ``rate``
per second, all patients together, round robin, from a pool of threads; the report gives the
achieved rate, refusals by reason and the p50/p99 latency from starting an upload (encryption
included) to the edge's answer, and with ``committed`` to the record showing at the edge as
committed (``GET /tx/{tx_id}``, answered only with an inclusion proof checked there).
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx

from client.errors import ClientError
from client.sensors import EdgeRefused, SensorProfile, make_upload, post_upload

SAMPLE_RATE = 250
#: Upper bound on how long one record may take to show as committed.
COMMIT_PATIENCE = 120.0
_WAVES = ((0.2, 0.025, 0.12), (0.28, 0.01, -0.15), (0.3, 0.012, 1.0), (0.32, 0.01, -0.25),
          (0.55, 0.04, 0.3))  # (phase in the beat, width, amplitude): P, Q, R, S, T


def ecg_window(patient: int, second: int) -> bytes:
    """One second of patient ``patient``'s signal starting at ``second`` (deterministic)."""
    beat = 60.0 / (62 + (patient * 7) % 30)
    out = bytearray(patient.to_bytes(4, "big") + second.to_bytes(8, "big"))
    for i in range(SAMPLE_RATE):
        phase = ((second + i / SAMPLE_RATE) % beat) / beat
        value = sum(a * math.exp(-(((phase - c) / w) ** 2) / 2) for c, w, a in _WAVES)
        out += int(value * 1000).to_bytes(2, "big", signed=True)
    return bytes(out)


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """The nearest-rank percentile of ``values`` (None when empty)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))]


@dataclass
class _Tally:
    lock: threading.Lock = field(default_factory=threading.Lock)
    accepted_ms: list[float] = field(default_factory=list)
    committed_ms: list[float] = field(default_factory=list)
    refused: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)


def run_load(
    edge_url: str,
    profiles: Sequence[SensorProfile],
    *,
    rate: float,
    duration: float,
    committed: bool = False,
    workers: int = 16,
) -> dict[str, Any]:
    """Send ``rate`` uploads a second for ``duration`` seconds; returns the report."""
    tally = _Tally()
    local = threading.local()

    def client() -> httpx.Client:
        if not hasattr(local, "client"):
            local.client = httpx.Client(timeout=60.0)
        made: httpx.Client = local.client
        return made

    def one(index: int) -> None:
        patient = index % len(profiles)
        started = time.monotonic()
        try:
            reading = ecg_window(patient, index // len(profiles))
            answer = post_upload(client(), edge_url, make_upload(profiles[patient], reading))
        except EdgeRefused as exc:
            with tally.lock:
                tally.refused[exc.code] += 1
            return
        except ClientError as exc:
            with tally.lock:
                tally.errors.append(str(exc))
            return
        accepted = (time.monotonic() - started) * 1000
        with tally.lock:
            tally.accepted_ms.append(accepted)
        if committed and _wait_committed(client(), edge_url, str(answer["tx_id"])):
            with tally.lock:
                tally.committed_ms.append((time.monotonic() - started) * 1000)

    begun = time.monotonic()
    sent = 0
    with ThreadPoolExecutor(max_workers=workers) as pool:
        while (due := begun + sent / rate) < begun + duration:
            time.sleep(max(0.0, due - time.monotonic()))
            pool.submit(one, sent)
            sent += 1
    elapsed = time.monotonic() - begun
    return _report(tally, sent, elapsed, len(profiles), committed)


def _wait_committed(client: httpx.Client, edge_url: str, tx_id: str) -> bool:
    deadline = time.monotonic() + COMMIT_PATIENCE
    while time.monotonic() < deadline:
        try:
            if client.get(f"{edge_url.rstrip('/')}/tx/{tx_id}").status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    return False


def _report(
    tally: _Tally, sent: int, elapsed: float, patients: int, committed: bool
) -> dict[str, Any]:
    def ms(value: float | None) -> float | None:
        return None if value is None else round(value, 1)

    report: dict[str, Any] = {
        "patients": patients,
        "sent": sent,
        "accepted": len(tally.accepted_ms),
        "refused": dict(tally.refused),
        "errors": len(tally.errors),
        "first_error": tally.errors[0] if tally.errors else None,
        "elapsed_s": round(elapsed, 2),
        "accepted_per_s": round(len(tally.accepted_ms) / elapsed, 2) if elapsed else 0.0,
        "accepted_p50_ms": ms(percentile(tally.accepted_ms, 0.5)),
        "accepted_p99_ms": ms(percentile(tally.accepted_ms, 0.99)),
    }
    if committed:
        report["committed"] = len(tally.committed_ms)
        report["committed_p50_ms"] = ms(percentile(tally.committed_ms, 0.5))
        report["committed_p99_ms"] = ms(percentile(tally.committed_ms, 0.99))
    return report
