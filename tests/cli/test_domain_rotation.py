"""``iomtshare authority rotate-domain-key`` against real nodes (in this process): a record put
before the rotation and one put after are both readable by an authorized requester, each under
its own epoch, and a PutRecord made for the old epoch is refused once the new one is current."""

from __future__ import annotations

import secrets
from pathlib import Path

import httpx
import pytest

from client import NodeClient, NodeError, load_member
from client.policy_records import NetworkKeys, network_keys, record_context, seal_policy_parts
from client.session import Session, now_ms
from crypto.dual import setup
from crypto.groups import load_group
from crypto.hashing import digest
from crypto.policy import parse
from ledger.record_metadata import RecordMetadata
from ledger.transactions import PutRecord
from node.domain_share import epoch_share_path
from tests.cli.live_cli import make_member, ok_json, run
from tests.client.live_network import LiveNetwork

POLICY = "role:doctor and (dept:cardio or 2 of (trial:x, trial:y, site:z))"


def put(live: LiveNetwork, owner: str, tmp_path: Path, data: bytes) -> str:
    original = tmp_path / f"{secrets.token_hex(4)}.bin"
    original.write_bytes(data)
    stored = ok_json("client", "put", str(original), "--member", owner, "--node", live.url,
                     "--policy", POLICY)
    return str(stored["record_id"])


def read(live: LiveNetwork, member: str, record: str, tmp_path: Path, node: int) -> bytes:
    decision = ok_json("client", "request", record, "--member", member,
                       "--node", live.urls[node])
    assert decision["status"] == "granted"
    out = tmp_path / f"{record[:12]}.out"
    ok_json("client", "fetch", record, str(decision["request_id"]), "--member", member,
            "--node", live.urls[node], "-o", str(out))
    return out.read_bytes()


def test_records_of_both_epochs_stay_readable_after_a_rotation(
    live: LiveNetwork, tmp_path: Path
) -> None:
    key, url = str(live.network.authority_key_path), live.url
    authority_dir = str(live.network.authority_dir)
    owner = make_member(live, tmp_path / "owner", "owner")
    doctor = make_member(live, tmp_path / "doctor", "requester")
    ok_json("authority", "attributes", doctor, "--attr", "role:doctor", "--attr", "trial:x",
            "--attr", "site:z", "--key", key, "--node", url)
    ok_json("authority", "issue-keys", doctor, "--authority-dir", authority_dir, "--node", url)

    before = ok_json("explore", "record", put(live, owner, tmp_path, b"old " * 300),
                     "--node", url)
    epochs = ok_json("authority", "rotate-domain-key", "--key", key, "--node", url,
                     "--reason", "yearly")
    old_epoch = before["domain_epoch"]
    assert epochs["epoch"] == old_epoch + 1
    assert epochs["threshold"] == live.network.genesis.threshold
    after = ok_json("explore", "record", put(live, owner, tmp_path, b"new " * 300),
                    "--node", url)
    assert after["domain_epoch"] == epochs["epoch"]

    # Both through a node other than the one that took the rotation.
    assert read(live, doctor, before["record_id"], tmp_path, 2) == b"old " * 300
    assert read(live, doctor, after["record_id"], tmp_path, 3) == b"new " * 300
    # The t or more nodes that answered keep their share of the new epoch in their homes.
    kept = [
        node.index for node in live.network.nodes
        if epoch_share_path(live.network.directory / node.home, epochs["epoch"]).exists()
    ]
    assert len(kept) >= live.network.genesis.threshold

    with NodeClient(url) as client:
        listed = client.domain_keys()
    assert listed["current"] == epochs["epoch"]
    assert [e["epoch"] for e in listed["epochs"]][-2:] == [old_epoch, epochs["epoch"]]
    with httpx.Client(base_url=live.urls[1], timeout=30) as api:
        one = api.get(f"/domain-keys/{epochs['epoch']}").json()
        assert one == listed["epochs"][-1]
        assert (one["public_key"], one["tx_id"]) == (epochs["public_key"], epochs["tx_id"])
        assert api.get(f"/domain-keys/{epochs['epoch'] + 5}").status_code == 404
        assert api.get("/domain-keys/0").json()["tx_id"] is None
    shown = ok_json("explore", "domain-keys", "--node", url)
    assert [(e["epoch"], e["current"]) for e in shown][-2:] == [
        (old_epoch, False), (epochs["epoch"], True)
    ]


def test_a_put_record_under_the_old_epoch_is_refused(live: LiveNetwork, tmp_path: Path) -> None:
    key, url = str(live.network.authority_key_path), live.url
    owner_dir = make_member(live, tmp_path / "owner", "owner")
    ok_json("authority", "rotate-domain-key", "--key", key, "--node", url)
    group = load_group("mcl")
    owner = load_member(owner_dir, group)
    with NodeClient(url) as client:
        session = Session(client, group)
        current = client.domain_keys()["current"]
        # What an owner that missed the rotation makes: K_pre under the genesis epoch.
        stale = network_keys(session.genesis, group)
        assert stale.domain.epoch < current
        record_id = digest(b"test/stale-record", secrets.token_bytes(16))
        metadata = RecordMetadata(b"k" * 32, b"d" * 32, 10, b"c" * 32, "stale.bin")
        parts = seal_policy_parts(
            setup(group), NetworkKeys(stale.fame, stale.domain), parse(POLICY),
            record_context(record_id, owner.member_id, session.chain_id), metadata,
        )
        tx = PutRecord(
            record_id=record_id, owner=owner.member_id, keywords_hash=bytes(32), policy=POLICY,
            access_limit=1, metadata_ciphertext=b"m", storage_commitments=b"",
            abe_ciphertext=parts.abe_ciphertext, domain_epoch=parts.domain_epoch,
            domain_ciphertext=parts.domain_ciphertext, created_at_ms=now_ms(),
        )
        with pytest.raises(NodeError) as refused:
            session.submit(session.sign(tx, owner.signing_key))
    assert refused.value.status == 400
    assert f"the current epoch is {current}" in refused.value.message


def test_rotate_domain_key_refuses_a_threshold_below_the_networks(live: LiveNetwork) -> None:
    result = run("authority", "rotate-domain-key", "--key", str(live.network.authority_key_path),
                 "--node", live.url, "--threshold", "1")
    assert result.exit_code == 1
    assert "at least the network's" in result.output
