"""``iomtshare authority issue-keys`` against real nodes: a member's attribute key for its current
on-chain attributes, published on chain and fetched by the member from any node, reissued
(by ``authority attributes`` itself) after an attribute change, opens exactly what those
attributes allow."""

from __future__ import annotations

from pathlib import Path

import pytest

from client import NodeClient, load_member
from client.attribute_keys import AttributeKeyError, IssuedAttributeKey, fetch_attribute_key
from client.keystore import load_attribute_key
from client.session import Session
from crypto.abe import UnsatisfiedPolicyError, open_envelope, seal
from crypto.groups import Group, load_group
from crypto.policy import parse
from ledger.authority_keys import authority_keys
from tests.cli.live_cli import member_id_of, ok_json, run
from tests.client.live_network import LiveNetwork


def fetched(url: str, group: Group, member_id: bytes) -> IssuedAttributeKey:
    with NodeClient(url) as client:
        return fetch_attribute_key(Session(client, group), member_id)


def test_issued_keys_follow_the_members_attributes(live: LiveNetwork, tmp_path: Path) -> None:
    group = load_group("mcl")
    keys = authority_keys(live.network.genesis, group)
    assert keys is not None
    fame_public = keys.fame
    authority_dir, key_file = live.network.authority_dir, str(live.network.authority_key_path)
    doctor = str(tmp_path / "doctor")
    ok_json("client", "keygen", "--member", doctor, "--role", "requester")
    ok_json("authority", "register", doctor, "--key", key_file, "--node", live.url,
            "--attr", "role:doctor", "--attr", "dept:cardiology")

    issued = ok_json("authority", "issue-keys", doctor, "--authority-dir", str(authority_dir),
                     "--node", live.url)
    assert issued["attributes"] == ["dept:cardiology", "role:doctor"]
    assert issued["out"] == str(Path(doctor) / "attribute_key")
    member = load_member(doctor, group)
    first, key = load_attribute_key(doctor, member, group)
    first.verify(live.network.authority_key().verify_key)
    assert first.chain_id == live.network.chain_id
    # Published on chain: any node serves it to the member's client.
    assert issued["height"] >= 1
    assert fetched(live.urls[2], group, member.member_id) == first

    cardiology = seal(fame_public, parse("role:doctor and (dept:cardiology or trial:x)"), b"a")
    nurses = seal(fame_public, parse("role:nurse or 2 of (dept:oncology, trial:x, site:z)"), b"b")
    assert open_envelope(fame_public, key, cardiology) == b"a"
    with pytest.raises(UnsatisfiedPolicyError):
        open_envelope(fame_public, key, nurses)

    # The doctor leaves cardiology and joins a trial: `attributes` reissues and publishes the
    # key itself (the FAME master key sits next to the authority key of a testnet).
    changed = ok_json("authority", "attributes", doctor, "--key", key_file, "--node", live.url,
                      "--attr", "role:doctor", "--attr", "trial:x")
    assert changed["attribute_key"].startswith("reissued for link 1")
    published = fetched(live.urls[1], group, member.member_id)
    assert (published.attribute_seq, published.attributes) == (1, ("role:doctor", "trial:x"))
    again = ok_json("authority", "issue-keys", member_id_of(doctor), "--authority-dir",
                    str(authority_dir), "--node", live.url, "--out", str(tmp_path / "new.key"))
    assert again["attribute_seq"] == first.attribute_seq + 1
    (Path(doctor) / "attribute_key").write_bytes((tmp_path / "new.key").read_bytes())
    second, new_key = load_attribute_key(doctor, member, group)
    assert second.attributes == ("role:doctor", "trial:x")
    assert second.attribute_head != first.attribute_head
    assert open_envelope(fame_public, new_key, cardiology) == b"a"  # via trial:x now
    only_cardiology = seal(fame_public, parse("role:doctor and dept:cardiology"), b"c")
    with pytest.raises(UnsatisfiedPolicyError):
        open_envelope(fame_public, new_key, only_cardiology)


def test_issue_keys_needs_the_authority_directory(live: LiveNetwork, tmp_path: Path) -> None:
    nobody = str(tmp_path / "nobody")
    ok_json("client", "keygen", "--member", nobody, "--role", "requester")
    empty = tmp_path / "empty"
    empty.mkdir()
    missing = run("authority", "issue-keys", nobody, "--authority-dir", str(empty),
                  "--node", live.url)
    assert missing.exit_code == 1
    assert "authority init" in missing.output
    # A member the chain does not know: the node says so.
    unknown = run("authority", "issue-keys", nobody, "--authority-dir",
                  str(live.network.authority_dir), "--node", live.url)
    assert unknown.exit_code == 1
    assert "not_found" in unknown.output or "no such member" in unknown.output
    assert not (Path(nobody) / "attribute_key").exists()


def test_attributes_say_when_no_master_key_is_at_hand(live: LiveNetwork, tmp_path: Path) -> None:
    group = load_group("mcl")
    nurse = str(tmp_path / "nurse")
    key_file = str(live.network.authority_key_path)
    ok_json("client", "keygen", "--member", nurse, "--role", "requester")
    ok_json("authority", "register", nurse, "--key", key_file, "--node", live.url,
            "--attr", "role:nurse")
    elsewhere = tmp_path / "no-master"
    elsewhere.mkdir()
    changed = ok_json("authority", "attributes", nurse, "--key", key_file, "--node", live.url,
                      "--attr", "role:head-nurse", "--authority-dir", str(elsewhere))
    assert changed["attribute_key"].startswith("not reissued: no fame_master_key")
    with pytest.raises(AttributeKeyError, match="no attribute key is published"):
        fetched(live.url, group, bytes.fromhex(member_id_of(nurse)))
