"""Helpers of the CLI tests that run against real nodes (tests/client/live_network.py).

``run`` invokes the ``iomtshare`` command in this process with click's runner; stdout and
stderr are kept apart (``result.stdout``, ``result.stderr``), as a shell keeps them, so a
command's notes on stderr never spoil the JSON it prints on stdout.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from cli.main import main
from tests.client.live_network import LiveNetwork

HEX_ID = re.compile(r"\b[0-9a-f]{64}\b")


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False, env=env)


def ok_json(*args: str) -> Any:
    """Run a command with ``--json``; assert it succeeded and return what it printed."""
    result = run(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def member_id_of(member_dir: str | Path) -> str:
    document = json.loads(Path(member_dir, "member.json").read_text())
    return str(document["member_id"])


def make_member(live: LiveNetwork, directory: Path, role: str) -> str:
    """Keys in ``directory``, registered with the attribute ``role:ROLE``, TPRE key published."""
    member, url = str(directory), live.url
    ok_json("client", "keygen", "--member", member, "--role", role)
    ok_json("authority", "register", member, "--key", str(live.network.authority_key_path),
            "--node", url, "--attr", f"role:{role}")
    ok_json("client", "publish-key", "--member", member, "--node", url)
    return member


def shared_record(live: LiveNetwork, tmp_path: Path, data: bytes) -> tuple[str, str, str]:
    """An owner and a requester, a stored record and a grant: (owner dir, requester dir, id)."""
    alice = make_member(live, tmp_path / "alice", "owner")
    bob = make_member(live, tmp_path / "bob", "requester")
    original = tmp_path / "scan.txt"
    original.write_bytes(data)
    stored = ok_json("client", "put", str(original), "--member", alice, "--node", live.url)
    record = str(stored["record_id"])
    ok_json("client", "grant", record, bob, "--member", alice, "--node", live.url)
    return alice, bob, record
