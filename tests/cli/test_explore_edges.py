"""``iomtshare explore edges`` and ``testnet status`` with edges, against stand-in HTTP servers
that answer ``/status`` (and ``/genesis``) as an edge and a node do; a real edge process is
asked in tests/integration/test_edge_headers.py."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from cli.main import main
from testnet.layout import Network, create_network, free_ports

EDGE_STATUS = {"role": "edge", "height": 42, "block_hash": "ab" * 32, "peers_connected": 3,
               "headers_refused": 2, "headers_refused_by_peer": {"12D3KooWx": 2}}


@contextmanager
def serving(port: int, documents: dict[str, Any]) -> Iterator[str]:
    """An HTTP server on loopback ``port`` answering GET ``path`` with ``documents[path]``."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            document = documents.get(self.path)
            body = json.dumps(document if document is not None else {"error": "nope"}).encode()
            self.send_response(200 if document is not None else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def edges_of(network: Network) -> list[tuple[str, str]]:
    return [(e.peer_id, e.verify_key.hex()) for e in network.genesis.edges]


def invoke(*args: str) -> Any:
    return CliRunner().invoke(main, list(args), env={"IOMTSHARE_TESTNET": None})


def test_explore_edges_reads_genesis_and_each_edge_of_a_testnet(tmp_path: Path) -> None:
    network = create_network(tmp_path / "net", 2, edges=2)
    first = network.edges[0]
    port = int(first.http_url.rsplit(":", 1)[1])
    with serving(port, {"/status": EDGE_STATUS}):
        shown = invoke("explore", "edges", "--testnet", str(tmp_path / "net"), "--json")
    # The second edge is not running: it is listed, and the command says so in its exit status.
    assert shown.exit_code == 1, shown.output
    assert "some edges do not answer" in shown.stderr
    rows = json.loads(shown.stdout)
    assert [(r["peer_id"], r["verify_key"]) for r in rows] == edges_of(network)
    assert rows[0] == {
        "peer_id": first.peer_id, "verify_key": network.genesis.edges[0].verify_key.hex(),
        "http_url": first.http_url, "height": 42, "peers_connected": 3, "headers_refused": 2,
        "error": None,
    }
    assert rows[1]["http_url"] == network.edges[1].http_url
    assert rows[1]["height"] is None
    assert rows[1]["error"]


def test_explore_edges_from_a_node_with_edge_urls_and_a_table(tmp_path: Path) -> None:
    network = create_network(tmp_path / "net", 2, edges=1)
    node_port, edge_port = free_ports(2)
    genesis = {"/genesis": network.genesis.to_json(), "/status": {"height": 5}}
    with serving(node_port, genesis) as node, serving(edge_port, {"/status": EDGE_STATUS}) as edge:
        shown = invoke("explore", "edges", "--node", node, "--url", edge, "--json")
        assert shown.exit_code == 0, shown.output
        rows = json.loads(shown.stdout)
        # The node's genesis lists the edge; the URL's edge does not say which one it is.
        assert [(r["peer_id"], r["verify_key"], r["http_url"]) for r in rows] == [
            (network.edges[0].peer_id, network.genesis.edges[0].verify_key.hex(), None),
            (None, None, edge),
        ]
        assert (rows[1]["height"], rows[1]["peers_connected"], rows[1]["headers_refused"]) == (
            42, 3, 2
        )
        table = invoke("explore", "edges", "--node", node, "--url", edge)
        assert table.exit_code == 0, table.output
        assert network.edges[0].peer_id[:12] + "…" in table.stdout
        assert network.genesis.edges[0].verify_key.hex()[:8] + "…" in table.stdout
        assert "edges (1 in genesis)" in table.stdout
        # A consensus node is not an edge.
        wrong = invoke("explore", "edges", "--node", node, "--url", node, "--json")
        assert wrong.exit_code == 1
        assert json.loads(wrong.stdout)[1]["error"].startswith("not an edge")


def test_explore_edges_of_a_genesis_without_edges(tmp_path: Path) -> None:
    network = create_network(tmp_path / "net", 2)
    (port,) = free_ports(1)
    with serving(port, {"/genesis": network.genesis.to_json()}) as node:
        shown = invoke("explore", "edges", "--node", node, "--json")
        assert shown.exit_code == 0, shown.output
        assert json.loads(shown.stdout) == []
        table = invoke("explore", "edges", "--node", node)
        assert "edges (0 in genesis): (none)" in table.stdout
    missing = invoke("explore", "edges", "--testnet", str(tmp_path / "none"))
    assert missing.exit_code == 1
    assert "no network" in missing.output


def test_testnet_status_lists_edges_after_the_nodes(tmp_path: Path) -> None:
    network = create_network(tmp_path / "net", 1, edges=1)
    node_port = int(network.nodes[0].http_url.rsplit(":", 1)[1])
    edge_port = int(network.edges[0].http_url.rsplit(":", 1)[1])
    node_status = {"height": 42, "head_hash": "ab" * 32, "peers_connected": 0}
    with serving(node_port, {"/status": node_status}), serving(edge_port, {"/status": EDGE_STATUS}):
        shown = invoke("testnet", "status", "--dir", str(tmp_path / "net"), "--json")
        assert shown.exit_code == 0, shown.output
        node, edge = json.loads(shown.stdout)
        assert (node["role"], node["index"], node["height"]) == ("node", 1, 42)
        assert "headers_refused" not in node
        assert (edge["role"], edge["index"], edge["height"], edge["peers_connected"]) == (
            "edge", 1, 42, 3
        )
        assert (edge["head_hash"], edge["headers_refused"]) == ("ab" * 32, 2)
        table = invoke("testnet", "status", "--dir", str(tmp_path / "net"))
        assert table.exit_code == 0, table.output
        assert "edge" in table.stdout
    down = invoke("testnet", "status", "--dir", str(tmp_path / "net"), "--json")
    assert down.exit_code == 1
    assert "some nodes or edges do not answer" in down.stderr
    assert [s["role"] for s in json.loads(down.stdout)] == ["node", "edge"]
