"""An edge SIGKILLed right after it answered a device's upload 202 finishes that upload after a
restart, on a real 4-node network with one edge (``testnet up --edges 1``).

The device uploads without ``--wait``; the edge's process is killed as soon as the upload
returns, before the edge could follow the record to its fragments (what was on its disk at the
kill is read from its LevelDB and printed). The edge is started again with the harness's
``launch_edges``; its resumer picks the upload up, the status route says ``stored``, the record
is on every node and a doctor fetches the reading byte-identical. The network and world
fixtures are ``tests/integration/test_device_path.py``'s.
"""

from __future__ import annotations

import os
import secrets
import signal
import time

import pytest

from client.device_upload import wait_stored
from ledger.leveldb import LevelDBStore
from node.config import DATA_DIR
from node.edge.pending_uploads import PendingUploads
from node.edge.service import HEADERS_DIR
from testnet.edges import launch_edges
from testnet.launcher import LOG_FILE, PID_FILE
from tests.integration.test_device_path import POLICY, Setup, ok, record_everywhere, world
from tests.integration.test_edge import PATIENCE, network

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

__all__ = ["network", "world"]  # the module-scoped fixtures this module runs on

READING = b"2026-12-06T14:30Z hr=88 spo2=97 (before the kill)\n" * 150


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_an_edge_killed_after_202_finishes_the_upload_after_restart(world: Setup) -> None:
    net = world.network
    edge = net.edges[0]
    home = net.directory / edge.home
    source, out = world.tmp / f"k-{secrets.token_hex(4)}.csv", world.tmp / "killed.bin"
    source.write_bytes(READING)
    made = ok("device", "encrypt", "--device-key", str(world.device_dir), "--policy", POLICY,
              str(source), "--out", str(out))
    sent = ok("device", "upload", "--edge", world.edge_url, str(out))  # the 202, no --wait
    assert (sent["record_id"], sent["status"]) == (made["record_id"], "pending")
    pid = int((home / PID_FILE).read_text())
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + PATIENCE
    while not _gone(pid):
        assert time.monotonic() < deadline, f"edge pid {pid} still there after SIGKILL"
        time.sleep(0.05)

    record_id = bytes.fromhex(sent["record_id"])
    store = LevelDBStore(home / DATA_DIR / HEADERS_DIR)
    try:
        at_kill = PendingUploads(store).get(record_id)
    finally:
        store.close()
    assert at_kill is not None  # written before the record was sent
    print(f"upload state on disk at the kill: {at_kill.status}")

    launch_edges(net, 180.0, only={edge.index})
    answer = wait_stored(world.edge_url, bytes.fromhex(world.device_id), record_id,
                         timeout=240.0)
    assert answer["status"] == "stored"
    assert answer["tx_id"] == sent["tx_id"]
    assert answer["fragments_stored"] >= net.genesis.threshold
    if at_kill.status != "stored":
        log = (home / LOG_FILE).read_text()
        assert "resuming 1 unfinished uploads" in log

    record_everywhere(world, sent["record_id"])
    decision = ok("client", "request", sent["record_id"], "--member", world.doctor, "--node",
                  net.node(2).http_url, "--timeout", "90")
    assert decision["status"] == "granted"
    fetched = world.tmp / "fetched-after-kill.csv"
    ok("client", "fetch", sent["record_id"], decision["request_id"], "--member", world.doctor,
       "--node", net.node(3).http_url, "-o", str(fetched))
    assert fetched.read_bytes() == READING
