"""Crash safety: a writer SIGKILLed at random points leaves every block whole or absent.

Each run starts the writer in a fresh LevelDB directory, lets it report a random number of
applied blocks, kills it with SIGKILL, then reopens the ledger (which verifies it) and compares
every key with a reference ledger built in memory from the same deterministic workload: the
database must equal the reference at exactly one height, the last reported or the one after.
A second writer then resumes in the same directory and is killed again, so recovery after a
crash is exercised too.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ledger.kv import MemoryStore
from ledger.ledger import Ledger
from tests.ledger.crash_writer import fixture, workload

LAST_HEIGHT = 30
RUNS = 30
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def reference() -> list[dict[bytes, bytes]]:
    """The full key-value content of the ledger after each height 0..LAST_HEIGHT."""
    fx = fixture()
    ledger = Ledger.from_store(MemoryStore(), fx.genesis)
    states = [dict(ledger.store.iterate())]
    for height in range(1, LAST_HEIGHT + 1):
        fx.commit(ledger, *workload(fx, height))
        states.append(dict(ledger.store.iterate()))
    return states


def run_and_kill(path: Path, rng: random.Random) -> int:
    """Start the writer, SIGKILL it after a random number of reported blocks; return the last
    height it reported (durable) or -1 if it reported none."""
    wait_for = rng.randrange(0, LAST_HEIGHT // 2)
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.ledger.crash_writer", str(path), str(LAST_HEIGHT)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.stdout is not None
    reported = -1
    try:
        for _ in range(wait_for):
            line = proc.stdout.readline()
            if not line:
                break
            reported = int(line)
        # Random jitter so the kill lands anywhere inside building, validating or writing the
        # next block; this is not waiting for an event, the writer keeps running regardless.
        time.sleep(rng.uniform(0, 0.02))
        proc.send_signal(signal.SIGKILL)
        remaining, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    for line in remaining.split():
        reported = int(line)  # lines written before the kill but not read yet
    return reported


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(RUNS))
def test_sigkill_leaves_whole_blocks(
    seed: int, tmp_path: Path, reference: list[dict[bytes, bytes]]
) -> None:
    rng = random.Random(seed)
    path = tmp_path / "ledger"
    fx = fixture()
    previous = 0
    for _ in range(2):  # crash, recover, crash again
        reported = run_and_kill(path, rng)
        if not path.exists():
            continue  # killed before LevelDB created the directory
        with Ledger.open(path, fx.genesis) as ledger:  # verifies the whole chain
            height = ledger.height
            content = dict(ledger.store.iterate())
        durable = max(reported, previous)
        assert durable <= height <= durable + 1
        assert content == reference[height], f"state at height {height} is not whole"
        previous = height
