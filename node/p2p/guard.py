"""A last line of defence around every inbound stream a peer opens.

py-libp2p lets an exception from a protocol handler climb through the connection's task into
the swarm, which takes the whole host down: a member sending one malformed protobuf on the
gossipsub protocol is enough. This guard sits between the swarm and the host's protocol
negotiation, so whatever a stream's handler raises ends with that stream: logged with the
reason, the stream reset, the host untouched.
"""

from __future__ import annotations

import logging

from libp2p.abc import INetStream
from libp2p.custom_types import StreamHandlerFn
from libp2p.exceptions import BaseLibp2pError

logger = logging.getLogger("iomtshare.node.p2p.guard")


def guard_stream_handler(handler: StreamHandlerFn) -> StreamHandlerFn:
    """Wrap the swarm's stream handler so no exception from one stream escapes it."""

    async def guarded(stream: INetStream) -> None:
        try:
            await handler(stream)
        except Exception as exc:
            # Deliberately broad: this is the boundary where peer input meets library code we
            # do not control, and cancellation (a BaseException) still passes through.
            logger.warning(
                "stream failed protocol=%s peer=%s reason=%s: %s",
                stream.get_protocol(),
                stream.muxed_conn.peer_id,
                type(exc).__name__,
                str(exc)[:200],
            )
            try:
                await stream.reset()
            except BaseLibp2pError as reset_error:
                logger.debug("stream reset failed: %s", reset_error)

    return guarded
