"""bench.link_hop measures all four reader and window-update cases and writes their figures."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from bench.link_hop import RELEASE_ON_READ, main


def test_the_command_measures_every_case_and_leaves_the_environment_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(RELEASE_ON_READ, "0")
    out = tmp_path / "hop.json"
    assert main(["--round-trips", "5", "--sizes", "100", "--json", str(out)]) == 0
    rows = json.loads(out.read_text())["rows"]
    cases = {(r["reader"], r["window_updates"]) for r in rows}
    assert cases == {
        (reader, window)
        for reader in ("one read per batch", "prefix, then body")
        for window in ("at half the window", "after every read")
    }
    assert all(r["frame_bytes"] == 100 and r["cpu_ms"] > 0 for r in rows)
    assert "consensus-link round trip" in capsys.readouterr().out
    assert os.environ[RELEASE_ON_READ] == "0"
