"""The blacklist through the CLI against real nodes: warnings before it, refusal while on it,
``authority unblacklist`` lifting it (on the audit chain), access back afterwards.

Before: five denials blacklisted a member for good, without a word beforehand.
"""

from __future__ import annotations

from pathlib import Path

from tests.cli.live_cli import make_member, member_id_of, ok_json, run
from tests.client.live_network import LiveNetwork


def test_warned_blacklisted_and_unblacklisted(tmp_path: Path, live: LiveNetwork) -> None:
    url, key = live.url, str(live.network.authority_key_path)
    limit = live.network.genesis.denial_limit
    alice = make_member(live, tmp_path / "alice", "owner")
    mallory = make_member(live, tmp_path / "mallory", "requester")
    original = tmp_path / "notes.txt"
    original.write_bytes(b"cardiology notes\n")
    record = str(ok_json("client", "put", str(original), "--member", alice, "--node", url)[
        "record_id"
    ])

    # Not granted: every request is denied, and the last denials before the blacklist warn.
    warnings = []
    for _ in range(limit):
        denied = run("client", "request", record, "--member", mallory, "--node", url)
        assert denied.exit_code == 1, denied.output
        assert "request denied" in denied.stderr
        warnings.append([line for line in denied.stderr.splitlines() if "warning:" in line])
    assert warnings[0] == []  # plenty left: no noise
    assert warnings[-3] == [
        f"warning: {limit - 2} of {limit} denials used: 2 more denied requests and this member "
        "is blacklisted"
    ]
    assert "1 more denied request and" in warnings[-2][0]
    assert "blacklisted since block" in warnings[-1][0]
    assert "iomtshare authority unblacklist" in warnings[-1][0]

    refused = run("client", "request", record, "--member", mallory, "--node", url)
    assert refused.exit_code == 1
    assert "blacklisted" in refused.output
    mallory_id = member_id_of(mallory)
    assert ok_json("explore", "members", mallory, "--node", url)[0]["blacklisted"] is True

    # Only the authority lifts it: another key is refused before anything is sent.
    other_key = tmp_path / "not_the_authority"
    ok_json("authority", "init", "--key", str(other_key))
    forged = run("authority", "unblacklist", mallory, "--reason", "let me in",
                 "--key", str(other_key), "--node", url)
    assert forged.exit_code == 1
    assert "not the authority" in forged.output
    no_reason = run("authority", "unblacklist", mallory, "--reason", " ", "--key", key,
                    "--node", url)
    assert no_reason.exit_code == 2

    lifted = ok_json("authority", "unblacklist", mallory, "--reason",
                     "denials came from a misconfigured client", "--key", key, "--node", url)
    assert lifted["member_id"] == mallory_id
    assert lifted["height"] > lifted["blacklisted_height"]
    again = run("authority", "unblacklist", mallory, "--reason", "twice", "--key", key,
                "--node", url)
    assert again.exit_code == 1
    assert "not blacklisted" in again.output

    # On the audit chain, after the denials, on every node.
    for node_url in live.urls:
        audit = ok_json("explore", "audit", "--requester", mallory, "--node", node_url,
                        "--wide")
        assert [e["decision"] for e in audit] == ["denied"] * limit + ["unblacklisted"]
        assert audit[-1]["request_id"] == lifted["tx_id"]
        assert audit[-1]["height"] == lifted["height"]
    assert ok_json("explore", "members", mallory, "--node", url)[0]["blacklisted"] is False

    # Access is back, with a fresh denial count.
    ok_json("client", "grant", record, mallory, "--member", alice, "--node", url)
    granted = run("client", "request", record, "--member", mallory, "--node", url, "--json")
    assert granted.exit_code == 0, granted.output
    assert "warning" not in granted.stderr
