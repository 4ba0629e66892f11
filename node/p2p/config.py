"""The limits of a :class:`~node.p2p.host.P2PHost` and where it listens."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any

import multiaddr  # type: ignore[import-untyped]  # ships without type hints

from node.p2p.errors import P2PError
from node.p2p.gossip import GossipSettings

_LISTEN_ADDRESS = re.compile(r"/ip[46]/(?P<host>[0-9A-Fa-f.:]+)/tcp/(?P<port>[0-9]{1,5})")


@dataclass(frozen=True, slots=True)
class P2PConfig:
    """Where to listen and the limits of the host.

    ``max_frame_bytes`` bounds one request or response frame (envelope included);
    ``request_timeout`` bounds one request as seen by the requester, and the handler's work on
    the server. The server must have read the request frame within ``request_read_timeout``
    plus a quarter second per MiB the frame announces (never more than ``request_timeout``).
    At most ``max_concurrent_inbound`` requests are served at once, of which at most
    ``max_inbound_per_light_peer`` from any one peer that is not a validator (validators
    share the whole pool, as before light peers were admitted).
    """

    listen_host: str = "127.0.0.1"
    listen_port: int = 0
    max_frame_bytes: int = 8 * 1024 * 1024
    request_timeout: float = 10.0
    request_read_timeout: float = 2.0
    max_concurrent_inbound: int = 64
    max_inbound_per_light_peer: int = 8
    dial_timeout: float = 5.0
    gossip: GossipSettings = field(default_factory=GossipSettings)

    def __post_init__(self) -> None:
        try:
            ipaddress.ip_address(self.listen_host)
        except ValueError as exc:
            raise P2PError(f"listen host must be an IP address: {self.listen_host!r}") from exc
        if not 0 <= self.listen_port <= 65535:
            raise P2PError(f"listen port out of range: {self.listen_port}")
        timeouts = (self.request_timeout, self.request_read_timeout, self.dial_timeout)
        if self.max_frame_bytes < 64 or min(timeouts) <= 0:
            raise P2PError("frame limit, request, read and dial timeouts must be positive")
        if self.max_concurrent_inbound < 1 or self.max_inbound_per_light_peer < 1:
            raise P2PError("max_concurrent_inbound and max_inbound_per_light_peer must be >= 1")

    @classmethod
    def listening_on(cls, address: str, **limits: Any) -> P2PConfig:
        """A config for a listen multiaddr such as ``/ip4/127.0.0.1/tcp/26656``; other fields
        come from ``limits``. Raises :class:`P2PError` for any other form of address."""
        match = _LISTEN_ADDRESS.fullmatch(address)
        if match is None:
            raise P2PError(f"listen address must be /ip4|ip6/<ip>/tcp/<port>: {address!r}")
        return cls(listen_host=match["host"], listen_port=int(match["port"]), **limits)

    def listen_multiaddr(self) -> multiaddr.Multiaddr:
        family = "ip6" if ipaddress.ip_address(self.listen_host).version == 6 else "ip4"
        return multiaddr.Multiaddr(f"/{family}/{self.listen_host}/tcp/{self.listen_port}")
