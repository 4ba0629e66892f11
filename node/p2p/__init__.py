"""Peer-to-peer layer of a node: a py-libp2p host gated by the genesis allowlist.

:class:`P2PHost` is the facade: TCP + Noise + yamux on loopback or a configured address,
gossipsub topics with one handler each, request/response protocols with u32-framed,
size-limited, time-limited exchanges, and one-way frame streams for ordered traffic. Errors are
:class:`P2PError` subclasses.
"""

from node.p2p.allowlist import PeerAllowlist
from node.p2p.envelope import RequestEnvelope, ResponseEnvelope, Status
from node.p2p.errors import (
    DialError,
    FrameTooLarge,
    GossipTooLarge,
    NotRunning,
    P2PError,
    PeerRefused,
    ProtocolViolation,
    RemoteError,
    RequestRejected,
    RequestTimeout,
    StreamBroken,
)
from node.p2p.gossip import GossipHandler, GossipMessage, GossipSettings
from node.p2p.host import P2PConfig, P2PHost
from node.p2p.identity import libp2p_key_pair, parse_peer_id, peer_id_of
from node.p2p.metrics import P2PMetrics
from node.p2p.reqresp import RequestHandler
from node.p2p.streams import FrameReader, FrameStreamHandler, FrameWriter

__all__ = [
    "DialError",
    "FrameReader",
    "FrameStreamHandler",
    "FrameTooLarge",
    "FrameWriter",
    "GossipHandler",
    "GossipMessage",
    "GossipSettings",
    "GossipTooLarge",
    "NotRunning",
    "P2PConfig",
    "P2PError",
    "P2PHost",
    "P2PMetrics",
    "PeerAllowlist",
    "PeerRefused",
    "ProtocolViolation",
    "RemoteError",
    "RequestEnvelope",
    "RequestHandler",
    "RequestRejected",
    "RequestTimeout",
    "ResponseEnvelope",
    "Status",
    "StreamBroken",
    "libp2p_key_pair",
    "parse_peer_id",
    "peer_id_of",
]
