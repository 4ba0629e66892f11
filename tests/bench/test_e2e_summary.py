"""The Markdown summary of `bench e2e --json` runs reads the right fields and gives the spread."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.e2e_summary import headline, main, markdown


def payload(
    p50: float, anchor: float, knee: int | None, load: tuple[float, float]
) -> dict[str, Any]:
    steps = [
        {
            "rate": rate,
            "cpu_share_of_one_core": {"node1": 0.2, "node2": 0.4, "bench": 0.9, "other": 0.5},
        }
        for rate in (10, 20)
    ]
    return {
        "nodes": 4,
        "threshold": 3,
        "prior_records": 1000,
        "load_average_1min": {"start": load[0], "end": load[1]},
        "low_load": {"decrypt": {"p50_ms": p50, "p99_ms": p50 * 2}},
        "anchor_in_process_ms": {"p50_ms": anchor},
        "sustained": {
            "steps": steps,
            "knee": None if knee is None else {"rate": knee, "committed_per_s": knee - 0.5,
                                               "p99_ms": 400.0},
        },
    }


def test_one_run_gives_its_figures_and_the_nodes_mean_cpu_at_the_knee() -> None:
    row = headline("a.json", payload(60.0, 10.0, 20, (0.5, 1.5)))
    assert (row.p50_ms, row.p99_ms, row.anchor_p50_ms, row.ratio) == (60.0, 120.0, 10.0, 6.0)
    assert (row.knee_rate, row.knee_committed, row.knee_p99_ms) == (20, 19.5, 400.0)
    assert row.knee_node_cpu is not None
    assert abs(row.knee_node_cpu - 0.3) < 1e-9
    table = markdown([row])
    assert "| a.json | 4 | 3 | 1,000 | 60.0 | 120.0 | 10.0 | 6.00 | 20 | 19.5 | 400.0 |" in table
    assert "30% of a core | 0.5 / 1.5 |" in table
    assert "spread" not in table


def test_several_runs_get_a_spread_row_and_a_missing_knee_shows_as_a_dash() -> None:
    rows = [
        headline("a", payload(60.0, 10.0, 20, (0.5, 1.5))),
        headline("b", payload(80.0, 10.0, None, (1.0, 2.0))),
    ]
    lines = markdown(rows).splitlines()
    assert lines[-1].startswith("| spread | 4 | 3 | 1,000 | 60.0 - 80.0 | 120.0 - 160.0 | 10.0 |")
    assert "| 6.00 - 8.00 | - |" in lines[-1]
    assert "| b | 4 | 3 | 1,000 | 80.0 | 160.0 | 10.0 | 8.00 | - | - | - | - |" in lines[-2]


def test_the_command_refuses_a_file_that_is_not_an_e2e_run(
    tmp_path: Path, capsys: Any
) -> None:
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text(json.dumps(payload(60.0, 10.0, 20, (0.5, 1.5))))
    bad.write_text(json.dumps({"benchmark": "disk"}))
    assert main([str(good)]) == 0
    assert "| good.json |" in capsys.readouterr().out
    assert main([str(good), str(bad)]) == 2
    assert "bad.json: not a bench e2e JSON file" in capsys.readouterr().err
