"""The headline figures of one or more ``bench e2e --json`` files, as a Markdown table.

Each file is one run; the table has a row per run and, for two runs or more, a last row with
the spread (lowest to highest) of each column. Used to put the figures of issue 17 into the
README and docs/performance.md straight from the JSON, so the tables say what was measured.

Usage: ``python -m bench.e2e_summary RUN.json [RUN.json ...]``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HEADERS = (
    "run",
    "nodes",
    "t",
    "prior records",
    "p50 ms",
    "p99 ms",
    "anchor p50 ms",
    "p50 / anchor",
    "knee req/s",
    "committed req/s at knee",
    "p99 at knee ms",
    "node CPU at knee",
    "load avg start / end",
)


@dataclass(frozen=True, slots=True)
class Headline:
    """What one run says about issue 17's acceptance figures (None: not measured)."""

    name: str
    nodes: int
    threshold: int
    prior_records: int
    p50_ms: float
    p99_ms: float
    anchor_p50_ms: float
    knee_rate: float | None
    knee_committed: float | None
    knee_p99_ms: float | None
    knee_node_cpu: float | None
    load_average: tuple[float, float] | None

    @property
    def ratio(self) -> float:
        return self.p50_ms / self.anchor_p50_ms

    def _load(self) -> str | None:
        if self.load_average is None:
            return None
        start, end = self.load_average
        return f"{start:.1f} / {end:.1f}"

    def cells(self) -> list[float | int | str | None]:
        return [
            self.name,
            self.nodes,
            self.threshold,
            self.prior_records,
            self.p50_ms,
            self.p99_ms,
            self.anchor_p50_ms,
            self.ratio,
            self.knee_rate,
            self.knee_committed,
            self.knee_p99_ms,
            self.knee_node_cpu,
            self._load(),
        ]


def headline(name: str, payload: dict[str, Any]) -> Headline:
    """The figures of one ``bench e2e`` JSON payload; raises ``KeyError`` if it is not one."""
    decrypt = payload["low_load"]["decrypt"]
    knee_rate = knee_committed = knee_p99 = knee_cpu = None
    sustained: dict[str, Any] = payload.get("sustained") or {}
    knee = sustained.get("knee")
    if knee is not None:
        knee_rate, knee_committed, knee_p99 = knee["rate"], knee["committed_per_s"], knee["p99_ms"]
        step = next(s for s in sustained["steps"] if s["rate"] == knee["rate"])
        shares = step["cpu_share_of_one_core"]
        nodes = [v for k, v in shares.items() if k.startswith("node")]
        knee_cpu = sum(nodes) / len(nodes)
    return Headline(
        name,
        payload["nodes"],
        payload["threshold"],
        payload.get("prior_records", 0),
        decrypt["p50_ms"],
        decrypt["p99_ms"],
        payload["anchor_in_process_ms"]["p50_ms"],
        knee_rate,
        knee_committed,
        knee_p99,
        knee_cpu,
        (load["start"], load["end"]) if (load := payload.get("load_average_1min")) else None,
    )


def _cell(value: float | int | str | None, header: str) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    if header == "node CPU at knee":
        return f"{value:.0%} of a core"
    if header == "p50 / anchor":
        return f"{value:.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:.1f}"


def _spread(rows: Sequence[Headline]) -> list[str]:
    cells = [row.cells() for row in rows]
    out = ["spread"]
    for column, header in enumerate(HEADERS[1:], start=1):
        values = [c[column] for c in cells]
        numbers = [v for v in values if isinstance(v, int | float)]
        if header.startswith("load"):
            out.append("")
        elif len(numbers) != len(values):
            out.append("-")
        elif min(numbers) == max(numbers):
            out.append(_cell(numbers[0], header))
        else:
            out.append(f"{_cell(min(numbers), header)} - {_cell(max(numbers), header)}")
    return out


def markdown(rows: Sequence[Headline]) -> str:
    """A Markdown table of ``rows``, with the spread when there are two or more."""
    lines = ["| " + " | ".join(HEADERS) + " |", "|" + "---|" + "---:|" * (len(HEADERS) - 1)]
    for row in rows:
        cells = (_cell(v, h) for v, h in zip(row.cells(), HEADERS, strict=True))
        lines.append("| " + " | ".join(cells) + " |")
    if len(rows) > 1:
        lines.append("| " + " | ".join(_spread(rows)) + " |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.e2e_summary", description=__doc__)
    parser.add_argument("runs", nargs="+", type=Path, help="JSON files of `bench e2e --json`")
    args = parser.parse_args(argv)
    rows = []
    for path in args.runs:
        try:
            rows.append(headline(path.name, json.loads(path.read_text())))
        except (OSError, ValueError, KeyError, StopIteration) as exc:
            print(f"{path}: not a bench e2e JSON file ({exc!r})", file=sys.stderr)
            return 2
    print(markdown(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
