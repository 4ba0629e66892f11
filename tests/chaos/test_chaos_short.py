"""The short seeded chaos run CI makes (issue 16 item 2): real node processes in network
namespaces (on loopback where namespaces are not allowed), every fault kind the machine allows,
each at least once, under request load; after the heal every check must hold.

It takes about three minutes; ``iomtshare testnet chaos`` runs the same thing at any length
(docs/reliability.md).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from testnet.chaos.netns import choose_fabric
from testnet.chaos.report import summary
from testnet.chaos.runner import ChaosSettings, run
from testnet.chaos.schedule import PROCESS_KINDS, Timing

SEED = 16
#: Short holds and gaps, so that 170 s meet every kind at least once.
CI_TIMING = Timing(warmup_s=6.0, hold_s=(2.0, 4.0), gap_s=(2.0, 3.0))


@pytest.mark.slow
def test_a_short_seeded_chaos_run_keeps_every_promise(tmp_path: Path) -> None:
    said: list[str] = []
    settings = ChaosSettings(
        seed=SEED,
        duration_s=170,
        directory=tmp_path / "chaos",
        requesters=3,
        rate=1.0,
        timing=CI_TIMING,
        liveness_bound_s=60,
    )
    fabric = choose_fabric("auto", settings.nodes, said.append, SEED)
    report = run(settings, fabric, said.append)
    (tmp_path / "report.json").write_text(json.dumps(report, indent=2))
    text = summary(report)
    print(text)  # shown by pytest -s, and in the failure below
    ran = set(report["faults"]["injected_by_kind"])
    skipped = set(report["environment"]["skipped_kinds"])
    allowed = {*PROCESS_KINDS, *fabric.kinds, "disk"} - skipped
    assert ran == allowed, text
    assert report["faults"]["errors"] == 0, text
    assert report["requests"]["acknowledged"] > 100, text
    assert report["ok"], text
