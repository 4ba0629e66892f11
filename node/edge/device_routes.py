"""The edge's device routes (:mod:`node.edge.device_ingest` does the work).

``POST /devices/{device_id}/uploads``: the body is a canonical
:class:`~ledger.device_upload.DeviceUpload` (``application/octet-stream``). 202 with the
upload's state (``record_id``, ``tx_id``, ``epoch``, ``status: pending``) once a consensus node
accepted the record; a refusal is ``{"error": {"code", "message"}}`` with the code and status of
:data:`~node.edge.device_ingest.REFUSALS` (a body over the bound is refused while it is read).

``GET /devices/{device_id}/uploads/{record_id}``: that state, read from the edge's store (so it
survives a restart), as it moves to ``committed`` (``height``) and ``stored``
(``fragments_stored``), or ``failed`` (``reason``); ``unconfirmed`` for an upload answered 503
that the edge still watches. 404 for an upload this edge does not hold (it keeps every open one
and the last 1024 finished).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ledger.device_upload import MAX_UPLOAD_BYTES
from node.edge.device_ingest import DeviceIngest, IngestRefused
from node.http.errors import BadRequest, error_body
from node.http.params import hex_param


def device_routes(ingest: DeviceIngest) -> list[Route]:
    async def upload(request: Request) -> JSONResponse:
        try:
            device_id = hex_param(request.path_params["device_id"], "device_id")
        except BadRequest as exc:
            return JSONResponse(error_body(exc.code, exc.message), status_code=exc.status_code)
        try:
            try:
                body = await _bounded_body(request)
            except IngestRefused as exc:
                ingest.count_refusal(exc, device_id)
                raise
            state = await ingest.ingest(device_id, body)
        except IngestRefused as exc:
            return JSONResponse(error_body(exc.code, exc.message), status_code=exc.status)
        return JSONResponse(state.to_json(), status_code=202)

    async def upload_state(request: Request) -> JSONResponse:
        try:
            device_id = hex_param(request.path_params["device_id"], "device_id")
            record_id = hex_param(request.path_params["record_id"], "record_id")
        except BadRequest as exc:
            return JSONResponse(error_body(exc.code, exc.message), status_code=exc.status_code)
        state = ingest.upload(record_id)
        if state is None or state.device_id != device_id:
            message = "this edge holds no upload of that record for that device"
            return JSONResponse(error_body("not_found", message), status_code=404)
        return JSONResponse(state.to_json())

    return [
        Route("/devices/{device_id}/uploads", upload, methods=["POST"]),
        Route("/devices/{device_id}/uploads/{record_id}", upload_state, methods=["GET"]),
    ]


async def _bounded_body(request: Request) -> bytes:
    """The body, read up to the bound; raises :class:`IngestRefused` (``too_large``)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_UPLOAD_BYTES:
        raise IngestRefused("too_large", f"{declared} bytes, at most {MAX_UPLOAD_BYTES}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_UPLOAD_BYTES:
            raise IngestRefused("too_large", f"over {MAX_UPLOAD_BYTES} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
