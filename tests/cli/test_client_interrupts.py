"""Ctrl-C in the middle of ``client put`` and ``client request``, and what ``client fetch`` says
about a request it cannot use, against real nodes.

Ctrl-C is a KeyboardInterrupt raised where the command waits on the network (the patched call
stands for the moment the user pressed it); the command must say what happened and how to go on,
and exit with 130 as a shell does for SIGINT.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from client import NodeClient
from client.session import Session
from tests.cli.live_cli import HEX_ID, make_member, member_id_of, ok_json, run, shared_record
from tests.client.live_network import LiveNetwork


def press_ctrl_c(*args: object, **kwargs: object) -> None:
    raise KeyboardInterrupt


#: Where the put is interrupted: before the PutRecord is sent, while waiting for its commit,
#: and once committed while the fragments are being uploaded.
INTERRUPTIONS = [
    (Session, "submit"),
    (Session, "wait_committed"),
    (NodeClient, "post_fragments"),
]


@pytest.mark.parametrize(("owner", "method"), INTERRUPTIONS, ids=[m for _, m in INTERRUPTIONS])
def test_an_interrupted_put_says_how_to_resume_and_resumes(
    tmp_path: Path, live: LiveNetwork, monkeypatch: pytest.MonkeyPatch, owner: type, method: str
) -> None:
    alice = make_member(live, tmp_path / "alice", "owner")
    bob = make_member(live, tmp_path / "bob", "requester")
    original = tmp_path / "scan.txt"
    original.write_bytes(b"heart rate 61\n" * 400)
    with monkeypatch.context() as patch:
        patch.setattr(owner, method, press_ctrl_c)
        interrupted = run("client", "put", str(original), "--member", alice, "--node", live.url)
    assert interrupted.exit_code == 130, interrupted.output
    assert "Aborted!" not in interrupted.output
    # The record id was printed before anything was sent, and the way to finish the put.
    ids = HEX_ID.findall(interrupted.stderr)
    assert ids, interrupted.stderr
    record = ids[0]
    assert f"iomtshare client put --resume {record} --member {alice}" in interrupted.stderr

    resumed = ok_json("client", "put", "--resume", record, "--member", alice,
                      "--node", live.url)
    assert resumed["record_id"] == record
    assert resumed["fragments_stored"] == 4
    ok_json("client", "grant", record, bob, "--member", alice, "--node", live.url)
    decision = ok_json("client", "request", record, "--member", bob, "--node", live.url)
    copy = tmp_path / "copy.txt"
    ok_json("client", "fetch", record, decision["request_id"], "--member", bob,
            "--node", live.url, "-o", str(copy))
    assert copy.read_bytes() == original.read_bytes()

    done = run("client", "put", "--resume", record, "--member", alice, "--node", live.url)
    assert done.exit_code == 1
    assert "no unfinished upload" in done.stderr


def test_put_needs_a_file_or_resume(tmp_path: Path, live: LiveNetwork) -> None:
    neither = run("client", "put", "--member", str(tmp_path / "m"), "--node", live.url)
    assert neither.exit_code == 2
    assert "--resume" in neither.output


def test_an_interrupted_request_prints_its_id_first(
    tmp_path: Path, live: LiveNetwork, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, bob, record = shared_record(live, tmp_path, b"spo2 97\n" * 100)
    with monkeypatch.context() as patch:
        patch.setattr("client.requester.wait_decision", press_ctrl_c)
        interrupted = run("client", "request", record, "--member", bob, "--node", live.url)
    assert interrupted.exit_code == 130, interrupted.output
    request_ids = [found for found in HEX_ID.findall(interrupted.stderr) if found != record]
    assert request_ids, interrupted.stderr
    request_id = request_ids[0]
    assert f"iomtshare client fetch {record} {request_id}" in interrupted.stderr
    # The id is the real one: the request was granted and its data can still be fetched.
    copy = tmp_path / "copy.txt"
    ok_json("client", "fetch", record, request_id, "--member", bob, "--node", live.url,
            "-o", str(copy))
    assert copy.read_bytes() == b"spo2 97\n" * 100


def test_fetch_of_an_unknown_request_says_so(tmp_path: Path, live: LiveNetwork) -> None:
    _, bob, record = shared_record(live, tmp_path, b"temp 36.6\n")
    unknown = run("client", "fetch", record, "ab" * 32, "--member", bob, "--node", live.url,
                  "-o", str(tmp_path / "out"), "--timeout", "20")
    assert unknown.exit_code == 1
    assert "UnknownRequest" in unknown.stderr
    assert "neither committed nor pending" in unknown.stderr
    assert "not decided" not in unknown.stderr


def test_fetch_of_someone_elses_request_names_its_requester(
    tmp_path: Path, live: LiveNetwork
) -> None:
    _, bob, record = shared_record(live, tmp_path, b"glucose 5.4\n")
    carol = make_member(live, tmp_path / "carol", "requester")
    decision = ok_json("client", "request", record, "--member", bob, "--node", live.url)
    stolen = run("client", "fetch", record, decision["request_id"], "--member", carol,
                 "--node", live.url, "-o", str(tmp_path / "out"))
    assert stolen.exit_code == 1
    assert "AEAD" not in stolen.stderr
    assert "RequestMismatch" in stolen.stderr
    assert member_id_of(bob) in stolen.stderr
    other = run("client", "fetch", "cd" * 32, decision["request_id"], "--member", bob,
                "--node", live.url, "-o", str(tmp_path / "out"))
    assert other.exit_code == 1
    assert f"for record {record}" in other.stderr
    assert not (tmp_path / "out").exists()
