"""Explorer queries that take more than one call of the node API, or a filter it leaves out.

``GET /audit`` answers one filter at a time (a record, else a requester, else a height range);
:func:`audit_entries` applies all that were given. ``GET /blocks`` lists blocks upward from a
height; :func:`newest_blocks` asks for the head first and lists the latest ones, newest first.
"""

from __future__ import annotations

from typing import Any

from client.errors import NodeError
from client.http import NodeClient

#: The most entries the node returns for one query (node/http/explorer.py MAX_LIMIT).
NODE_MAX_LIMIT = 1000


def audit_entries(
    client: NodeClient,
    *,
    record: str | None = None,
    requester: str | None = None,
    start: int | None = None,
    end: int | None = None,
) -> list[dict[str, Any]]:
    """Sharing-audit entries matching every filter given, in chain order.

    The node is asked by the narrowest filter (record, then requester, then heights) and the
    others are applied here, so at most :data:`NODE_MAX_LIMIT` entries of that query are seen.
    """
    if record is None and requester is None:
        return client.audit(start=0 if start is None else start, end=end, limit=NODE_MAX_LIMIT)
    if record is not None:
        found = client.audit(record=record, limit=NODE_MAX_LIMIT)
    else:
        found = client.audit(requester=requester, limit=NODE_MAX_LIMIT)

    def keep(entry: dict[str, Any]) -> bool:
        height = _height(entry)
        return (
            (requester is None or entry.get("requester") == requester)
            and (record is None or entry.get("record_id") == record)
            and (start is None or height >= start)
            and (end is None or height <= end)
        )

    return [entry for entry in found if keep(entry)]


def newest_blocks(
    client: NodeClient, *, start: int | None = None, end: int | None = None, limit: int = 20
) -> list[dict[str, Any]]:
    """Header summaries, newest first: the ``limit`` latest blocks up to ``end`` (default the
    head), or from ``start`` upward when only ``start`` is given."""
    if end is None and start is None:
        end = _height(client.status())
    if start is None:
        start = max(1, (end or 0) - limit + 1)
    blocks = client.blocks(start, end, limit)
    return sorted(blocks, key=_height, reverse=True)


def _height(entry: dict[str, Any]) -> int:
    height = entry.get("height")
    if not isinstance(height, int):
        raise NodeError(200, "bad_response", "an answer lacks an integer height")
    return height
