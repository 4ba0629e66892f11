"""Four real node processes on loopback: the sharing flow, refusals, faults and catch-up.

One network (t = quorum = 3 of 4, blacklisting after 2 denials) serves the whole module; tests
run in file order and the last one kills and restarts a node. Waits are bounded: server-side
``?wait`` where the API has it, otherwise a deadline-bounded poll of the HTTP API.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import trio

from client import AccessDenied, MemberKeys, NodeClient, NodeError
from client.authority import register_member
from client.member import publish_tpre_key
from client.owner import StoredRecord, grant_access, put_file, revoke_access
from client.requester import (
    Decision,
    fetch_and_decrypt,
    fetch_ciphertext,
    request_access,
    wait_decision,
)
from client.session import Session
from crypto.groups import load_group
from crypto.signing import SigningKey
from ledger.transactions import AccessRequest, MemberRole
from node.consensus_loop import CONSENSUS_PROTOCOL
from node.gossip_fallback import CONSENSUS_TOPIC
from node.p2p import DialError, P2PConfig, P2PHost, PeerAllowlist, RemoteError, parse_peer_id
from node.storage import GET_PROTOCOL, PUT_PROTOCOL
from node.wire import FrameBatch
from tests.node.processes import PATIENCE, NodeProcesses, running_network

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

DATA = b"".join(f"{i},{(i * 37) % 101}\n".encode() for i in range(4000))


@dataclass
class World:
    nodes: NodeProcesses
    sessions: dict[int, Session]
    authority: SigningKey
    owner: MemberKeys
    requester: MemberKeys
    record: StoredRecord

    def member(self, role: MemberRole = MemberRole.REQUESTER) -> MemberKeys:
        keys = MemberKeys.generate(self.sessions[1].group, role)
        register_member(self.sessions[1], self.authority, keys.public(), timeout=PATIENCE)
        publish_tpre_key(self.sessions[1], keys, timeout=PATIENCE)
        return keys


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    directory = tmp_path_factory.mktemp("network") / "net"
    with running_network(directory, 4, denial_limit=2, round_timeout_ms=1500) as nodes:
        group = load_group()
        sessions = {i: Session(NodeClient(nodes.url(i)), group) for i in range(1, 5)}
        authority = nodes.network.authority_key()
        owner = MemberKeys.generate(group, MemberRole.OWNER)
        requester = MemberKeys.generate(group, MemberRole.REQUESTER)
        for keys in (owner, requester):
            register_member(sessions[1], authority, keys.public(), timeout=PATIENCE)
            publish_tpre_key(sessions[1], keys, timeout=PATIENCE)
        record = put_file(sessions[1], owner, DATA, name="ecg.csv", timeout=PATIENCE)
        yield World(nodes, sessions, authority, owner, requester, record)


def decide(session: Session, keys: MemberKeys, record_id: bytes) -> Decision:
    return wait_decision(session, request_access(session, keys, record_id), PATIENCE)


def same_head_everywhere(nodes: NodeProcesses, indexes: list[int]) -> str:
    """Wait (bounded) until the nodes report one height and head hash; return the hash."""
    deadline = time.monotonic() + PATIENCE
    while True:
        heads = {(s["height"], s["head_hash"]) for s in (nodes.status(i) for i in indexes)}
        if len(heads) == 1:
            return str(heads.pop()[1])
        assert time.monotonic() < deadline, f"heads differ: {heads}"
        time.sleep(0.2)


def audit_of(nodes: NodeProcesses, index: int, record_id: bytes) -> list[dict[str, object]]:
    response = httpx.get(f"{nodes.url(index)}/audit", params={"record": record_id.hex()})
    response.raise_for_status()
    entries: list[dict[str, object]] = response.json()["audit"]
    return entries


def signed_request(world: World, keys: MemberKeys, *, nonce: bytes, timestamp_ms: int) -> bytes:
    tx = AccessRequest(
        requester=keys.member_id,
        record_id=world.record.record_id,
        keywords_hash=bytes(32),
        attribute_hashes=(),
        timestamp_ms=timestamp_ms,
        nonce=nonce,
    )
    return tx.signed(keys.signing_key, world.sessions[1].chain_id).to_bytes()


def submit_error(world: World, raw: bytes) -> NodeError:
    with pytest.raises(NodeError) as caught:
        world.sessions[2].client.submit_tx(raw)
    return caught.value


def test_put_grant_request_fetch_gives_the_same_file(world: World) -> None:
    assert world.record.fragments_stored == 4
    grant_access(world.sessions[1], world.owner, world.record.record_id, world.requester.member_id)
    # Requested through node 4, fetched through node 2: any node serves any step.
    decision = decide(world.sessions[4], world.requester, world.record.record_id)
    assert decision.status == "granted"
    data, metadata = fetch_and_decrypt(
        world.sessions[2], world.requester, world.record.record_id, decision
    )
    assert data == DATA
    assert metadata.name == "ecg.csv"
    for index in range(1, 5):
        world.sessions[index].client.tx(decision.request_id, wait=PATIENCE)
        audit = audit_of(world.nodes, index, world.record.record_id)
        assert [a["decision"] for a in audit] == ["granted"]
        assert audit[0]["request_id"] == decision.request_id
    same_head_everywhere(world.nodes, [1, 2, 3, 4])
    verify = httpx.get(world.nodes.url(3) + "/verify").json()
    assert verify["ok"] is True


def test_revoked_grant_is_denied_and_recorded(world: World) -> None:
    other = world.member()
    session = world.sessions[1]
    grant_access(session, world.owner, world.record.record_id, other.member_id)
    revoke_access(session, world.owner, world.record.record_id, other.member_id)
    decision = decide(world.sessions[3], other, world.record.record_id)
    assert decision.status == "denied"
    audit = world.sessions[3].client.audit(requester=other.member_id.hex())
    assert [a["decision"] for a in audit] == ["denied"]
    answer = world.sessions[3].client.request(decision.request_id)
    assert "revoked" in str(answer.get("reason"))


def test_unregistered_requester_is_refused(world: World) -> None:
    stranger = MemberKeys.generate(world.sessions[1].group, MemberRole.REQUESTER)
    raw = signed_request(world, stranger, nonce=secrets.token_bytes(16), timestamp_ms=now_ms())
    error = submit_error(world, raw)
    assert (error.status, error.code) == (403, "not_registered")


def test_replayed_and_stale_requests_are_refused(world: World) -> None:
    nonce = secrets.token_bytes(16)
    first = signed_request(world, world.requester, nonce=nonce, timestamp_ms=now_ms())
    request_id = world.sessions[2].client.submit_tx(first)
    duplicate = submit_error(world, first)
    assert (duplicate.status, duplicate.code) == (409, "duplicate")
    same_nonce = signed_request(world, world.requester, nonce=nonce, timestamp_ms=now_ms() + 1)
    assert submit_error(world, same_nonce).status == 409
    assert wait_decision(world.sessions[2], request_id, PATIENCE).status == "granted"
    replay = submit_error(world, same_nonce)
    assert (replay.status, replay.code) == (409, "replayed")
    stale_time = now_ms() - 10 * 60 * 1000
    stale = signed_request(
        world, world.requester, nonce=secrets.token_bytes(16), timestamp_ms=stale_time
    )
    error = submit_error(world, stale)
    assert (error.status, error.code) == (409, "stale")


def test_repeated_denials_blacklist_the_requester(world: World) -> None:
    greedy = world.member()
    for _ in range(2):  # denial_limit = 2; decided through node 2, which is asked next
        denied = decide(world.sessions[2], greedy, world.record.record_id)
        assert denied.status == "denied"
    raw = signed_request(world, greedy, nonce=secrets.token_bytes(16), timestamp_ms=now_ms())
    error = submit_error(world, raw)
    assert (error.status, error.code) == (403, "blacklisted")
    listed = [e["member_id"] for e in world.sessions[2].client.blacklist()]
    assert greedy.member_id.hex() in listed
    with pytest.raises(AccessDenied, match="requester is blacklisted"):
        fetch_ciphertext(world.sessions[2], greedy, world.record.record_id, denied)


def test_garbage_on_the_http_api_gets_clear_errors(world: World) -> None:
    url = world.nodes.url(2)
    cases = [
        (httpx.post(url + "/tx", content=b"\x00\xff", headers={"content-type": "text/plain"}), 415),
        (
            httpx.post(
                url + "/tx", content=b"{not json", headers={"content-type": "application/json"}
            ),
            400,
        ),
        (httpx.post(url + "/tx", json={"tx": "zz"}), 400),
        (httpx.post(url + "/tx", json={"tx": "4d01ffff"}), 400),
        (httpx.get(url + "/blocks/abc"), 400),
        (httpx.get(url + "/blocks/999999"), 404),
        (httpx.get(url + "/records/00ff"), 400),
        (httpx.get(url + "/requests/" + "00" * 32), 404),
        (httpx.post(url + f"/records/{'00' * 32}/data", json={"requester": "x"}), 400),
        (httpx.post(url + f"/records/{'00' * 32}/fragments", json={"fragments": ["00"]}), 400),
        (httpx.post(url + "/tx", content=b"x" * (65 * 1024 * 1024)), 413),
    ]
    for response, status in cases:
        assert response.status_code == status, response.text
        assert response.json()["error"]["code"]
    assert world.nodes.status(2)["height"]


def test_outsider_peer_cannot_connect(world: World) -> None:
    node1 = world.nodes.network.node(1)

    async def dial() -> None:
        outsider = P2PHost(
            SigningKey.generate(), PeerAllowlist.of([parse_peer_id(node1.peer_id)]), P2PConfig()
        )
        async with trio.open_nursery() as nursery:
            await nursery.start(outsider.run)
            with pytest.raises(DialError):
                await outsider.connect(node1.p2p_address)
            nursery.cancel_scope.cancel()

    trio.run(dial)
    peers = httpx.get(world.nodes.url(1) + "/net_info").json()["peers"]
    assert len(peers) == 3
    assert world.nodes.status(1)["peers_connected"] == 3


def test_killed_node_flow_still_completes_and_restart_catches_up(world: World) -> None:
    world.nodes.kill(4)
    garbage_from_a_member(world)
    second = put_file(world.sessions[1], world.owner, DATA[::-1], timeout=PATIENCE)
    assert second.fragments_stored == 3
    grant_access(world.sessions[2], world.owner, second.record_id, world.requester.member_id)
    decision = decide(world.sessions[2], world.requester, second.record_id)
    assert decision.status == "granted"
    data, _ = fetch_and_decrypt(world.sessions[3], world.requester, second.record_id, decision)
    assert data == DATA[::-1]
    for _ in range(3):  # a few more blocks for node 4 to catch up on
        world.member()

    world.nodes.start(4)
    world.nodes.wait_ready([4], 3)
    committed = world.sessions[4].client.tx(decision.request_id, wait=PATIENCE)
    assert committed["height"] == decision.height
    head = same_head_everywhere(world.nodes, [1, 2, 3, 4])
    assert world.nodes.status(4)["head_hash"] == head
    assert audit_of(world.nodes, 4, second.record_id)[0]["decision"] == "granted"
    assert world.nodes.stop(4) == 0  # SIGTERM: a clean shutdown
    for index in range(1, 5):  # no failure of the node's own code was logged anywhere
        assert "level=ERROR logger=iomtshare" not in world.nodes.log_tail(index, lines=100_000)


def garbage_from_a_member(world: World) -> None:
    """With node 4 down, its key sends garbage on every protocol to node 1, which answers with
    errors and keeps going."""
    key = SigningKey((world.nodes.home(4) / "node_key").read_bytes())
    node1 = world.nodes.network.node(1)
    peer = parse_peer_id(node1.peer_id)

    async def send() -> None:
        host = P2PHost(key, PeerAllowlist.of([peer]), P2PConfig())
        host.add_topic(CONSENSUS_TOPIC, _ignore)
        async with trio.open_nursery() as nursery:
            await nursery.start(host.run)
            await host.connect(node1.p2p_address)
            for protocol in (PUT_PROTOCOL, GET_PROTOCOL):
                with pytest.raises(RemoteError):
                    await host.request(peer, protocol, b"\xc8garbage")
            # The consensus link: a batch holding a garbage message, then a garbage batch.
            link = await host.open_stream(peer, CONSENSUS_PROTOCOL)
            await link.send(FrameBatch((b"\xc5not a vote",)).to_bytes())
            await link.send(b"\xe5\x01not a batch")
            await link.close()
            with trio.move_on_after(5):
                await host.wait_for_gossip_peer(peer, CONSENSUS_TOPIC)
            await host.publish(CONSENSUS_TOPIC, b"\xc5not a proposal")
            nursery.cancel_scope.cancel()

    trio.run(send)
    assert int(str(world.nodes.status(1)["peers_connected"])) >= 2


async def _ignore(message: object) -> None:
    return None


def now_ms() -> int:
    return int(time.time() * 1000)


def test_process_home_errors(tmp_path: Path) -> None:
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "cli", "node", "start", "--home", str(tmp_path / "missing")],
        capture_output=True,
        text=True,
        timeout=PATIENCE,
        check=False,
    )
    assert result.returncode != 0
    assert "not a node home directory" in result.stderr
