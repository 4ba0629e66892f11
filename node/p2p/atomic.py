"""Connection operations that a cancelled caller cannot leave half done.

Cancelling a request is ordinary (a fetch stops asking once it has enough fragments, a request
times out), but py-libp2p 0.8 is not safe against it in two places, and each costs a connection:

* Writes. py-libp2p's Noise session encrypts a message (using up the next nonce) and then
  waits to write it to the socket. If the writing task is cancelled in between, or in the
  middle of the socket write, the peer never sees that nonce or sees half a message; every
  later message then fails authentication and the whole connection, with all its streams, is
  torn down. So every write on a secured connection runs shielded from cancellation
  (:func:`make_writes_atomic`): the caller's cancellation takes effect right after the write.
  A write that cannot finish within ``WRITE_GRACE_SECONDS`` (the peer stopped reading) closes
  the connection instead of hanging.
* Opening a stream. Yamux takes one of 256 backlog slots per stream it opens and gives it back
  only when the stream is acknowledged or fails with an ordinary exception; a cancelled open
  keeps its slot for good, and after 256 of them no stream can be opened on that connection.
  :func:`open_stream` therefore lets the open finish (or time out on its own), and closes the
  new stream if the caller was cancelled meanwhile.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import trio
from libp2p.abc import IHost, INetStream, ISecureConn
from libp2p.custom_types import TProtocol
from libp2p.exceptions import BaseLibp2pError
from libp2p.io.exceptions import IOException
from libp2p.peer.id import ID

from node.p2p.errors import StreamBroken

logger = logging.getLogger("iomtshare.node.p2p.atomic")

WRITE_GRACE_SECONDS = 10.0
#: Closing a stream is best effort; this bounds how long shutdown can wait for it.
CLOSE_GRACE_SECONDS = 1.0


def make_writes_atomic(secured: ISecureConn) -> ISecureConn:
    """Replace ``secured.write`` with a version that finishes even when its caller is
    cancelled (see the module docstring); returns ``secured``."""
    write = secured.write

    async def atomic_write(data: bytes) -> None:
        with trio.CancelScope(shield=True) as scope:
            scope.deadline = trio.current_time() + WRITE_GRACE_SECONDS
            await write(data)
        if scope.cancelled_caught:
            logger.warning(
                "write stalled for %ss peer=%s; closing the connection",
                WRITE_GRACE_SECONDS,
                secured.get_remote_peer(),
            )
            try:
                with trio.CancelScope(shield=True):
                    await secured.close()
            except BaseLibp2pError as exc:
                logger.debug("close after a stalled write failed: %s", exc)
            raise IOException("write stalled; connection closed")
        await trio.lowlevel.checkpoint_if_cancelled()

    # An instance attribute shadows the method for every user of this connection (the muxer).
    setattr(secured, "write", atomic_write)  # noqa: B010
    return secured


async def open_stream(
    host: IHost, peer_id: ID, protocols: Sequence[str], timeout: float
) -> INetStream:
    """Open a stream to ``peer_id`` even if the caller is cancelled meanwhile (see the module
    docstring); raises :class:`StreamBroken` when it fails or takes longer than ``timeout``."""
    with trio.CancelScope(shield=True):
        try:
            with trio.fail_after(timeout):
                stream = await host.new_stream(peer_id, [TProtocol(p) for p in protocols])
        except trio.TooSlowError as exc:
            raise StreamBroken(f"could not open {list(protocols)} to {peer_id} in time") from exc
        except BaseLibp2pError as exc:
            raise StreamBroken(f"could not open {list(protocols)} to {peer_id}: {exc}") from exc
    try:
        await trio.lowlevel.checkpoint_if_cancelled()
    except trio.Cancelled:
        await release_stream(stream, reset=True)
        raise
    return stream


async def release_stream(stream: INetStream, *, reset: bool) -> None:
    """Close (or reset) ``stream`` even while the caller is being cancelled."""
    with trio.CancelScope(shield=True), trio.move_on_after(CLOSE_GRACE_SECONDS):
        try:
            if reset:
                await stream.reset()
            else:
                await stream.close()
        except BaseLibp2pError as exc:
            logger.debug("stream release failed: %s", exc)
