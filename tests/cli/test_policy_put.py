"""``client put --policy``: a policy that does not parse is refused before any node is asked,
with its position shown, and a non-zero exit status."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import main


@pytest.mark.parametrize(
    ("policy", "position"),
    [("role:doctor and", 15), ("role:doctor or 2 of (dept:x)", 15), ("role doctor", 5)],
)
def test_a_bad_policy_shows_where_and_exits_non_zero(
    tmp_path: Path, policy: str, position: int
) -> None:
    original = tmp_path / "scan.txt"
    original.write_text("ecg")
    result = CliRunner().invoke(
        main,
        ["client", "put", str(original), "--policy", policy, "--member", str(tmp_path / "none"),
         # Nothing listens there: the policy must be refused before any connection is tried.
         "--node", "http://127.0.0.1:9"],
    )
    assert result.exit_code == 1, result.output
    assert f"at position {position}" in result.output
    assert f"  {policy}\n  {' ' * position}^" in result.output
    assert "ConnectionFailed" not in result.output


def test_policy_cannot_change_on_resume(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["client", "put", "--resume", "ab" * 32, "--policy", "role:doctor",
               "--member", str(tmp_path)],
    )
    assert result.exit_code == 2
    assert "--policy" in result.output
