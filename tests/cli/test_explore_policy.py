"""The explorer of issue 13 against real nodes, through their HTTP app: ``explore record`` shows a
record's kind, policy and each requester's accesses against the access limit, ``explore
attributes`` each attribute change linked and with the authority's signature checked, and
``explore records --keyword`` finds records by H(keywords)."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.cli.live_cli import make_member, member_id_of, ok_json, run, shared_record
from tests.client.live_network import LiveNetwork


def test_explore_record_shows_the_policy_and_accesses_against_the_limit(
    tmp_path: Path, live: LiveNetwork
) -> None:
    url = live.url
    _, bob, record = shared_record(live, tmp_path, b"spo2 97\n")
    ok_json("client", "request", record, "--member", bob, "--node", url)
    shown = ok_json("explore", "record", record, "--node", url)
    assert (shown["kind"], shown["policy"]) == ("owner-grant", None)
    assert shown["accesses"] == [
        {"requester": member_id_of(bob), "count": 1, "of_limit": f"1/{shown['access_limit']}"}
    ]
    owner = make_member(live, tmp_path / "carol", "owner")
    scan = tmp_path / "scan.bin"
    scan.write_bytes(b"mri " * 100)
    put = ok_json("client", "put", str(scan), "--member", owner, "--node", url,
                  "--policy", "role:doctor and (dept:cardio or 2 of (trial:x, trial:y, site:z))",
                  "--access-limit", "3", "--keyword", "mri", "--keyword", "trial-x")
    policy_record = ok_json("explore", "record", str(put["record_id"]), "--node", live.urls[3])
    assert policy_record["kind"] == "policy"
    assert policy_record["policy"].startswith("role:doctor and (")
    assert (policy_record["access_limit"], policy_record["accesses"]) == (3, [])
    # A doctor whose attributes satisfy the policy is granted without any grant: counted too.
    doctor = make_member(live, tmp_path / "doc", "requester")
    ok_json("authority", "attributes", doctor, "--attr", "role:doctor", "--attr", "dept:cardio",
            "--key", str(live.network.authority_key_path), "--node", url)
    decision = ok_json("client", "request", str(put["record_id"]), "--member", doctor,
                       "--node", url)
    assert decision["status"] == "granted"
    counted = ok_json("explore", "record", str(put["record_id"]), "--node", url)["accesses"]
    assert counted == [{"requester": member_id_of(doctor), "count": 1, "of_limit": "1/3"}]
    table = run("explore", "record", str(put["record_id"]), "--node", url).stdout
    assert "policy" in table
    assert "role:doctor" in table


def test_explore_records_finds_by_keyword_hash(tmp_path: Path, live: LiveNetwork) -> None:
    url = live.url
    owner = make_member(live, tmp_path / "dave", "owner")
    ids = {}
    for name, keywords in (("a", ["holter", "night"]), ("b", ["holter"])):
        data = tmp_path / name
        data.write_bytes(name.encode() * 64)
        flags = [item for keyword in keywords for item in ("--keyword", keyword)]
        ids[name] = ok_json("client", "put", str(data), "--member", owner, "--node", url, *flags)[
            "record_id"
        ]
    # H(kws) is over the keyword set: order does not matter, a subset is another hash.
    found = ok_json("explore", "records", "--keyword", "night", "--keyword", "holter",
                    "--node", live.urls[1])
    assert [r["record_id"] for r in found] == [ids["a"]]
    assert [r["record_id"] for r in ok_json("explore", "records", "--keyword", "holter",
                                            "--node", url)] == [ids["b"]]
    assert ok_json("explore", "records", "--keyword", "nothing-like-it", "--node", url) == []


def test_explore_attributes_links_each_change_and_checks_its_signature(
    tmp_path: Path, live: LiveNetwork
) -> None:
    url, key = live.url, str(live.network.authority_key_path)
    erin = make_member(live, tmp_path / "erin", "requester")
    ok_json("authority", "attributes", erin, "--attr", "role:doctor", "--attr", "dept:cardio",
            "--key", key, "--node", url)
    ok_json("authority", "attributes", erin, "--attr", "role:doctor", "--key", key,
            "--reason", "left cardiology", "--node", url)
    chain = ok_json("explore", "attributes", erin, "--node", live.urls[2])
    assert [link["seq"] for link in chain] == [0, 1, 2]
    assert [sorted(link["attributes"]) for link in chain] == [
        ["role:requester"], ["dept:cardio", "role:doctor"], ["role:doctor"]
    ]
    assert all(link["linked"] for link in chain)
    assert all(link["signature"] == "valid" for link in chain)
    assert [link["prev_hash"] for link in chain[1:]] == [link["hash"] for link in chain[:-1]]
    assert chain[2]["reason"] == "left cardiology"
    table = run("explore", "attributes", erin, "--node", url).stdout
    assert "valid" in table
    # The same through the node's HTTP API directly.
    with httpx.Client(base_url=url, timeout=30) as api:
        history = api.get(f"/members/{member_id_of(erin)}/attributes").json()["history"]
    assert [(h["linked"], h["signature"]) for h in history] == [(True, "valid")] * 3
