"""``iomtshare device register`` without a network: it is ``authority register-device`` under the
device group (same options, same code), its help says it is the authority's step, and bad
input is refused the same way by both names. The whole flow against real nodes is driven by
``tests/integration/test_device_path.py``."""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from cli.authority_cmd import register_device
from cli.device_cmd import device
from tests.cli.live_cli import ok_json, run

EDGE = "12D3KooWEdgeThatIsNeverAsked"


def _names(command: click.Command) -> list[str]:
    return [param.name or "" for param in command.params]


def test_device_register_is_the_authoritys_register_device() -> None:
    listed = run("device", "--help")
    assert listed.exit_code == 0
    assert "register" in device.commands
    assert " register " in listed.output
    shown = run("device", "register", "--help")
    assert shown.exit_code == 0
    assert "The authority's step" in shown.output
    text = " ".join((device.commands["register"].help or "").split())
    assert "the same command as `iomtshare authority register-device`" in text
    assert "it needs the authority key (--key)" in text
    assert _names(device.commands["register"]) == _names(register_device)
    assert device.commands["register"].callback is register_device.callback


def test_bad_input_is_refused_alike_by_both_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("IOMTSHARE_AUTHORITY_KEY", raising=False)
    device_dir = tmp_path / "dev"
    ok_json("device", "keygen", "--out", str(device_dir))
    base = ["--device-key", str(device_dir), "--owner", "ab" * 32, "--edge", EDGE,
            "--node", "http://127.0.0.1:9"]

    missing = run("device", "register", *base)
    assert missing.exit_code == 2
    assert "Missing option '--key'" in missing.output

    # A missing authority key file: refused before any node is asked (none listens on :9).
    absent = str(tmp_path / "no_authority_key")
    ours = run("device", "register", *base, "--key", absent)
    theirs = run("authority", "register-device", *base, "--key", absent)
    assert ours.exit_code == theirs.exit_code == 1
    assert absent in ours.output
    assert ours.output == theirs.output

    no_device = run("device", "register", *base[2:], "--device-key", str(tmp_path / "none"),
                    "--key", absent)
    assert no_device.exit_code == 2
    assert "--device-key" in no_device.output
