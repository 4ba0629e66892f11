"""docs/http-api.md's example of both sharing paths through the client library, run as written
against real nodes (tests/client/live_network.py) with the members it assumes; and where the
member's attribute key comes from (the chain, else the member's file)."""

from __future__ import annotations

from pathlib import Path

import pytest

from client import KeyStoreError, MemberKeys, NodeClient, save_member
from client.attribute_keys import issue_attribute_key, publish_attribute_key
from client.authority import register_member
from client.keystore import save_issued_key
from client.member import publish_tpre_key
from client.policy_records import member_attribute_key
from client.session import Session
from crypto.groups import load_group
from node.ceremony import load_fame_master
from tests.client.live_network import live_network

REPO = Path(__file__).resolve().parents[2]
HEADING = "## Two ways to share a record"


def example() -> str:
    section = (REPO / "docs" / "http-api.md").read_text(encoding="utf-8").split(HEADING, 1)[1]
    return section.split("```python\n", 1)[1].split("```", 1)[0]


def test_the_documented_example_shares_by_grant_and_by_policy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    group = load_group("mcl")
    with live_network(tmp_path / "net", 4, threshold=3) as live:
        session = Session(NodeClient(live.url), group)
        authority = live.network.authority_key()
        attributes = {"alice": ("role:owner",), "bob": ("role:nurse",),
                      "carol": ("role:doctor", "site:z")}
        members = {}
        for name, attrs in attributes.items():
            members[name] = keys = MemberKeys.generate(group)
            save_member(tmp_path / name, keys)
            register_member(session, authority, keys.public(), attributes=attrs)
            publish_tpre_key(session, keys)
        master = load_fame_master(live.network.authority_dir, group)
        issued = issue_attribute_key(session, authority, master, members["carol"].member_id)
        save_issued_key(tmp_path / "carol", issued)
        monkeypatch.chdir(tmp_path)
        scope: dict[str, object] = {"NODE": live.url}
        exec(compile(example(), "docs/http-api.md", "exec"), scope)  # our own docs
        assert scope["data"] == b"ecg 72 bpm"

        # The example's key came from carol's file (none was published); once the authority
        # publishes one, the client takes it from the chain, with no file at all.
        nowhere = tmp_path / "no-key-here"
        nowhere.mkdir()
        with pytest.raises(KeyStoreError, match="no attribute key"):
            member_attribute_key(session, members["carol"], nowhere)
        publish_attribute_key(session, authority, issued)
        key = member_attribute_key(session, members["carol"], nowhere)
        assert key.attributes == frozenset(attributes["carol"])
