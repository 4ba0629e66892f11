"""The README's attribute-sharing example, run as written: its shell block goes to bash from the
repository root (a real testnet of node processes), so a step that no longer works fails here."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from testnet.launcher import stop
from tests.cli.test_readme_walkthrough import REPO, walkthrough

HEADING = "## Sharing by attributes"

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def example() -> str:
    return walkthrough(HEADING)


def test_the_example_puts_under_a_policy_without_a_grant() -> None:
    script = example()
    assert "--policy" in script
    assert "client grant" not in script
    assert "authority issue-keys carol" in script


def test_the_readme_policy_example_runs(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IOMTSHARE_")}
    env["TMPDIR"] = str(tmp_path)  # the example's mktemp directory lands under tmp_path
    try:
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", example()],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=540, check=False,
        )
        assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
        assert "carol's copy matches" in done.stdout
        assert "dan was denied" in done.stdout
        assert "carol is denied now" in done.stdout
    finally:
        for network_file in tmp_path.rglob("network.json"):
            stop(network_file.parent, grace=5)
