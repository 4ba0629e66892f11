"""``iomtshare node start --role edge``: run an edge (light node) in the foreground."""

from __future__ import annotations

import logging
import signal
import sys
from pathlib import Path

import click


def run_edge(home: Path, log_level: str | None, log_format: str | None) -> None:
    """Run the edge of ``home`` until SIGINT or SIGTERM; a bad home or a failure to start is a
    :class:`click.ClickException`."""
    import trio

    from ledger.errors import LedgerError
    from node import logs
    from node.config import ConfigError
    from node.edge.service import EdgeService, load_edge_identity
    from node.http import HttpConfigError
    from node.p2p import P2PError

    try:
        identity = load_edge_identity(home)
    except ConfigError as exc:
        raise click.ClickException(f"bad edge home {home}: {exc}") from exc
    try:
        fmt = log_format or str(identity.config.extra.get("log_format", "text"))
        logs.configure(log_level or identity.config.log_level, fmt, sys.stderr)
    except logs.LogSetupError as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        service = EdgeService(identity)
    except (ConfigError, P2PError) as exc:
        raise click.ClickException(str(exc)) from exc

    async def main() -> None:
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async with trio.open_nursery() as nursery:
                await nursery.start(service.run)
                async for signum in signals:
                    logging.getLogger("iomtshare.node.edge").info(
                        "shutdown signal=%s", signal.Signals(signum).name
                    )
                    nursery.cancel_scope.cancel()
                    break

    expected = (LedgerError, P2PError, HttpConfigError, OSError)
    try:
        trio.run(main)
    except expected as exc:
        raise click.ClickException(f"edge failed: {exc}") from exc
    except BaseExceptionGroup as group:
        # trio nurseries report failures as exception groups; show an expected cause plainly.
        matched = group.subgroup(lambda error: isinstance(error, expected))
        if matched is None:
            raise
        cause: BaseException = matched
        while isinstance(cause, BaseExceptionGroup):
            cause = cause.exceptions[0]
        raise click.ClickException(f"edge failed: {cause}") from group
