"""``bench e2e --prior-records``: records put on a real 4-node chain before the measurement
(nodes in this process, tests/client/live_network.py), and the busy-answer back-off."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from bench.prefill import Outstanding, prefill, submit
from cli.main import main
from client import NodeClient, NodeError
from client.keystore import MemberKeys
from client.owner import prepare_put
from client.session import Session
from crypto.groups import load_group
from ledger.transactions import MemberRole, PutRecord
from tests.client.live_network import LiveNetwork, live_network

RECORDS = 40


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveNetwork]:
    with live_network(tmp_path_factory.mktemp("prefill") / "net", 4) as running:
        yield running


def test_prefill_commits_every_record_on_every_node(live: LiveNetwork) -> None:
    group = load_group("mcl")
    result = prefill(live.network, group, RECORDS, owners=4, window=16, timeout=120)
    assert result.records == RECORDS
    assert len(result.owners) == 4
    # A block carries at most 32 items, so 40 records need at least two blocks.
    assert result.height_after >= result.height_before + 2
    assert result.records_per_s > 0
    # prefill returns once every node has committed that height.
    for url in live.urls:
        with NodeClient(url) as client:
            assert int(client.status()["height"]) >= result.height_after, url
            counts = [len(client.records(owner=owner.hex())) for owner in result.owners]
        assert counts == [RECORDS // 4] * 4, url


def run_e2e(live: LiveNetwork, out: Path, *options: str) -> tuple[str, dict[str, Any]]:
    """``bench e2e`` on the live network with ``options``: its output and its JSON."""
    result = CliRunner().invoke(main, [
        "bench", "e2e", "--dir", str(live.network.directory), *options, "--json", str(out),
    ])
    assert result.exit_code == 0, result.output
    return result.output, json.loads(out.read_text())


def test_the_e2e_command_measures_after_the_prior_records(
    tmp_path: Path, live: LiveNetwork
) -> None:
    output, payload = run_e2e(live, tmp_path / "e2e.json", "--runs", "2", "--concurrency", "2",
                              "--requesters", "2", "--prior-records", str(RECORDS))
    assert f"{RECORDS} prior records" in output
    assert payload["prior_records"] == RECORDS
    filled = payload["prefill"]
    assert filled["records"] == RECORDS
    assert filled["height_after"] >= filled["height_before"] + 2
    assert payload["prefill_records_per_s"] == filled["records_per_s"] > 0
    # Every low-load request ended with the decrypted metadata.
    assert payload["low_load"]["decrypt"]["runs"] == 2


def test_without_prior_records_the_payload_says_none(tmp_path: Path, live: LiveNetwork) -> None:
    output, payload = run_e2e(live, tmp_path / "e2e.json", "--runs", "1", "--concurrency", "1",
                              "--requesters", "1")
    assert "0 prior records" in output
    assert payload["prior_records"] == 0
    assert payload["prefill"] is None


class BusySession:
    """Answers ``busy`` a given number of times, then takes the transaction."""

    def __init__(self, busy: int, status: int = 429, code: str = "busy") -> None:
        self.busy, self.status, self.code = busy, status, code
        self.calls = 0

    def submit(self, tx: PutRecord) -> str:
        self.calls += 1
        if self.calls <= self.busy:
            raise NodeError(self.status, self.code, "full for now")
        return tx.tx_id().hex()


@pytest.fixture(scope="module")
def put(live: LiveNetwork) -> PutRecord:
    group = load_group("mcl")
    with NodeClient(live.url) as client:
        owner = MemberKeys.generate(group, MemberRole.OWNER)
        return prepare_put(Session(client, group), owner, b"\x00").put


def test_submit_backs_off_on_busy_answers(put: PutRecord) -> None:
    session = BusySession(busy=2)
    state = Outstanding(1)
    submit(session, put, state, deadline_s=10)  # type: ignore[arg-type]
    assert session.calls == 3
    assert state.backoffs == 2


def test_submit_raises_other_refusals_and_gives_up_after_its_budget(put: PutRecord) -> None:
    refused = BusySession(busy=1, status=400, code="invalid_transaction")
    with pytest.raises(NodeError, match="invalid_transaction"):
        submit(refused, put, Outstanding(1), deadline_s=10)  # type: ignore[arg-type]
    assert refused.calls == 1
    always = BusySession(busy=1000, status=503, code="unavailable")
    with pytest.raises(NodeError, match="unavailable"):
        submit(always, put, Outstanding(1), deadline_s=0.2)  # type: ignore[arg-type]
    assert 1 < always.calls < 10


def test_prefill_checks_its_input(live: LiveNetwork) -> None:
    with pytest.raises(ValueError, match="at least one record"):
        prefill(live.network, load_group("mcl"), 0)
