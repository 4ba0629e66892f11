"""Read-only routes over the authority's on-chain keys: members' published attribute keys and
the domain key's epochs (:mod:`ledger.authority_state`).

``GET /members/{id}/attribute-key`` serves the latest attribute key published for a member,
sealed to the member's box key (only the member opens it), and says whether it is still for the
member's current attributes. ``GET /domain-keys`` lists every epoch of the domain key with the
current one named; ``GET /domain-keys/{epoch}`` one epoch. Each answer is a few key lookups.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ledger import authority_state
from ledger.genesis import DomainKeys
from node.http.errors import NotFound
from node.http.params import hex_param, parse_int
from node.view import NodeView


def domain_json(keys: DomainKeys, dealt: authority_state.DomainEpoch | None) -> dict[str, Any]:
    """One epoch's public keys and where it was dealt (``height`` 0 and no ``tx_id`` for the
    genesis epoch)."""
    return {
        "epoch": keys.epoch,
        "threshold": keys.threshold,
        "public_key": keys.public_key.hex(),
        "verification_keys": [vk.hex() for vk in keys.verification_keys],
        "height": dealt.height if dealt is not None else 0,
        "tx_id": dealt.tx_id.hex() if dealt is not None else None,
    }


def authority_routes(view: NodeView) -> list[Route]:
    """``GET /members/{id}/attribute-key``, ``GET /domain-keys`` and ``/domain-keys/{epoch}``."""

    async def attribute_key(request: Request) -> Response:
        member_id = hex_param(request.path_params["member_id"], "member_id")
        ledger = view.ledger
        member = ledger.member(member_id)
        if member is None:
            raise NotFound("no such member")
        entry = authority_state.attribute_key(ledger.store, member_id)
        if entry is None:
            raise NotFound("no attribute key has been published for this member")
        return JSONResponse(
            {
                "member_id": member_id.hex(),
                "attribute_seq": entry.attribute_seq,
                "attribute_head": entry.attribute_head.hex(),
                # False once the member's attributes changed after the key was made.
                "current": entry.attribute_seq == member.attribute_seq,
                "issued_key": entry.issued_key.hex(),
                "issued_at_ms": entry.issued_at_ms,
                "height": entry.height,
                "tx_id": entry.tx_id.hex(),
            }
        )

    def epoch_json(epoch: int) -> dict[str, Any] | None:
        ledger = view.ledger
        keys = authority_state.domain_keys(ledger.store, ledger.genesis, epoch)
        if keys is None:
            return None
        return domain_json(keys, authority_state.domain_epoch(ledger.store, epoch))

    async def domain_keys(request: Request) -> Response:
        ledger = view.ledger
        current = authority_state.current_domain_epoch(ledger.store, ledger.genesis)
        if current is None:
            raise NotFound("this network's genesis deals no domain key")
        epochs = [epoch_json(epoch) for epoch in range(current + 1)]
        return JSONResponse({"current": current, "epochs": [e for e in epochs if e is not None]})

    async def domain_epoch(request: Request) -> Response:
        epoch = parse_int(request.path_params["epoch"], "epoch", 0, 2**32 - 1)
        found = epoch_json(epoch)
        if found is None:
            raise NotFound(f"no domain key of epoch {epoch}")
        return JSONResponse(found)

    return [
        Route("/members/{member_id}/attribute-key", attribute_key, methods=["GET"]),
        Route("/domain-keys", domain_keys, methods=["GET"]),
        Route("/domain-keys/{epoch}", domain_epoch, methods=["GET"]),
    ]
