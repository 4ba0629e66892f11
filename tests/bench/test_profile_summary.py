"""Summaries of py-spy's raw profiles: categories from the innermost frame out, self and
inclusive shares, and bad input refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import profile_summary

_LOOP = "run (trio/_core/_run.py:2000);_step (node/consensus_loop.py:{})"
RAW = "\n".join([
    _LOOP.format(10) + ";pairing (crypto/groups/mcl_backend.py:362) 6",
    _LOOP.format(12) + ";write (ledger/leveldb.py:50) 3",
    "run (trio/_core/_run.py:2000);select (selectors.py:400) 1",
])


def test_categories_and_functions() -> None:
    profile = profile_summary.parse(RAW)
    assert profile.total == 10
    summary = profile_summary.summarize(profile, top=2)
    assert summary["categories"] == {
        "pairings and GT/G2 arithmetic": 60.0,
        "LevelDB reads and writes": 30.0,
        "trio scheduler and I/O": 10.0,
    }
    assert summary["self"] == {
        "pairing (groups/mcl_backend.py)": 60.0,
        "write (ledger/leveldb.py)": 30.0,
    }
    # Two lines of one function add up; only the project's own functions are listed.
    assert summary["inclusive"] == {
        "_step (node/consensus_loop.py)": 90.0,
        "pairing (groups/mcl_backend.py)": 60.0,
    }


def test_bad_line_and_empty_profile() -> None:
    with pytest.raises(ValueError, match="line 2"):
        profile_summary.parse("a (b.py:1) 1\nno count here\n")
    # A frame with a line break in its name continues on the next line.
    assert profile_summary.parse("a (b.py:1);odd\nname (c.py:2) 4\n").total == 4
    assert profile_summary.summarize(profile_summary.parse(""))["samples"] == 0


def test_main_writes_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    raw = tmp_path / "node.raw"
    raw.write_text(RAW)
    out = tmp_path / "summary.json"
    assert profile_summary.main([str(raw), "--json", str(out)]) == 0
    assert "60.0%  pairings" in capsys.readouterr().out
    assert out.exists()
    assert profile_summary.main([str(tmp_path / "missing.raw")]) == 1
