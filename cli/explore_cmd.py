"""``iomtshare explore ...``: read-only queries against a node's HTTP API (``--node URL``).

Tables fit 80 columns (``--wide`` for every column and whole ids); wherever a member id is
asked for, a member directory (or its ``member.json``) will do.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import click

from cli.common import (
    MEMBER_ID,
    client_errors,
    emit,
    hex_id,
    json_option,
    node_option,
    wide_output,
)
from cli.explore_edges import edges


@contextmanager
def _client(node_url: str) -> Iterator[Any]:
    from client import NodeClient

    with client_errors(), NodeClient(node_url) as client:
        yield client


def _show(
    node_url: str,
    as_json: bool,
    query: Callable[[Any], Any],
    title: str,
    columns: Sequence[str] | None = None,
) -> Any:
    with _client(node_url) as client:
        value = query(client)
    emit(value, as_json, title=title, columns=columns)
    return value


@click.group("explore")
def explore() -> None:
    """Explorer queries: status, peers, block(s), tx, record(s), audit, attributes, members,
    domain-keys, edges, ..."""


explore.add_command(edges)


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
    """Header summaries, newest first: the latest --limit blocks, or those of --from/--to."""
    from client.queries import newest_blocks

    _show(
        node_url,
        as_json,
        lambda c: newest_blocks(c, start=start, end=end, limit=limit),
        "blocks",
        ["height", "time_ms", "round", "proposer", "hash", "prev_hash"],
    )


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
    """A record: its kind and policy, how often each requester opened it against its access
    limit (delta), and its grants."""
    ident = hex_id(record_id, "record id").hex()

    def query(client: Any) -> dict[str, Any]:
        found: dict[str, Any] = client.record(ident)
        accesses = client.accesses(ident)
        limit = accesses.get("access_limit")
        policy = found.get("policy") or ""
        return {
            "record_id": found.get("record_id"),
            "kind": "policy" if policy else "owner-grant",
            "policy": policy or None,
            "access_limit": limit,
            "accesses": [
                {**entry, "of_limit": f"{entry.get('count')}/{limit}"}
                for entry in accesses.get("accesses", [])
            ],
            **{k: v for k, v in found.items() if k not in ("record_id", "policy")},
            "grants": client.grants(ident),
        }

    _show(node_url, as_json, query, "record")


@explore.command("records")
@click.option("--owner", type=MEMBER_ID, default=None,
              help="Records of this owner (member id or member directory).")
@click.option("--keyword", "keywords", multiple=True,
              help="Records stored with exactly these keywords (repeatable).")
@node_option
@json_option
def records(owner: bytes | None, keywords: tuple[str, ...], node_url: str, as_json: bool) -> None:
    """Find records by owner, or by their keywords (matched through H(keywords))."""
    from ledger.record_metadata import keywords_hash

    if (owner is None) == (not keywords):
        raise click.UsageError("give either --owner or --keyword")
    by_owner = owner.hex() if owner else None
    by_keywords = keywords_hash(keywords).hex() if keywords else None
    _show(
        node_url,
        as_json,
        lambda c: c.records(owner=by_owner, keywords=by_keywords),
        "records",
        ["record_id", "owner", "policy", "access_limit", "height"],
    )


@explore.command("audit")
@click.option("--record", "record_id", default=None, help="Only this record.")
@click.option("--requester", type=MEMBER_ID, default=None,
              help="Only this requester (member id or member directory).")
@click.option("--from", "start", type=click.IntRange(0), default=None, help="First height.")
@click.option("--to", "end", type=click.IntRange(0), default=None, help="Last height.")
@node_option
@json_option
def audit(
    record_id: str | None,
    requester: bytes | None,
    start: int | None,
    end: int | None,
    node_url: str,
    as_json: bool,
) -> None:
    """The sharing-audit chain: every decision, linked; the filters given all apply."""
    from client.queries import audit_entries

    rec = hex_id(record_id, "record id").hex() if record_id else None
    req = requester.hex() if requester else None
    if start is not None and end is not None and start > end:
        raise click.BadParameter(f"--from {start} is after --to {end}", param_hint="--from")
    _show(
        node_url,
        as_json,
        lambda c: audit_entries(c, record=rec, requester=req, start=start, end=end),
        "audit",
        ["seq", "height", "request_id", "record_id", "requester", "decision"],
    )


@explore.command("attributes")
@click.argument("member", type=MEMBER_ID)
@node_option
@json_option
def attributes(member: bytes, node_url: str, as_json: bool) -> None:
    """A member's attribute-change chain (MEMBER: member id or member directory): each link with
    whether it names the previous link's hash (linked) and the authority's signature on the
    transaction that made it, checked again by the node (valid, invalid or missing)."""
    ident = member.hex()
    _show(node_url, as_json, lambda c: c.attributes(ident), "attribute history",
          ["seq", "height", "attributes", "reason", "linked", "signature"])


@explore.command("domain-keys")
@node_option
@json_option
def domain_keys(node_url: str, as_json: bool) -> None:
    """Every epoch of the network's domain key: its threshold, where it was dealt (height 0 for
    the genesis epoch) and whether it is the current one, which new records must use."""

    def query(client: Any) -> list[dict[str, Any]]:
        answer = client.domain_keys()
        return [
            {**epoch, "current": epoch.get("epoch") == answer.get("current")}
            for epoch in answer.get("epochs", [])
        ]

    _show(node_url, as_json, query, "domain-key epochs",
          ["epoch", "current", "threshold", "height", "tx_id"])


@explore.command("members")
@click.argument("members", nargs=-1, required=True, type=MEMBER_ID)
@node_option
@json_option
def members(members: tuple[bytes, ...], node_url: str, as_json: bool) -> None:
    """Registered members (MEMBERS: member ids or member directories): role, attributes,
    blacklisting."""
    idents = [m.hex() for m in members]
    _show(node_url, as_json, lambda c: [c.member(i) for i in idents], "members",
          ["member_id", "role", "attributes", "registered_height", "blacklisted"])


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
    for address in info.get("listen", []):
        listen, _, peer = str(address).partition("/p2p/")
        # A whole multiaddr outgrows 80 columns; the peer id alone is recognisable.
        shown = address if wide_output() or not peer else f"{listen} (peer {peer[:12]}…)"
        click.echo(f"listening on {shown}")
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
