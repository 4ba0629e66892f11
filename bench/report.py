"""What a benchmark returns (:class:`Report`), its plain-text tables and its JSON file.

Every benchmark module exposes ``run(..., progress=quiet) -> Report`` and never prints: the
``iomtshare bench`` commands (``cli/bench.py``) parse the options, print ``Report.text`` and
write ``Report.payload`` with :func:`write_json`.
"""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Called with one line about what a benchmark is doing now (it may run for minutes).
Progress = Callable[[str], None]


def quiet(_: str) -> None:
    """The default :data:`Progress`: say nothing."""


@dataclass(frozen=True, slots=True)
class Report:
    """One benchmark run: ``text`` holds its tables as printed, ``payload`` every figure (JSON)."""

    text: str
    payload: dict[str, Any]


class BenchError(Exception):
    """A benchmark could not finish: a step it drives (a process, a network) failed."""


def format_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Render ``rows`` under ``headers`` with right-aligned columns (left for the first)."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        for i, value in enumerate(row):
            widths[i] = max(widths[i], len(value))

    def line(values: Sequence[str]) -> str:
        parts = [values[0].ljust(widths[0])]
        parts += [v.rjust(w) for v, w in zip(values[1:], widths[1:], strict=True)]
        return "  ".join(parts)

    rule = "-" * len(line(list(headers)))
    body = [line(row) for row in cells]
    return "\n".join([title, rule, line(list(headers)), rule, *body, rule])


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if value >= 100:
            return f"{value:.0f}"
        if value >= 10:
            return f"{value:.1f}"
        return f"{value:.3f}" if value < 1 else f"{value:.2f}"
    return str(value)


def machine_info() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "processor": platform.processor(),
        "cpus": os.cpu_count(),
    }


def write_json(path: Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` (plus machine facts) atomically to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps({"machine": machine_info(), **payload}, indent=2) + "\n")
    tmp.replace(path)

