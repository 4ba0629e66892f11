"""The HTTP API as one of the node's services: a registry, the app over a view, the server."""

from __future__ import annotations

from typing import Any

import trio
from prometheus_client import CollectorRegistry

from node.http.app import build_app
from node.http.metrics import ApiMetrics, NodeCollector
from node.http.server import HttpConfig, run_http
from node.view import NodeView

#: The fragment upload carries all n fragments of a record as hex in one body.
MAX_BODY_BYTES = 64 * 1024 * 1024


class HttpApi:
    """Serves the API of docs/http-api.md over ``view`` at ``config``'s address."""

    def __init__(self, view: NodeView, config: HttpConfig) -> None:
        self.view = view
        self.config = config
        self.registry = CollectorRegistry()
        self.registry.register(NodeCollector(view))

    async def run(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """Serve until cancelled; reports the base URLs once listening. Raises
        :class:`~node.http.server.HttpConfigError` or ``OSError``."""
        app = build_app(self.view, ApiMetrics(self.registry), max_body_bytes=MAX_BODY_BYTES)
        await run_http(app, self.config, task_status=task_status)
