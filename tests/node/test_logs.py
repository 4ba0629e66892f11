"""node/logs.py: the JSON log format, the key=value split, and the log level changed at run time
(through the API's ``PUT /log_level``, and by SIGHUP in a real node process)."""

from __future__ import annotations

import io
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry

from node import logs
from node.http import ApiMetrics, build_app
from testnet.layout import create_network
from tests.node.p2p.p2p_testing import trio_test

PATIENCE = 60.0
JSON_LOGS = ("--log-format", "json")


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    chatty = {name: logging.getLogger(name).level for name in logs.CHATTY}
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, old in chatty.items():
        logging.getLogger(name).setLevel(old)


def test_a_message_splits_into_its_event_and_typed_fields() -> None:
    event, fields = logs.split_event(
        "block committed height=12 round=0 hash=00ab signers=[1, 2, 3] ok=True gone=None"
    )
    assert event == "block committed"
    assert fields == {
        "height": 12,
        "round": 0,
        "hash": "00ab",  # leading zero: stays text
        "signers": "[1, 2, 3]",
        "ok": True,
        "gone": None,
    }
    assert logs.split_event("consensus inbox full; dropped Vote") == (
        "consensus inbox full; dropped Vote",
        {},
    )
    # A value holding "=" or spaces stays whole; only " word=" starts a field.
    assert logs.split_event("refused reason=a=b and more code=x")[1] == {
        "reason": "a=b and more",
        "code": "x",
    }


def _json_lines(emit: Any) -> list[dict[str, Any]]:
    stream = io.StringIO()
    logs.configure("info", "json", stream)
    emit(logging.getLogger("iomtshare.test"))
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_json_format_writes_one_object_per_line() -> None:
    def emit(log: logging.Logger) -> None:
        log.info("block committed height=%d hash=%s", 5, "ab" * 4)
        log.debug("not shown at info")
        log.warning('quote " and newline\n in=%s', "<x>")
        try:
            raise ValueError("boom")
        except ValueError:
            log.exception("http handler failed error_id=%s", "f00d")

    first, second, third = _json_lines(emit)
    assert set(first) == {"time", "level", "logger", "event", "fields"}
    assert first["level"] == "INFO"
    assert first["logger"] == "iomtshare.test"
    assert first["event"] == "block committed"
    assert first["fields"] == {"height": 5, "hash": "ab" * 4}
    assert first["time"].endswith("Z")
    assert "T" in first["time"]
    assert second["fields"] == {"in": "<x>"}
    assert second["event"] == 'quote " and newline'
    assert third["level"] == "ERROR"
    assert third["fields"]["error_id"] == "f00d"
    assert "ValueError: boom" in third["fields"]["exception"]


def test_text_format_is_todays_key_value_line() -> None:
    stream = io.StringIO()
    logs.configure("info", "text", stream)
    logging.getLogger("iomtshare.test").info("node started index=%d", 1)
    line = stream.getvalue().strip()
    assert line.endswith("level=INFO logger=iomtshare.test node started index=1")


def test_level_and_format_are_checked_before_anything_changes() -> None:
    root = logging.getLogger()
    before = list(root.handlers)
    with pytest.raises(logs.LogSetupError, match="unknown log level 'loud'"):
        logs.configure("loud", "text")
    with pytest.raises(logs.LogSetupError, match="unknown log format 'xml'"):
        logs.configure("info", "xml")
    assert root.handlers == before


def test_set_level_changes_the_process_level_and_keeps_libp2p_quiet() -> None:
    logs.configure("info", "text", io.StringIO())
    assert logs.set_level("DEBUG") == "info"
    assert logs.current_level() == "debug"
    assert logging.getLogger("libp2p").level == logging.WARNING
    with pytest.raises(logs.LogSetupError):
        logs.set_level("chatty")
    assert logs.current_level() == "debug"


@trio_test
async def test_the_local_api_changes_the_log_level_and_refuses_other_hosts() -> None:
    logs.configure("info", "text", io.StringIO())
    app = build_app(_NoView(), ApiMetrics(CollectorRegistry()))  # type: ignore[arg-type]

    def client(host: str) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app, client=(host, 5000))
        return httpx.AsyncClient(transport=transport, base_url="http://node")

    async with client("127.0.0.1") as local, client("203.0.113.9") as remote:
        assert (await local.get("/log_level")).json() == {"level": "info"}
        changed = await local.put("/log_level", json={"level": "debug"})
        assert changed.json() == {"level": "debug", "previous": "info"}
        assert logs.current_level() == "debug"
        refused = await remote.put("/log_level", json={"level": "error"})
        assert (refused.status_code, refused.json()["error"]["code"]) == (403, "forbidden")
        bad = await local.put("/log_level", json={"level": "shouty"})
        assert (bad.status_code, bad.json()["error"]["code"]) == (400, "bad_request")
        assert logs.current_level() == "debug"


class _NoView:
    """The log level routes ask nothing of the node."""


def _wait_for_line(path: Path, want: Any, proc: subprocess.Popen[bytes]) -> dict[str, Any]:
    deadline = time.monotonic() + PATIENCE
    while time.monotonic() < deadline:
        # Whole lines only: the node may be writing the last one right now.
        for line in path.read_text().split("\n")[:-1]:
            document = json.loads(line)  # every line must be JSON
            if want(document):
                return document
        if proc.poll() is not None:
            raise AssertionError(f"node exited: {path.read_text()[-2000:]}")
        time.sleep(0.05)
    raise AssertionError(f"no such log line within {PATIENCE:g} s: {path.read_text()[-2000:]}")


def test_a_node_process_logs_json_and_rereads_its_level_on_sighup(tmp_path: Path) -> None:
    network = create_network(tmp_path / "net", 1)
    home = network.directory / "node1"
    log_path = home / "node.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "cli", "node", "start", "--home", str(home), *JSON_LOGS],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    try:
        started = _wait_for_line(log_path, lambda d: d["event"] == "node started", proc)
        assert started["fields"]["index"] == 1
        assert started["logger"] == "iomtshare.node.service"
        config = home / "config.toml"
        text = config.read_text()
        assert 'log_level = "info"' in text
        config.write_text(text.replace('log_level = "info"', 'log_level = "debug"'))
        proc.send_signal(signal.SIGHUP)
        changed = _wait_for_line(log_path, lambda d: d["event"] == "log level changed", proc)
        assert changed["fields"] == {"from": "info", "to": "debug"}
        assert proc.poll() is None  # SIGHUP does not stop the node
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=PATIENCE)
    assert proc.returncode == 0
