"""Serving the HTTP app with hypercorn on trio, as a service started by ``nursery.start``."""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass
from typing import Any

import trio
from hypercorn.config import Config
from hypercorn.trio import serve
from starlette.applications import Starlette

from node.http import protocol

logger = logging.getLogger("iomtshare.node.http")


class HttpConfigError(ValueError):
    """The HTTP listen settings are unusable."""


@dataclass(frozen=True, slots=True)
class HttpConfig:
    """Where the API listens. Loopback by default: exposing it is a deliberate choice."""

    host: str = "127.0.0.1"
    port: int = 8080
    allow_public: bool = False
    shutdown_grace_seconds: float = 2.0
    #: A client that sends nothing for this long is disconnected (slow-client guard).
    read_timeout_seconds: int = 30

    def bind(self) -> str:
        """The hypercorn bind string; raises :class:`HttpConfigError` for a bad host/port or a
        non-loopback host without ``allow_public``."""
        try:
            address = ipaddress.ip_address(self.host)
        except ValueError as exc:
            raise HttpConfigError(f"HTTP host must be an IP address, got {self.host!r}") from exc
        if not 0 <= self.port <= 65535:
            raise HttpConfigError(f"HTTP port out of range: {self.port}")
        if not address.is_loopback and not self.allow_public:
            raise HttpConfigError(
                f"refusing to expose the API on {self.host} without allow_public"
            )
        host = f"[{address}]" if address.version == 6 else str(address)
        return f"{host}:{self.port}"


async def run_http(
    app: Starlette, config: HttpConfig, *, task_status: Any = trio.TASK_STATUS_IGNORED
) -> None:
    """Serve ``app`` until cancelled; reports the base URLs (e.g. ``["http://127.0.0.1:8080"]``)
    to ``task_status`` once listening. Raises :class:`HttpConfigError` or :class:`OSError`."""
    hyper = Config()
    hyper.bind = [config.bind()]
    hyper.accesslog = None
    # Hypercorn's own messages join the node's log stream instead of going to stderr.
    hyper.errorlog = logging.getLogger("iomtshare.node.http.server")
    hyper.graceful_timeout = config.shutdown_grace_seconds
    hyper.read_timeout = config.read_timeout_seconds
    protocol.install()  # hypercorn's own 4xx answers carry the JSON error shape too
    logger.info("http api starting bind=%s", hyper.bind[0])
    await serve(app, hyper, task_status=task_status)  # type: ignore[arg-type]
