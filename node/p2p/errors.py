"""Typed errors of the peer-to-peer layer.

Everything the network, a remote peer or a caller's bad argument can cause surfaces as a
:class:`P2PError` subclass; libp2p's own exceptions never leak out of :mod:`node.p2p`.
"""

from __future__ import annotations


class P2PError(Exception):
    """Base class of every error raised by :mod:`node.p2p`."""


class NotRunning(P2PError):
    """The host was used before its service started or after it stopped."""


class PeerRefused(P2PError):
    """The peer is not on the genesis allowlist, so no connection to or from it is kept."""


class DialError(P2PError):
    """A connection to an allowed peer could not be established (unreachable, handshake failed)."""


class FrameTooLarge(P2PError):
    """A request/response frame is longer than the configured maximum."""


class GossipTooLarge(P2PError):
    """A gossip payload is longer than the configured maximum."""


class ProtocolViolation(P2PError):
    """The remote side sent bytes that are not a valid frame or envelope."""


class StreamBroken(P2PError):
    """The stream was reset or closed before the exchange completed."""


class RequestTimeout(P2PError):
    """The remote did not answer within the per-request timeout."""


class RemoteError(P2PError):
    """The remote answered with an error frame instead of a response.

    ``code`` is one of :class:`node.p2p.envelope.Status` (never ``OK``); ``detail`` is the remote's
    short explanation, already truncated to a bounded length.
    """

    def __init__(self, code: int, detail: str) -> None:
        super().__init__(f"remote error {code}: {detail}")
        self.code = code
        self.detail = detail


class RequestRejected(P2PError):
    """Raised by a request handler to refuse a request on purpose.

    Its message is sent back to the requester (status ``REJECTED``); any other exception in a
    handler is reported only as an internal error, so internals are never disclosed.
    """
