"""`iomtshare client fetch -o FILE` writes decrypted medical data for its owner's eyes only.

The network side is stubbed (the sharing flow itself is tested against real nodes in
test_cli_commands.py): this is about the file the command leaves behind, under a umask that
would make a plain write world-readable, and over a symlink someone planted at FILE.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from click.testing import CliRunner

import cli.client_cmd
import client.requester
from cli.main import main

DATA = b"systolic,diastolic\n120,80\n"


@contextmanager
def no_session(node_url: str, backend: str | None) -> Iterator[object]:
    yield object()


@pytest.fixture
def stubbed_network(monkeypatch: pytest.MonkeyPatch) -> None:
    metadata = SimpleNamespace(name="bp.csv", file_digest=b"\x01" * 32)
    monkeypatch.setattr(cli.client_cmd, "open_session", no_session)
    monkeypatch.setattr(cli.client_cmd, "_load", lambda *args: object())
    decision = SimpleNamespace(warning=None)
    monkeypatch.setattr(client.requester, "wait_decision", lambda *args: decision)
    monkeypatch.setattr(
        client.requester, "fetch_and_decrypt", lambda *args, **kwargs: (DATA, metadata)
    )


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    previous = os.umask(0o002)
    try:
        yield
    finally:
        os.umask(previous)


def fetch_to(output: Path) -> Any:
    args = ["client", "fetch", "ab" * 32, "cd" * 32, "--member", str(output.parent),
            "--node", "http://127.0.0.1:9", "-o", str(output)]
    return CliRunner().invoke(main, args, catch_exceptions=False)


def test_decrypted_data_is_written_0600(
    tmp_path: Path, stubbed_network: None, permissive_umask: None
) -> None:
    output = tmp_path / "bp.csv"
    result = fetch_to(output)
    assert result.exit_code == 0, result.output
    assert output.read_bytes() == DATA
    assert stat.S_IMODE(output.stat().st_mode) == 0o600


def test_an_existing_readable_file_or_symlink_is_replaced_not_reused(
    tmp_path: Path, stubbed_network: None, permissive_umask: None
) -> None:
    existing = tmp_path / "old.csv"
    existing.write_bytes(b"old")
    existing.chmod(0o664)
    assert fetch_to(existing).exit_code == 0
    assert stat.S_IMODE(existing.stat().st_mode) == 0o600
    elsewhere = tmp_path / "shared.csv"
    elsewhere.write_bytes(b"untouched")
    link = tmp_path / "link.csv"
    link.symlink_to(elsewhere)
    assert fetch_to(link).exit_code == 0
    assert elsewhere.read_bytes() == b"untouched"
    assert not link.is_symlink()
    assert link.read_bytes() == DATA
