"""Read-only routes the web explorer needs beyond :mod:`node.http.explorer`: the member list,
a record's storage as this node holds it, and how often each grantee opened a record.

Like the explorer routes, each answer comes from key or index lookups over the ledger.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from crypto.errors import DecodeError
from crypto.storage import StorageCommitment
from ledger.records import RecordEntry
from node.http.errors import NotFound
from node.http.explorer import limit_param, member_json
from node.http.params import hex_param
from node.view import NodeView


def browse_routes(view: NodeView) -> list[Route]:
    """``GET /members``, ``GET /records/{id}/fragments`` and ``GET /records/{id}/accesses``."""

    def committed_record(request: Request) -> RecordEntry:
        entry = view.ledger.record(hex_param(request.path_params["record_id"], "record_id"))
        if entry is None:
            raise NotFound("no such record")
        return entry

    async def members(request: Request) -> Response:
        after = request.query_params.get("after")
        ledger = view.ledger
        found = ledger.members(
            after=None if after is None else hex_param(after, "after"), limit=limit_param(request)
        )
        return JSONResponse(
            {"members": [member_json(m, ledger.is_blacklisted(m.member_id)) for m in found]}
        )

    async def fragments(request: Request) -> Response:
        entry = committed_record(request)
        try:
            commitment: StorageCommitment | None = StorageCommitment.from_bytes(
                entry.storage_commitments
            )
        except DecodeError:
            commitment = None  # a record may carry no bulk data
        held = view.ledger.fragments.of_record(entry.record_id)
        return JSONResponse(
            {
                "record_id": entry.record_id.hex(),
                "threshold": commitment.threshold if commitment else None,
                "total": commitment.total if commitment else None,
                "length": commitment.length if commitment else None,
                "node_index": view.status().node_index,
                "held_here": [{"index": f.index, "size": len(f.fragment)} for f in held],
            }
        )

    async def accesses(request: Request) -> Response:
        entry = committed_record(request)
        ledger = view.ledger
        # A grantee (revoked ones keep their count) or, for a policy record, a requester the
        # audit chain shows granted.
        grantees = {g.grantee for g in ledger.grants(entry.record_id)}
        grantees |= {r.grantee for r in ledger.revocations(entry.record_id)}
        grantees |= {a.requester for a in ledger.audit_by_record(entry.record_id) if a.granted}
        counts = {g: ledger.access_count(g, entry.record_id) for g in sorted(grantees)}
        return JSONResponse(
            {
                "record_id": entry.record_id.hex(),
                "access_limit": entry.access_limit,
                "total": sum(counts.values()),
                "accesses": [{"requester": g.hex(), "count": n} for g, n in counts.items()],
            }
        )

    return [
        Route("/members", members, methods=["GET"]),
        Route("/records/{record_id}/fragments", fragments, methods=["GET"]),
        Route("/records/{record_id}/accesses", accesses, methods=["GET"]),
    ]
