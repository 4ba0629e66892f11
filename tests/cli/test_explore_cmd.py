"""``explore`` and ``authority attributes`` against real nodes: member directories wherever a
member id goes, filters that work, a destructive default refused, tables for an 80-column
terminal (short ids, UTC times, newest blocks first) and ``--wide`` for full ids."""

from __future__ import annotations

import re
from pathlib import Path

from tests.cli.live_cli import HEX_ID, make_member, member_id_of, ok_json, run, shared_record
from tests.client.live_network import LiveNetwork

UTC_TIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ")
EPOCH_MS = re.compile(r"\b1\d{12}\b")


def test_member_directories_are_accepted_wherever_a_member_id_is(
    tmp_path: Path, live: LiveNetwork
) -> None:
    alice, bob, record = shared_record(live, tmp_path, b"bp 120/80\n")
    url, key = live.url, str(live.network.authority_key_path)
    ok_json("client", "request", record, "--member", bob, "--node", url)
    alice_id, bob_id = member_id_of(alice), member_id_of(bob)

    members = ok_json("explore", "members", alice, str(Path(bob, "member.json")), "--node", url)
    assert [m["member_id"] for m in members] == [alice_id, bob_id]
    assert ok_json("explore", "attributes", bob, "--node", url)[-1]["attributes"] == [
        "role:requester"
    ]
    assert [r["record_id"] for r in ok_json("explore", "records", "--owner", alice,
                                            "--node", url)] == [record]
    audit = ok_json("explore", "audit", "--requester", bob, "--node", url)
    assert [(e["record_id"], e["requester"]) for e in audit] == [(record, bob_id)]
    changed = ok_json("authority", "attributes", bob, "--attr", "role:nurse", "--key", key,
                      "--node", url)
    assert changed["member_id"] == bob_id
    assert ok_json("explore", "attributes", bob_id, "--node", url)[-1]["attributes"] == [
        "role:nurse"
    ]

    missing = run("explore", "members", str(tmp_path / "nobody"), "--node", url)
    assert missing.exit_code == 2
    assert "member id" in missing.output


def test_audit_heights_apply_to_record_and_requester_queries(
    tmp_path: Path, live: LiveNetwork
) -> None:
    _, bob, record = shared_record(live, tmp_path, b"ecg\n" * 50)
    url = live.url
    first = ok_json("client", "request", record, "--member", bob, "--node", url)["height"]
    second = ok_json("client", "request", record, "--member", bob, "--node", url)["height"]
    assert first < second

    def heights(*args: str) -> list[int]:
        return [int(e["height"]) for e in ok_json("explore", "audit", *args, "--node", url)]

    assert heights("--record", record) == [first, second]
    assert heights("--record", record, "--from", str(second)) == [second]
    assert heights("--record", record, "--to", str(first)) == [first]
    assert heights("--requester", bob, "--from", str(first + 1)) == [second]
    assert heights("--record", record, "--requester", bob, "--to", str(second - 1)) == [first]
    assert heights("--from", str(first), "--to", str(first)) == [first]


def test_authority_attributes_refuses_to_wipe_without_clear(
    tmp_path: Path, live: LiveNetwork
) -> None:
    bob = make_member(live, tmp_path / "bob", "requester")
    url, key = live.url, str(live.network.authority_key_path)
    nothing = run("authority", "attributes", bob, "--key", key, "--node", url)
    assert nothing.exit_code == 2
    assert "--clear" in nothing.output
    assert ok_json("explore", "attributes", bob, "--node", url)[-1]["attributes"] == [
        "role:requester"
    ]
    both = run("authority", "attributes", bob, "--clear", "--attr", "x", "--key", key,
               "--node", url)
    assert both.exit_code == 2
    ok_json("authority", "attributes", bob, "--clear", "--reason", "left", "--key", key,
            "--node", url)
    assert ok_json("explore", "attributes", bob, "--node", url)[-1]["attributes"] == []


def test_tables_fit_80_columns_with_short_ids_and_utc_times(
    tmp_path: Path, live: LiveNetwork
) -> None:
    alice, bob, record = shared_record(live, tmp_path, b"weight 71\n")
    url = live.url
    decision = ok_json("client", "request", record, "--member", bob, "--node", url)
    request_id = decision["request_id"]
    views = [
        ("status",), ("blocks",), ("block", str(decision["height"])), ("tx", request_id),
        ("record", record), ("records", "--owner", alice), ("audit", "--record", record),
        ("attributes", bob), ("members", alice, bob), ("peers",), ("blacklist",), ("verify",),
    ]
    for view in views:
        shown = run("explore", *view, "--node", url)
        assert shown.exit_code == 0, shown.output
        too_wide = [line for line in shown.stdout.splitlines() if len(line) > 80]
        assert not too_wide, (view, too_wide)
        assert not EPOCH_MS.search(shown.stdout), (view, shown.stdout)

    table = run("explore", "audit", "--record", record, "--node", url).stdout
    assert request_id not in table
    assert request_id[:8] in table
    wide = run("explore", "audit", "--record", record, "--node", url, "--wide").stdout
    assert request_id in wide
    assert record in wide
    shown_record = run("explore", "record", record, "--node", url).stdout
    assert UTC_TIME.search(shown_record), shown_record
    assert record in shown_record  # a key/value view keeps the id whole, to be copied
    blocks = run("explore", "blocks", "--node", url).stdout
    assert UTC_TIME.search(blocks), blocks


def test_blocks_are_listed_newest_first(live: LiveNetwork) -> None:
    head = int(ok_json("explore", "status", "--node", live.url)["height"])
    assert head >= 3
    heights = [b["height"] for b in ok_json("explore", "blocks", "--limit", "3",
                                            "--node", live.url)]
    assert heights[0] >= head
    assert heights == sorted(heights, reverse=True)
    assert len(heights) == 3
    ranged = [b["height"] for b in ok_json("explore", "blocks", "--from", "1", "--to", "3",
                                           "--node", live.url)]
    assert ranged == [3, 2, 1]


def test_node_address_without_scheme_is_taken_as_http(live: LiveNetwork) -> None:
    bare = live.url.removeprefix("http://")
    shown = ok_json("explore", "status", "--node", bare)
    assert shown["chain_id"] == live.network.chain_id
    assert HEX_ID.search(str(shown["head_hash"]))
