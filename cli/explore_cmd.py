"""``iomtshare explore ...``: read-only queries against a node's HTTP API (``--node URL``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click

from cli.common import client_errors, emit, hex_id, json_option, node_option


@contextmanager
def _client(node_url: str) -> Iterator[Any]:
    from client import NodeClient

    with client_errors(), NodeClient(node_url) as client:
        yield client


def _show(node_url: str, as_json: bool, query: Callable[[Any], Any], title: str) -> Any:
    with _client(node_url) as client:
        value = query(client)
    emit(value, as_json, title=title)
    return value


@click.group("explore")
def explore() -> None:
    """Explorer queries: status, peers, block(s), tx, record, audit, attributes, members, ..."""


@explore.command("status")
@node_option
@json_option
def status(node_url: str, as_json: bool) -> None:
    """Chain id, height, head and peers of the node."""
    _show(node_url, as_json, lambda c: c.status(), "status")


@explore.command("block")
@click.argument("height_or_hash")
@node_option
@json_option
def block(height_or_hash: str, node_url: str, as_json: bool) -> None:
    """One block, by height or by hash."""
    if height_or_hash.isdigit():
        height = int(height_or_hash)
        _show(node_url, as_json, lambda c: c.block(height), f"block {height}")
    else:
        block_hash = hex_id(height_or_hash, "block hash").hex()
        _show(node_url, as_json, lambda c: c.block_by_hash(block_hash), "block")


@explore.command("blocks")
@click.option("--from", "start", type=click.IntRange(0), default=None, help="First height.")
@click.option("--to", "end", type=click.IntRange(0), default=None, help="Last height.")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@node_option
@json_option
def blocks(start: int | None, end: int | None, limit: int, node_url: str, as_json: bool) -> None:
    """Header summaries of a range of blocks, in height order."""
    _show(node_url, as_json, lambda c: c.blocks(start, end, limit), "blocks")


@explore.command("tx")
@click.argument("tx_id")
@click.option("--wait", type=click.FloatRange(0, 60), default=None, help="Wait for the commit.")
@node_option
@json_option
def tx(tx_id: str, wait: float | None, node_url: str, as_json: bool) -> None:
    """A committed transaction by id."""
    ident = hex_id(tx_id, "tx id").hex()
    _show(node_url, as_json, lambda c: c.tx(ident, wait=wait), "transaction")


@explore.command("record")
@click.argument("record_id")
@node_option
@json_option
def record(record_id: str, node_url: str, as_json: bool) -> None:
    """A record and its grants."""
    ident = hex_id(record_id, "record id").hex()

    def query(client: Any) -> dict[str, Any]:
        found: dict[str, Any] = client.record(ident)
        return {**found, "grants": client.grants(ident)}

    _show(node_url, as_json, query, "record")


@explore.command("records")
@click.option("--owner", default=None, help="Records of this owner (member id).")
@click.option("--keyword", "keywords", multiple=True,
              help="Records stored with exactly these keywords (repeatable).")
@node_option
@json_option
def records(owner: str | None, keywords: tuple[str, ...], node_url: str, as_json: bool) -> None:
    """Find records by owner, or by their keywords (matched through H(keywords))."""
    from client.metadata import keywords_hash

    if (owner is None) == (not keywords):
        raise click.UsageError("give either --owner or --keyword")
    by_owner = hex_id(owner, "owner id").hex() if owner else None
    by_keywords = keywords_hash(keywords).hex() if keywords else None
    _show(
        node_url,
        as_json,
        lambda c: c.records(owner=by_owner, keywords=by_keywords),
        "records",
    )


@explore.command("audit")
@click.option("--record", "record_id", default=None, help="Only this record.")
@click.option("--requester", default=None, help="Only this requester.")
@click.option("--from", "start", type=click.IntRange(0), default=None, help="First height.")
@click.option("--to", "end", type=click.IntRange(0), default=None, help="Last height.")
@node_option
@json_option
def audit(
    record_id: str | None,
    requester: str | None,
    start: int | None,
    end: int | None,
    node_url: str,
    as_json: bool,
) -> None:
    """The sharing-audit chain: every decision, linked, filtered by record/requester/heights."""
    rec = hex_id(record_id, "record id").hex() if record_id else None
    req = hex_id(requester, "requester id").hex() if requester else None
    if rec is None and req is None and start is None:
        start = 0
    _show(
        node_url,
        as_json,
        lambda c: c.audit(record=rec, requester=req, start=start, end=end),
        "audit",
    )


@explore.command("attributes")
@click.argument("member_id")
@node_option
@json_option
def attributes(member_id: str, node_url: str, as_json: bool) -> None:
    """A member's attribute-change chain."""
    ident = hex_id(member_id, "member id").hex()
    _show(node_url, as_json, lambda c: c.attributes(ident), "attribute history")


@explore.command("members")
@click.argument("member_ids", nargs=-1, required=True)
@node_option
@json_option
def members(member_ids: tuple[str, ...], node_url: str, as_json: bool) -> None:
    """Registered members by id (keys, role, blacklisting)."""
    idents = [hex_id(m, "member id").hex() for m in member_ids]
    _show(node_url, as_json, lambda c: [c.member(i) for i in idents], "members")


@explore.command("peers")
@node_option
@json_option
def peers(node_url: str, as_json: bool) -> None:
    """The node's listen addresses and its view of every other genesis node."""
    with _client(node_url) as client:
        info = client.net_info()
    if as_json:
        emit(info, True)
        return
    click.echo("listening on " + ", ".join(info.get("listen", [])))
    emit(info.get("peers", []), False, title="peers")


@explore.command("blacklist")
@node_option
@json_option
def blacklist(node_url: str, as_json: bool) -> None:
    """Members blacklisted after repeated denials."""
    _show(node_url, as_json, lambda c: c.blacklist(), "blacklist")


@explore.command("verify")
@node_option
@json_option
def verify(node_url: str, as_json: bool) -> None:
    """Re-verify the node's ledger; exits with status 1 if it reports damage."""
    report = _show(node_url, as_json, lambda c: c.verify(), "ledger verification")
    if not report.get("ok"):
        raise click.ClickException(f"ledger verification failed: {report.get('first_bad')}")
