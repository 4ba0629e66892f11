"""The GIL check of bench.pairing_threads runs both cases and times both ways."""

from __future__ import annotations

import pytest

from bench.pairing_threads import main, speedup


def test_speedup_runs_the_work_in_one_and_in_two_threads() -> None:
    calls = []
    one, two = speedup(lambda: calls.append(1), 10)
    assert len(calls) == 20
    assert one > 0
    assert two > 0


def test_the_command_reports_both_cases(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("pymcl")
    assert main(["--pairings", "4"]) == 0
    out = capsys.readouterr().out
    assert "pymcl pairing: 4 in one thread" in out
    assert "precomputed Miller loop via ctypes: 4 in one thread" in out
    with pytest.raises(SystemExit):
        main(["--pairings", "1"])
