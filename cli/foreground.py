"""Running a node or an edge in the foreground until SIGINT or SIGTERM."""

from __future__ import annotations

import logging
import signal
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from node.config import NodeConfig


def configure_logs(config: NodeConfig, log_level: str | None, log_format: str | None) -> None:
    """Log to stderr at ``log_level`` in ``log_format`` (defaults from ``config``); a bad level
    or format is a :class:`click.ClickException`."""
    from node import logs

    try:
        fmt = log_format or str(config.extra.get("log_format", "text"))
        logs.configure(log_level or config.log_level, fmt, sys.stderr)
    except logs.LogSetupError as exc:
        raise click.ClickException(str(exc)) from exc


def run_until_signal(
    run: Callable[..., Awaitable[Any]],
    what: str,
    expected: tuple[type[BaseException], ...],
    *,
    on_hangup: Callable[[], None] | None = None,
) -> None:
    """Start the service ``run`` (``nursery.start`` style) in trio and stop it on SIGINT or
    SIGTERM; SIGHUP calls ``on_hangup`` when given. An ``expected`` failure, bare or in trio's
    exception groups, becomes a :class:`click.ClickException` saying ``what failed: cause``."""
    import trio

    logger = logging.getLogger("iomtshare.node")
    signals = (signal.SIGINT, signal.SIGTERM) + ((signal.SIGHUP,) if on_hangup else ())

    async def main() -> None:
        with trio.open_signal_receiver(*signals) as received:
            async with trio.open_nursery() as nursery:
                await nursery.start(run)
                async for signum in received:
                    if signum == signal.SIGHUP and on_hangup is not None:
                        on_hangup()
                        continue
                    logger.info("shutdown signal=%s", signal.Signals(signum).name)
                    nursery.cancel_scope.cancel()
                    break

    try:
        trio.run(main)
    except expected as exc:
        raise click.ClickException(f"{what} failed: {exc}") from exc
    except BaseExceptionGroup as group:
        # trio nurseries report failures as exception groups; show the cause plainly.
        cause = single_cause(group)
        if isinstance(cause, expected):
            raise click.ClickException(f"{what} failed: {cause}") from group
        raise


def single_cause(error: BaseException) -> BaseException:
    """The one exception inside nested single-member exception groups (else the group)."""
    while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
        error = error.exceptions[0]
    return error
