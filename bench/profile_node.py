"""Profile one node of a fresh testnet with py-spy under a sustained request rate.

``python -m bench.profile_node OUT [--rate R] [--duration S] [--node I]`` starts a 4-node
testnet in ``OUT/testnet``, prepares the ``bench e2e`` fixture, makes a few sequential requests
(the first ones fill per-record caches), then runs one step of the open-loop load of
:mod:`bench.load` at ``R`` requests/s while ``py-spy record`` samples node ``I`` (100 Hz, raw
format) from 2 s after the warm-up for ``S - 4`` seconds. It writes ``OUT/node{I}.raw``,
``OUT/summary.json`` (:mod:`bench.profile_summary`) and ``OUT/load.json`` (the load step's
figures and the machine's load averages before and after), and prints both summaries.
py-spy comes with the ``bench`` extra.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

from bench import profile_summary
from bench.e2e_fixture import Requester, prepare
from bench.e2e_load import node_pids, sustained
from bench.load import LoadPlan, table
from crypto.groups import load_group
from testnet.launcher import stop, up

WARMUP_S = 8.0
WARM_REQUESTS = 8


def _py_spy() -> str:
    found = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(found).exists():
        raise SystemExit("py-spy is not installed (pip install -e '.[bench]')")
    return found


def _record(spy: str, pid: int, seconds: int, out: Path) -> None:
    time.sleep(WARMUP_S + 2)
    with open(out.with_suffix(".log"), "w") as log:
        subprocess.run(
            [spy, "record", "--pid", str(pid), "--duration", str(seconds), "--rate", "100",
             "--format", "raw", "--nonblocking", "-o", str(out)],
            check=False, stdout=subprocess.DEVNULL, stderr=log,
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--rate", type=int, default=5)
    parser.add_argument("--duration", type=float, default=40.0)
    parser.add_argument("--node", type=int, default=1)
    args = parser.parse_args(argv)
    spy = _py_spy()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    group = load_group()
    root = out / "testnet"
    params = {"block_interval_ms": 100, "round_timeout_ms": 1000}
    network = up(root, 4, timeout=120, overwrite=True, genesis_params=params)
    raw = out / f"node{args.node}.raw"
    try:
        fixture = prepare(network, group, 5, 4096)
        warm = Requester(fixture, group, 0)
        try:
            for i in range(WARM_REQUESTS):
                warm.run(fixture.requesters[i % len(fixture.requesters)], False, 60)
        finally:
            warm.close()
        pid = node_pids(network)[f"node{args.node}"]
        seconds = max(1, int(args.duration) - 4)
        recorder = threading.Thread(target=_record, args=(spy, pid, seconds, raw))
        recorder.start()
        before = os.getloadavg()
        plan = LoadPlan((args.rate,), args.duration, WARMUP_S)
        figures = sustained(fixture, group, plan)
        after = os.getloadavg()
        recorder.join()
    finally:
        stop(root)
    summary = profile_summary.summarize(profile_summary.parse(raw.read_text()), 20)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    (out / "load.json").write_text(json.dumps(
        {"figures": figures, "loadavg_before": before, "loadavg_after": after}, indent=2) + "\n")
    print(table(figures))
    print(f"load average before {before}, after {after}")
    return profile_summary.main([str(raw)])


if __name__ == "__main__":
    sys.exit(main())
