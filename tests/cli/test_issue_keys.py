"""``iomtshare authority issue-keys`` against real nodes: a member's attribute key for its current
on-chain attributes, reissued after an attribute change, opens exactly what those attributes
allow."""

from __future__ import annotations

from pathlib import Path

import pytest

from client import load_member
from client.keystore import load_attribute_key
from crypto.abe import UnsatisfiedPolicyError, open_envelope, seal
from crypto.groups import load_group
from crypto.policy import parse
from ledger.authority_keys import authority_keys
from tests.cli.live_cli import member_id_of, ok_json, run
from tests.client.live_network import LiveNetwork


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

    cardiology = seal(fame_public, parse("role:doctor and (dept:cardiology or trial:x)"), b"a")
    nurses = seal(fame_public, parse("role:nurse or 2 of (dept:oncology, trial:x, site:z)"), b"b")
    assert open_envelope(fame_public, key, cardiology) == b"a"
    with pytest.raises(UnsatisfiedPolicyError):
        open_envelope(fame_public, key, nurses)

    # The doctor leaves cardiology and joins a trial: the reissued key follows the chain.
    ok_json("authority", "attributes", doctor, "--key", key_file, "--node", live.url,
            "--attr", "role:doctor", "--attr", "trial:x")
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
