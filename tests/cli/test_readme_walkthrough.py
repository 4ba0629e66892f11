"""The README's walkthrough, run as written: its shell block goes to bash from the repository
root, so it starts a real testnet of node processes, makes both members, shares a file and
compares the copy. A README step that no longer works fails this test."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from testnet.launcher import stop

REPO = Path(__file__).resolve().parents[2]
HEADING = "## Walkthrough"

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def walkthrough(heading: str = HEADING) -> str:
    """The first ```sh block after ``heading`` (the walkthrough's) of README.md."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    assert heading in text, f"README.md has no {heading!r} section"
    section = text.split(heading, 1)[1]
    assert "```sh\n" in section, f"{heading!r} has no ```sh block"
    return section.split("```sh\n", 1)[1].split("```", 1)[0]


def test_the_walkthrough_says_where_the_command_lives() -> None:
    script = walkthrough()
    assert '.venv/bin:$PATH"' in script
    for step in ("client keygen --member bob", "authority register bob",
                 "client publish-key --member bob"):
        assert step in script, f"the walkthrough never runs `{step}`"


def test_the_readme_walkthrough_runs(tmp_path: Path) -> None:
    script = walkthrough()
    # The walkthrough makes its scratch directory with mktemp: TMPDIR puts it under tmp_path.
    env = {k: v for k, v in os.environ.items() if not k.startswith("IOMTSHARE_")}
    env["TMPDIR"] = str(tmp_path)
    try:
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=540, check=False,
        )
        assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
        assert "bob's copy matches" in done.stdout
        assert "granted" in done.stdout
    finally:
        for network_file in tmp_path.rglob("network.json"):
            stop(network_file.parent, grace=5)
