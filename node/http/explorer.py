"""Read-only HTTP routes over the ledger: blocks, transactions, members, records, audit.

Every answer is built from one ledger query (key or index lookups, never a scan of the chain)
and rendered to JSON by :func:`render`: bytes become lowercase hex, tuples lists.
"""

from __future__ import annotations

import dataclasses
import functools
from enum import Enum
from typing import Any

import trio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from crypto.errors import VerificationError
from crypto.signing import VerifyKey
from ledger import devices
from ledger.blacklist import standing
from ledger.block import Block, BlockHeader, BlockParts
from ledger.errors import IntegrityError
from ledger.ledger import Ledger
from ledger.queries import StoredBlock
from ledger.records import ZERO_HASH, AuditKind, AuditRecord, Member, RecordEntry
from ledger.transactions import AttributeChange, MemberRole, PutRecord, RegisterMember
from node.http.errors import BadRequest, NotFound
from node.http.params import hex_param, parse_int, query_int
from node.view import NodeView

MAX_LIMIT = 1000


def render(value: Any) -> Any:
    """JSON-ready form of ledger and consensus values."""
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, tuple | list):
        return [render(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: render(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if not f.name.startswith("_")
        }
    return value


def limit_param(request: Request) -> int:
    """``?limit=N`` (default 100; 0 means the default; capped at :data:`MAX_LIMIT`)."""
    return min(query_int(request, "limit", 100) or 100, MAX_LIMIT)


def height_range(request: Request, head: int) -> tuple[int, int]:
    """``?from=H&to=H`` as ``start, stop`` with ``start <= height < stop``; ``to`` is capped
    at the head, so ``stop`` stays a valid height however large ``to`` is."""
    start = query_int(request, "from", 1) or 1
    stop = min(query_int(request, "to", head) or head, head) + 1
    return start, stop


def header_json(header: BlockHeader) -> dict[str, Any]:
    out: dict[str, Any] = render(header)
    out["hash"] = header.hash().hex()
    return out


def block_json(stored: StoredBlock) -> dict[str, Any]:
    block: Block = stored.block
    return {
        "height": block.height,
        "hash": block.hash().hex(),
        "header": header_json(block.header),
        "tx_ids": [t.hex() for t in block.tx_ids()],
        "sharing_results": [{**render(r), "hash": r.hash().hex()} for r in block.results],
        "commit_qc": render(stored.commit_qc),
        "raw": block.to_bytes().hex(),
    }


def record_json(entry: RecordEntry) -> dict[str, Any]:
    return {
        "record_id": entry.record_id.hex(),
        "owner": entry.owner.hex(),
        "keywords_hash": entry.keywords_hash.hex(),
        "policy": entry.policy,
        "access_limit": entry.access_limit,
        "metadata_ciphertext": entry.metadata_ciphertext.hex(),
        "storage_commitment": entry.storage_commitments.hex(),
        "abe_ciphertext": entry.abe_ciphertext.hex(),
        "domain_epoch": entry.domain_epoch,
        "domain_ciphertext": entry.domain_ciphertext.hex(),
        "created_at_ms": entry.created_at_ms,
        "height": entry.height,
        "tx_id": entry.tx_id.hex(),
    }


def record_device_json(ledger: Ledger, entry: RecordEntry) -> dict[str, Any]:
    """``{"device_id", "edge", "submitted_by"}`` when an edge submitted the record for a
    device, else ``{}`` (read from the record's PutRecord, which alone names the device)."""
    stored = ledger.transaction(entry.tx_id)
    tx = stored.transaction if stored is not None else None
    if not isinstance(tx, PutRecord) or not tx.device_id:
        return {}
    registered = devices.device(ledger.store, tx.device_id)
    edge = registered.edge if registered is not None else "?"
    return {
        "device_id": tx.device_id.hex(),
        "edge": edge,
        "submitted_by": f"edge {edge} for device {tx.device_id.hex()}",
    }


def member_json(entry: Member, blacklisted: bool) -> dict[str, Any]:
    try:
        role = MemberRole(entry.role).name.lower()
    except ValueError:
        role = str(entry.role)
    return {
        "member_id": entry.member_id.hex(),
        "role": role,
        "verify_key": entry.verify_key.hex(),
        "box_key": entry.box_key.hex(),
        "tpre_public_key": entry.public_key_material.hex(),
        "key_version": entry.key_version,
        "attributes": list(entry.attributes),
        "registered_height": entry.registered_height,
        "blacklisted": blacklisted,
    }


def audit_json(record: AuditRecord) -> dict[str, Any]:
    return {
        "seq": record.seq,
        "height": record.height,
        "request_id": record.request_id.hex(),
        "record_id": record.record_id.hex(),
        "requester": record.requester.hex(),
        # An unblacklisting (AuditKind.UNBLACKLIST) sits on the chain between decisions.
        "decision": (
            "unblacklisted"
            if record.kind == AuditKind.UNBLACKLIST
            else "granted" if record.granted else "denied"
        ),
        "approvals": record.approvals,
        "denials": record.denials,
        "result_hash": record.result_hash.hex(),
        "prev_hash": record.prev_hash.hex(),
        "hash": record.hash().hex(),
    }


def attribute_links_json(ledger: Ledger, member_id: bytes) -> list[dict[str, Any]]:
    """``member_id``'s attribute-change chain, each link with its hash, whether it names the
    previous link's hash (``linked``) and the authority's signature on the transaction that made
    it, checked again here (``signature``: ``valid``, ``invalid`` or ``missing``)."""
    out = []
    previous = ZERO_HASH
    authority = VerifyKey(ledger.genesis.authority_key)
    for position, link in enumerate(ledger.attribute_history(member_id)):
        stored = ledger.transaction(link.tx_id)
        status = "missing"
        if stored is not None and isinstance(stored.transaction, RegisterMember | AttributeChange):
            try:
                stored.transaction.verify_signature(authority, ledger.genesis.chain_id)
                status = "valid"
            except VerificationError:
                status = "invalid"
        out.append(
            {
                **render(link),
                "hash": link.hash().hex(),
                "linked": link.prev_hash == previous and link.seq == position,
                "signature": status,
            }
        )
        previous = link.hash()
    return out


def explorer_routes(view: NodeView) -> list[Route]:
    """The GET routes of docs/http-api.md that only read the ledger."""

    def ledger() -> Ledger:
        return view.ledger

    verify_turn = trio.Lock()

    async def block_at(request: Request) -> Response:
        height = parse_int(request.path_params["height"], "height")
        stored = ledger().block(height) if height > 0 else None
        if stored is None:
            raise NotFound(f"no block at height {height}")
        return JSONResponse(block_json(stored))

    async def block_by_hash(request: Request) -> Response:
        stored = ledger().block_by_hash(hex_param(request.path_params["hash"], "hash"))
        if stored is None:
            raise NotFound("no block with this hash")
        return JSONResponse(block_json(stored))

    async def blocks(request: Request) -> Response:
        start, stop = height_range(request, ledger().height)
        order = request.query_params.get("order", "asc")
        if order not in ("asc", "desc"):
            raise BadRequest("order must be asc or desc")
        heights = range(start, stop) if order == "asc" else range(stop - 1, start - 1, -1)
        out = []
        for height in heights[: limit_param(request)]:
            raw = ledger().encoded_block(height)
            if raw is None:
                continue
            # Split, not decoded: the counts need only the items' framing.
            parts = BlockParts.from_bytes(raw)
            summary = header_json(parts.header)
            summary["tx_count"] = len(parts.transactions)
            summary["result_count"] = len(parts.results)
            out.append(summary)
        return JSONResponse({"blocks": out})

    async def member(request: Request) -> Response:
        member_id = hex_param(request.path_params["member_id"], "member_id")
        entry = ledger().member(member_id)
        if entry is None:
            raise NotFound("no such member")
        answer = member_json(entry, ledger().is_blacklisted(member_id))
        answer["standing"] = standing(ledger(), ledger().genesis, member_id).to_json()
        return JSONResponse(answer)

    async def attributes(request: Request) -> Response:
        member_id = hex_param(request.path_params["member_id"], "member_id")
        if ledger().member(member_id) is None:
            raise NotFound("no such member")
        return JSONResponse({"history": attribute_links_json(ledger(), member_id)})

    async def record(request: Request) -> Response:
        entry = ledger().record(hex_param(request.path_params["record_id"], "record_id"))
        if entry is None:
            raise NotFound("no such record")
        return JSONResponse({**record_json(entry), **record_device_json(ledger(), entry)})

    async def records(request: Request) -> Response:
        limit = limit_param(request)
        owner = request.query_params.get("owner")
        keywords = request.query_params.get("keywords")
        if owner is not None:
            found = ledger().records_by_owner(hex_param(owner, "owner"), limit=limit)
        elif keywords is not None:
            found = ledger().records_by_keywords(hex_param(keywords, "keywords"), limit=limit)
        else:
            raise BadRequest("give owner=ID or keywords=HASH")
        return JSONResponse({"records": [record_json(r) for r in found]})

    async def grants(request: Request) -> Response:
        record_id = hex_param(request.path_params["record_id"], "record_id")
        if ledger().record(record_id) is None:
            raise NotFound("no such record")
        out = [
            {
                "grantee": g.grantee.hex(),
                "version": g.version,
                "threshold": g.threshold,
                "expiry": g.expires_at_ms,
                "revoked": False,
                "height": g.height,
                "tx_id": g.tx_id.hex(),
            }
            for g in ledger().grants(record_id)
        ]
        out += [
            {
                "grantee": r.grantee.hex(),
                "version": r.version,
                "threshold": None,
                "expiry": None,
                "revoked": True,
                "height": r.height,
                "tx_id": r.tx_id.hex(),
            }
            for r in ledger().revocations(record_id)
        ]
        return JSONResponse({"grants": out})

    async def audit(request: Request) -> Response:
        limit = limit_param(request)
        record_id = request.query_params.get("record")
        requester = request.query_params.get("requester")
        if record_id is not None:
            found = ledger().audit_by_record(hex_param(record_id, "record"), limit=limit)
        elif requester is not None:
            found = ledger().audit_by_requester(hex_param(requester, "requester"), limit=limit)
        else:
            start, stop = height_range(request, ledger().height)
            found = ledger().audit_by_heights(start, stop, limit=limit)
        return JSONResponse({"audit": [audit_json(a) for a in found]})

    async def blacklist(request: Request) -> Response:
        entries = ledger().blacklist(limit=MAX_LIMIT)
        return JSONResponse({"blacklist": [render(e) for e in entries]})

    async def verify(request: Request) -> Response:
        # On a snapshot, in a worker thread: a long verify must not stall consensus or other
        # requests. One at a time; later callers wait their turn.
        try:
            async with verify_turn:
                report = await trio.to_thread.run_sync(
                    functools.partial(ledger().verify, snapshot=True)
                )
        except IntegrityError as exc:
            return JSONResponse(
                {"ok": False, "height": ledger().height, "first_bad": render_integrity(exc)}
            )
        return JSONResponse(
            {"ok": True, "height": report.height, "first_bad": None, **render(report)}
        )

    return [
        Route("/blocks/by-hash/{hash}", block_by_hash, methods=["GET"]),
        Route("/blocks/{height}", block_at, methods=["GET"]),
        Route("/blocks", blocks, methods=["GET"]),
        Route("/members/{member_id}/attributes", attributes, methods=["GET"]),
        Route("/members/{member_id}", member, methods=["GET"]),
        Route("/records/{record_id}/grants", grants, methods=["GET"]),
        Route("/records/{record_id}", record, methods=["GET"]),
        Route("/records", records, methods=["GET"]),
        Route("/audit", audit, methods=["GET"]),
        Route("/blacklist", blacklist, methods=["GET"]),
        Route("/verify", verify, methods=["GET"]),
    ]


def render_integrity(exc: IntegrityError) -> dict[str, Any]:
    out: dict[str, Any] = {"what": str(exc)}
    height = getattr(exc, "height", None)
    if height is not None:
        out["height"] = height
    location = getattr(exc, "location", None)
    if location is not None:
        out["key"] = location
    return out
