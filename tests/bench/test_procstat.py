"""bench.procstat: parsing /proc text, and shares of one core from two samples."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bench.procstat import (
    CpuSample,
    cpu_shares,
    machine_busy_ticks,
    process_cpu_ticks,
    sample_cpu,
)

# A real line's shape; the command name holds a space and a parenthesis, as one may.
STAT = ("4242 (python3 (x) y) S 1 4242 4242 0 -1 4194560 9000 0 12 0 "
        "1234 567 0 0 20 0 9 0 100 1000000 5000 18446744073709551615")


def test_process_ticks_are_utime_plus_stime_whatever_the_command_name() -> None:
    assert process_cpu_ticks(STAT) == 1234 + 567
    with pytest.raises(ValueError, match="not a /proc"):
        process_cpu_ticks("4242 (short) S 1")


def test_machine_busy_ticks_leave_out_idle_and_iowait() -> None:
    text = ("cpu  100 5 50 1000 20 3 2 1 7 0\n"
            "cpu0 50 2 25 500 10 1 1 0 3 0\n"
            "intr 12345\n")
    assert machine_busy_ticks(text) == 100 + 5 + 50 + 3 + 2 + 1  # guest time is in user already
    with pytest.raises(ValueError, match="no aggregate cpu line"):
        machine_busy_ticks("intr 1\n")


def test_shares_of_one_core_and_the_rest_of_the_machine() -> None:
    before = CpuSample(10.0, {"node0": 100, "bench": 50}, 1000)
    after = CpuSample(12.0, {"node0": 250, "bench": 70}, 1400)
    shares = cpu_shares(before, after, ticks_per_s=100)
    assert shares == {"node0": 0.75, "bench": 0.1, "other": pytest.approx(1.15)}
    gone = cpu_shares(before, CpuSample(12.0, {"node0": None, "bench": 70}, 1400), 100)
    assert gone["node0"] is None
    assert gone["other"] is None
    with pytest.raises(ValueError, match="out of order"):
        cpu_shares(after, before, 100)


def test_sampling_reads_this_process_and_reports_a_missing_one_as_unknown(
    tmp_path: Path,
) -> None:
    sample = sample_cpu({"self": os.getpid(), "gone": 2**22 + 1})
    assert sample.processes["self"] is not None
    assert sample.processes["gone"] is None
    (tmp_path / "7").mkdir()
    (tmp_path / "7" / "stat").write_text(STAT)
    (tmp_path / "stat").write_text("cpu  1 2 3 4 5 6 7 8\n")
    fake = sample_cpu({"node0": 7}, proc=tmp_path)
    assert fake.processes == {"node0": 1801}
    assert fake.machine == 1 + 2 + 3 + 6 + 7 + 8
