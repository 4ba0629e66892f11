"""The end-to-end rows of ``bench light`` and ``bench dual``: an upload to an edge until the
record it makes is committed, on a real local testnet (4 node processes + 1 edge process,
started as ``bench e2e`` starts its own, stopped afterwards).

* ``sensor`` (seed 001, ``bench light``): a sensor registered for a patient member at the edge
  (:func:`client.sensors.register_sensor`, the grant dropped into the edge's home) encrypts one
  second of ECG (:func:`client.sensor_load.ecg_window`) and posts it; the edge checks it and
  submits the record.
* ``device`` (seed 000, ``bench dual``): a registered device encrypts a 128-byte item under a
  policy (FAME + Encrypt_DCT, :func:`client.device_upload.make_upload`) and posts it; the edge
  normalizes it (ReEncrypt_ECL), submits the record and hands the fragments to the nodes.

Two measurements, both from the start of the encryption: ``runs`` uploads one at a time (latency
until the edge accepted the upload, until it reports the record committed, and until the
fragments are stored on the nodes; p50 and p99), then ``burst`` uploads sent together from as
many threads (uploads/s committed at the edge: ``burst`` / time until the last one committed).
The edge is polled every :data:`POLL_S` seconds, so latencies are rounded up by up to that.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.load import percentile
from bench.report import BenchError, Progress, format_table, quiet
from client import MemberKeys, NodeClient
from client.authority import register_member
from client.device_upload import make_profile, make_upload, send_upload
from client.devices import register_device, write_device_key
from client.errors import ClientError
from client.member import publish_tpre_key
from client.sensor_load import ecg_window
from client.sensors import (
    LIGHT_DIR,
    EdgeRefused,
    EdgeTarget,
    load_profile,
    post_upload,
    register_sensor,
    save_profile,
)
from client.sensors import make_upload as make_reading
from client.session import Session
from crypto.groups import Group, load_group
from ledger.transactions import MemberRole
from node.assembly import NodePublicInfo
from testnet.edges import launch_edges
from testnet.launcher import LOG_FILE, stop, up
from testnet.layout import Network

NODES = 4
POLICY = "role:doctor"
#: Seed 000's Table IV item size.
ITEM_BYTES = 128
POLL_S = 0.05
#: How long one upload may take to be stored before the run fails.
PATIENCE_S = 180.0
#: The reading number of the unmeasured first upload (past every measured one).
WARMUP_INDEX = 1_000_000


@dataclass(frozen=True, slots=True)
class Upload:
    """One way of uploading: ``send(i)`` encrypts and posts reading ``i`` and returns the
    device id and record id (hex) the edge reports its state under."""

    path: str
    send: Callable[[int], tuple[str, str]]
    close: Callable[[], None] = lambda: None


@contextmanager
def local_testnet(timeout: float, progress: Progress = quiet) -> Iterator[Network]:
    """A 4-node testnet with one edge in a temporary directory, stopped on exit."""
    with tempfile.TemporaryDirectory(prefix="iomtshare-edge-e2e-") as tmp:
        root = Path(tmp) / "testnet"
        params = {"block_interval_ms": 100, "round_timeout_ms": 1000}
        try:
            network = up(root, NODES, timeout=timeout, genesis_params=params, progress=progress,
                         edges=1)
            launch_edges(network, timeout, progress)
            yield network
        finally:
            stop(root)


def _owner(session: Session, network: Network) -> MemberKeys:
    owner = MemberKeys.generate(session.group, MemberRole.OWNER)
    register_member(session, network.authority_key(), owner.public(), timeout=60)
    publish_tpre_key(session, owner, timeout=60)
    return owner


def sensor_upload(network: Network, session: Session, work: Path) -> Upload:
    """Register a sensor for a new patient member at the network's edge; its :class:`Upload`."""
    edge = network.edges[0]
    edge_home = network.directory / edge.home
    owner = _owner(session, network)
    key = network.authority_key()
    info = NodePublicInfo.of_home(edge_home)
    target = EdgeTarget(info.peer_id, info.verify_key, info.box_key)
    made = register_sensor(session, key, network.authority_key_path.parent / LIGHT_DIR,
                           real_id="bench patient", owner=owner.member_id, edge=target,
                           policy=POLICY, timeout=60)
    save_profile(work / "sensor", made.key, edge.http_url)
    grants = edge_home / "sensors" / "grants"
    grants.mkdir(parents=True, exist_ok=True)
    (work / "bench.grant").write_bytes(made.sealed_grant)
    shutil.copy(work / "bench.grant", grants / "bench.grant")
    profile = load_profile(work / "sensor")
    device_id = str(made.device["device_id"])
    http = httpx.Client(timeout=60.0)

    def send(i: int) -> tuple[str, str]:
        answer = post_upload(http, edge.http_url, make_reading(profile, ecg_window(0, i)))
        return device_id, str(answer["record_id"])

    return Upload("sensor -> edge -> committed record", send, http.close)


def device_upload(network: Network, session: Session, work: Path) -> Upload:
    """Register a device for a new owner member at the network's edge; its :class:`Upload`."""
    edge = network.edges[0]
    owner = _owner(session, network)
    device = write_device_key(session.group, work / "device")
    register_device(session, network.authority_key(), device, owner.member_id, edge.peer_id,
                    timeout=60)
    profile = make_profile(session, device)
    group = session.group

    def send(i: int) -> tuple[str, str]:
        item = i.to_bytes(8, "big").ljust(ITEM_BYTES, b"\x5a")
        upload = make_upload(group, profile, device, item, policy=POLICY)
        answer = send_upload(edge.http_url, upload)
        return profile.device_id, str(answer["record_id"])

    return Upload("device -> edge -> committed record", send)


def _first(upload: Upload, edge_url: str) -> None:
    """One unmeasured upload; retried while the edge has not yet read a new sensor grant."""
    deadline = time.monotonic() + 60
    while True:
        try:
            _timed(upload, edge_url, WARMUP_INDEX)
            return
        except EdgeRefused as exc:
            if time.monotonic() > deadline:
                raise BenchError(f"the edge keeps refusing the first upload: {exc}") from exc
            time.sleep(0.5)


def _timed(upload: Upload, edge_url: str, i: int) -> dict[str, float]:
    """Upload reading ``i``; ms from the start until accepted, committed and stored."""
    start = time.perf_counter()
    device_id, record_id = upload.send(i)
    times = {"accepted": (time.perf_counter() - start) * 1e3}
    url = f"{edge_url.rstrip('/')}/devices/{device_id}/uploads/{record_id}"
    deadline = time.monotonic() + PATIENCE_S
    with httpx.Client(timeout=30.0) as http:
        while "stored" not in times:
            answer = http.get(url)
            status = answer.json().get("status") if answer.status_code == 200 else None
            now = (time.perf_counter() - start) * 1e3
            if status == "failed":
                raise BenchError(f"the edge failed record {record_id}: {answer.text}")
            if status in ("committed", "stored"):
                times.setdefault("committed", now)
            if status == "stored":
                times["stored"] = now
            elif time.monotonic() > deadline:
                raise BenchError(f"record {record_id} not stored in {PATIENCE_S:g} s ({status})")
            else:
                time.sleep(POLL_S)
    return times


def measure(upload: Upload, edge_url: str, runs: int, burst: int) -> dict[str, Any]:
    """``runs`` sequential uploads and a burst of ``burst`` concurrent ones (see the module
    doc); the figures as JSON."""
    _first(upload, edge_url)
    samples = [_timed(upload, edge_url, i) for i in range(runs)]
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=burst) as pool:
        together = list(pool.map(lambda i: _timed(upload, edge_url, runs + i), range(burst)))
    wall = time.perf_counter() - start
    figures: dict[str, Any] = {"path": upload.path, "runs": runs, "burst": burst}
    for phase in ("accepted", "committed", "stored"):
        values = [s[phase] for s in samples]
        figures[f"{phase}_p50_ms"] = percentile(values, 0.5)
        figures[f"{phase}_p99_ms"] = percentile(values, 0.99)
    figures["burst_wall_s"] = wall
    figures["burst_committed_p50_ms"] = percentile([s["committed"] for s in together], 0.5)
    figures["uploads_per_s"] = burst / (max(s["committed"] for s in together) / 1e3)
    return figures


def run(
    path: str, runs: int, burst: int, timeout: float = 120.0, progress: Progress = quiet
) -> dict[str, Any]:
    """Start the testnet, measure the ``path`` (``sensor`` or ``device``) uploads, stop it."""
    group: Group = load_group()
    makers = {"sensor": sensor_upload, "device": device_upload}
    progress(f"end to end: starting {NODES} nodes and an edge")
    with (
        local_testnet(timeout, progress) as network,
        tempfile.TemporaryDirectory() as work,
        NodeClient(network.nodes[0].http_url, timeout=60) as client,
    ):
        upload = makers[path](network, Session(client, group), Path(work))
        progress(f"end to end: {runs} {path} uploads one at a time, then {burst} at once")
        try:
            figures = measure(upload, network.edges[0].http_url, runs, burst)
        except (BenchError, ClientError, httpx.HTTPError) as exc:
            # The testnet and its logs go away with the temporary directory: keep the edge's.
            raise BenchError(f"{type(exc).__name__}: {exc}\n{_edge_log(network)}") from exc
        finally:
            upload.close()
    return {"nodes": NODES, "edges": 1, "poll_s": POLL_S, **figures}


def _edge_log(network: Network, lines: int = 30) -> str:
    path = network.directory / network.edges[0].home / LOG_FILE
    try:
        tail = path.read_text(errors="replace").splitlines()[-lines:]
    except OSError as exc:
        return f"(no edge log: {exc})"
    return "\n".join([f"last lines of the edge's log {path}:", *tail])


def table(figures: dict[str, Any], anchors: list[list[object]]) -> str:
    """The end-to-end row, after ``anchors`` rows ``[label, p50 ms, p99 ms]`` of the paper or
    of in-process measurements of the same run."""
    rows: list[list[object]] = [[label, p50, p99, None] for label, p50, p99 in anchors]
    for phase, label in (("accepted", "accepted by the edge"),
                         ("committed", "committed (edge's header chain)"),
                         ("stored", "fragments stored on the nodes")):
        rows.append([f"e2e: upload -> {label}", figures[f"{phase}_p50_ms"],
                     figures[f"{phase}_p99_ms"], None])
    rows.append([f"e2e: {figures['burst']} uploads at once -> committed", None, None,
                 figures["uploads_per_s"]])
    title = (f"{figures['path']}: {figures['nodes']} nodes + {figures['edges']} edge, "
             f"{figures['runs']} sequential uploads (ms, polled every {figures['poll_s']:g} s)")
    return format_table(title, ["", "p50", "p99", "uploads/s"], rows)
