"""``iomtshare explore edges``: the edges genesis lists and, where their HTTP API is known, how
far each one follows the chain.

Genesis comes from a node (``--node``) or, with ``--testnet DIR``, from a local testnet, whose
edges' URLs are then known too. ``--url`` adds edges to ask (repeatable). An edge's ``/status``
does not name its peer id, so a ``--url`` edge is shown on a row of its own unless its address
is one the testnet already ties to a genesis edge.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from cli.common import client_errors, emit, json_option, node_option, wide_output

#: One edge's ``/status`` may take this long before it counts as not answering.
STATUS_TIMEOUT_SECONDS = 5.0
#: Characters of a peer id a narrow table shows (as ``explore peers`` does).
SHORT_PEER = 12


@click.command("edges")
@click.option("--url", "urls", multiple=True,
              help="HTTP URL of an edge to ask for its status (repeatable).")
@click.option("--testnet", "directory", envvar="IOMTSHARE_TESTNET", default=None,
              type=click.Path(file_okay=False, path_type=Path),
              help="A local testnet (or $IOMTSHARE_TESTNET): genesis and the edges' URLs are "
                   "read there, and --node is not asked.")
@node_option
@json_option
def edges(urls: tuple[str, ...], directory: Path | None, node_url: str, as_json: bool) -> None:
    """Genesis edges (peer id, verify key) with, for each edge whose URL is known (--url, or
    the testnet's), its height, connected consensus nodes and refused header batches; exit
    status 1 if one of them does not answer."""
    known: dict[str, str] = {}  # peer id -> edge URL
    with client_errors():
        if directory is not None:
            from testnet.layout import load_network

            network = load_network(directory)
            listed = [
                {"peer_id": e.peer_id, "verify_key": e.verify_key.hex()}
                for e in network.genesis.edges
            ]
            known = {e.peer_id: e.http_url for e in network.edges}
        else:
            from client import NodeClient

            with NodeClient(node_url) as client:
                listed = list(client.genesis().get("edges", []))
    extra = [url for url in dict.fromkeys(u.rstrip("/") for u in urls) if url not in known.values()]
    rows = [{**edge, **_edge_status(known.get(str(edge["peer_id"])))} for edge in listed]
    rows += [{"peer_id": None, "verify_key": None, **_edge_status(url)} for url in extra]
    title = f"edges ({len(listed)} in genesis)"
    if as_json or wide_output():
        emit(rows, as_json, title=title)
    else:
        emit([_narrow(row) for row in rows], False, title=title)
    if any(row["error"] for row in rows):
        raise click.ClickException("some edges do not answer")


def _narrow(row: dict[str, Any]) -> dict[str, Any]:
    """``row`` for an 80-column table: short peer id, URL without its scheme, short labels,
    and the error column only for an edge that did not answer."""
    peer, url = row["peer_id"], row["http_url"]
    out = {
        "peer": peer[:SHORT_PEER] + "…" if isinstance(peer, str) else None,
        "verify_key": row["verify_key"],
        "http": url.split("://", 1)[-1] if isinstance(url, str) else None,
        "height": row["height"],
        "peers": row["peers_connected"],
        "refused": row["headers_refused"],
    }
    return {**out, "error": row["error"]} if row["error"] else out


def _edge_status(url: str | None) -> dict[str, Any]:
    """The status fields of the edge at ``url`` (all None when no URL is known), with
    ``error`` saying why they are missing when it did not answer as an edge."""
    from client import ClientError, NodeClient

    out: dict[str, Any] = {"http_url": url, "height": None, "peers_connected": None,
                           "headers_refused": None, "error": None}
    if url is None:
        return out
    try:
        with NodeClient(url, timeout=STATUS_TIMEOUT_SECONDS) as client:
            answer = client.status()
    except ClientError as exc:
        return {**out, "error": str(exc)}
    if answer.get("role") != "edge":
        return {**out, "error": "not an edge (its /status names no role edge)"}
    fields = ("height", "peers_connected", "headers_refused")
    return {**out, **{name: answer.get(name) for name in fields}}
