"""What the web explorer and monitoring read, on a real 4-node network with a sample chain:
``/``, ``/health``, newest-first blocks with counts, the member list, a record's accesses and
fragments, the consensus series of ``/metrics`` (checked by promtool when it is installed), and
the Grafana dashboard's queries against a real scrape."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from crypto.groups import load_group
from tests.client.live_network import LiveNetwork, live_network
from tests.node.http.sample_chain import SampleChain, build_sample, register_one

DASHBOARD = Path(__file__).resolve().parents[3] / "docs" / "grafana-dashboard.json"
# PromQL words that are not metric names.
_PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or",
                 "unless", "offset", "bool", "inf", "nan"}


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveNetwork]:
    with live_network(tmp_path_factory.mktemp("explorer") / "net", 4, threshold=3) as running:
        yield running


@pytest.fixture(scope="module")
def sample(live: LiveNetwork) -> SampleChain:
    return build_sample(live, load_group("mcl"))


@pytest.fixture
def api(live: LiveNetwork) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live.url, timeout=30) as client:
        yield client


def test_root_lists_every_endpoint_and_health_says_ready(
    api: httpx.Client, sample: SampleChain
) -> None:
    index = api.get("/")
    assert index.status_code == 200
    listed = {(e["method"], e["path"]) for e in index.json()["endpoints"]}
    assert {("GET", "/status"), ("POST", "/tx"), ("GET", "/explorer"), ("GET", "/health")} <= listed
    assert all(e["description"] for e in index.json()["endpoints"])
    health = api.get("/health")
    assert health.status_code == 200
    assert health.json()["ok"] is True
    assert health.json()["peers_connected"] == 3


def test_blocks_come_newest_first_with_their_counts(
    api: httpx.Client, live: LiveNetwork, sample: SampleChain
) -> None:
    head = api.get("/status").json()["height"]
    newest = api.get("/blocks", params={"order": "desc", "limit": 3}).json()["blocks"]
    assert [b["height"] for b in newest] == [head, head - 1, head - 2]
    every = api.get("/blocks", params={"order": "desc", "limit": 1000}).json()["blocks"]
    assert [b["height"] for b in every] == list(range(head, 0, -1))
    # The sample made 8 ordinary transactions and 2 access requests, each in some block.
    assert sum(b["result_count"] for b in every) == 2
    assert sum(b["tx_count"] for b in every) == 8 + 2
    request_block = api.get(f"/tx/{sample.granted_request}").json()["height"]
    summary = next(b for b in every if b["height"] == request_block)
    assert summary["result_count"] >= 1
    older = api.get("/blocks", params={"order": "desc", "to": 2}).json()["blocks"]
    assert [b["height"] for b in older] == [2, 1]
    ascending = api.get("/blocks", params={"from": 1, "to": 2}).json()["blocks"]
    assert [b["height"] for b in ascending] == [1, 2]
    assert api.get("/blocks", params={"order": "sideways"}).status_code == 400


def test_members_are_listed_in_pages(api: httpx.Client, sample: SampleChain) -> None:
    everyone = api.get("/members").json()["members"]
    ids = [m["member_id"] for m in everyone]
    assert ids == sorted(ids)
    mine = {sample.owner.member_id.hex(), sample.doctor.member_id.hex()}
    assert mine <= set(ids)
    doctor = next(m for m in everyone if m["member_id"] == sample.doctor.member_id.hex())
    assert doctor["attributes"][-1].startswith("<script>")
    first = api.get("/members", params={"limit": 2}).json()["members"]
    rest = api.get("/members", params={"after": first[-1]["member_id"]}).json()["members"]
    assert [m["member_id"] for m in first + rest] == ids
    assert api.get("/members", params={"after": "zz"}).status_code == 400


def test_a_record_shows_its_accesses_and_the_fragments_held_here(
    api: httpx.Client, live: LiveNetwork, sample: SampleChain
) -> None:
    record = sample.record_id.hex()
    accesses = api.get(f"/records/{record}/accesses").json()
    assert accesses["total"] == 1
    assert accesses["accesses"] == [{"requester": sample.doctor.member_id.hex(), "count": 1}]
    fragments = api.get(f"/records/{record}/fragments").json()
    assert (fragments["threshold"], fragments["total"]) == (3, 4)
    assert [f["index"] for f in fragments["held_here"]] == [1]
    with httpx.Client(base_url=live.urls[2]) as third:
        held = third.get(f"/records/{record}/fragments").json()["held_here"]
        assert [f["index"] for f in held] == [3]
    assert api.get(f"/records/{'00' * 32}/accesses").status_code == 404
    assert api.get(f"/records/{'00' * 32}/fragments").status_code == 404


def _samples(scrape: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(scrape):
        for sample in family.samples:
            out.setdefault(sample.name, []).append((sample.labels, sample.value))
    return out


def test_metrics_carry_the_consensus_series_and_build_info(
    api: httpx.Client, live: LiveNetwork, sample: SampleChain
) -> None:
    register_one(live, load_group("mcl"), ["role:nurse"])
    samples = _samples(api.get("/metrics").text)
    decisions = {labels["outcome"]: value for labels, value in samples[
        "iomtshare_consensus_decisions_total"]}
    assert decisions == {"granted": 1.0, "denied": 1.0}
    latency = {labels["kind"]: value for labels, value in samples[
        "iomtshare_consensus_decision_seconds_count"]}
    # Every item the sample and register_one submitted went through node 1.
    assert latency == {"request": 2.0, "tx": 9.0}
    head = api.get("/status").json()["height"]
    assert samples["iomtshare_consensus_blocks_total"] == [({}, float(head))]
    assert samples["iomtshare_consensus_block_interval_seconds_count"] == [({}, head - 1.0)]
    assert samples["iomtshare_consensus_transactions_total"] == [({}, 9.0)]
    assert samples["iomtshare_height"] == [({}, float(head))]
    ((labels, value),) = samples["iomtshare_build_info"]
    assert value == 1.0
    assert labels["pairing_backend"] == "mcl"
    assert labels["python"].startswith("3.")
    assert labels["version"]


def _require(tool: str) -> str:
    found = shutil.which(tool)
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{tool} is missing under CI: .ci/run installs it (apt package prometheus)")
        pytest.skip(f"{tool} is not installed (apt-get install prometheus); CI runs this")
    return found


def test_promtool_accepts_a_scrape_of_a_running_node(
    api: httpx.Client, sample: SampleChain
) -> None:
    promtool = _require("promtool")
    scrape = api.get("/metrics").text
    checked = subprocess.run(
        [promtool, "check", "metrics"], input=scrape.encode(), capture_output=True, timeout=60
    )
    assert checked.returncode == 0, checked.stdout.decode() + checked.stderr.decode()


def dashboard_queries() -> list[str]:
    document = json.loads(DASHBOARD.read_text())
    queries = [t["expr"] for p in document["panels"] for t in p["targets"]]
    assert queries, "the dashboard has no queries"
    return queries


def metric_names(query: str) -> set[str]:
    """The metric names a PromQL query reads (not functions, labels, keywords or numbers)."""
    text = re.sub(r'"[^"]*"', "", query)
    text = re.sub(r"\{[^}]*\}", "", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", "", text)  # ranges
    text = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", text)  # grouping labels
    names = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", text):
        after = text[match.end():].lstrip()
        if after.startswith("(") or match.group(0).lower() in _PROMQL_WORDS:
            continue
        names.add(match.group(0))
    return names


def test_metric_names_come_out_of_queries() -> None:
    query = 'histogram_quantile(0.95, sum by (le, kind) (rate(a_bucket{x="y"}[5m]))) / b'
    assert metric_names(query) == {"a_bucket", "b"}


def test_the_grafana_dashboard_reads_only_series_a_node_serves(
    api: httpx.Client, sample: SampleChain
) -> None:
    served = set(_samples(api.get("/metrics").text))
    for query in dashboard_queries():
        names = metric_names(query)
        assert names, query
        assert names <= served, f"{query}: {sorted(names - served)} not in a scrape"


def test_promtool_parses_every_dashboard_query(tmp_path: Path) -> None:
    promtool = _require("promtool")
    # Recording rules are the one thing promtool checks PromQL in; JSON is YAML.
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {"record": f"dashboard:query_{i}", "expr": q}
                    for i, q in enumerate(dashboard_queries())
                ],
            }
        ]
    }
    path = tmp_path / "rules.yml"
    path.write_text(json.dumps(rules))
    checked = subprocess.run(
        [promtool, "check", "rules", str(path)], capture_output=True, timeout=60
    )
    assert checked.returncode == 0, checked.stdout.decode() + checked.stderr.decode()
