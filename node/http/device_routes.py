"""Read-only routes over the devices registered on chain (:mod:`ledger.devices`).

``GET /devices`` lists devices in device id order (``?owner=`` keeps one member's, ``?after=``
starts past a device id, ``?limit=`` as elsewhere); ``GET /devices/{device_id}`` one device with
its ReKey of every epoch since its registration and whether it has one for the current epoch
(an edge can submit its records only then). A record an edge submitted for a device names both
in ``GET /records/{id}`` (:func:`node.http.explorer.record_device_json`).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ledger import authority_state, devices, schema
from node.http.errors import NotFound
from node.http.explorer import limit_param
from node.http.params import hex_param
from node.view import NodeView


def device_json(entry: devices.DeviceEntry) -> dict[str, Any]:
    return {
        "device_id": entry.device_id.hex(),
        "device_key": entry.device_key.hex(),
        "owner": entry.owner.hex(),
        "edge": entry.edge,
        "registered_epoch": entry.registered_epoch,
        "registered_at_ms": entry.registered_at_ms,
        "height": entry.height,
        "tx_id": entry.tx_id.hex(),
    }


def rekey_json(rekey: devices.DeviceRekey) -> dict[str, Any]:
    return {
        "epoch": rekey.domain_epoch,
        "rekey": rekey.rekey.hex(),
        "height": rekey.height,
        "tx_id": rekey.tx_id.hex(),
    }


def device_routes(view: NodeView) -> list[Route]:
    """``GET /devices`` and ``GET /devices/{device_id}``."""

    async def list_devices(request: Request) -> Response:
        ledger = view.ledger
        limit = limit_param(request)
        owner_text = request.query_params.get("owner")
        owner = hex_param(owner_text, "owner") if owner_text is not None else None
        after_text = request.query_params.get("after")
        start = None
        if after_text is not None:
            start = schema.device(hex_param(after_text, "after")) + b"\x00"
        found = []
        for _, raw in ledger.store.iterate(schema.DEVICE, start=start):
            entry = devices.DeviceEntry.from_bytes(raw)
            if owner is None or entry.owner == owner:
                found.append(device_json(entry))
                if len(found) >= limit:
                    break
        return JSONResponse({"devices": found})

    async def one_device(request: Request) -> Response:
        ledger = view.ledger
        device_id = hex_param(request.path_params["device_id"], "device_id")
        entry = devices.device(ledger.store, device_id)
        if entry is None:
            raise NotFound("no such device")
        current = authority_state.current_domain_epoch(ledger.store, ledger.genesis)
        rekeys = devices.device_rekeys(ledger.store, entry, current or 0)
        answer = device_json(entry)
        answer["current_epoch"] = current
        answer["rekeys"] = [rekey_json(r) for r in rekeys]
        answer["rekeyed_for_current_epoch"] = any(r.domain_epoch == current for r in rekeys)
        return JSONResponse(answer)

    return [
        Route("/devices", list_devices, methods=["GET"]),
        Route("/devices/{device_id}", one_device, methods=["GET"]),
    ]
