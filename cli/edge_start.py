"""``iomtshare node start --role edge``: run an edge (light node) in the foreground."""

from __future__ import annotations

from pathlib import Path

import click

from cli.foreground import configure_logs, run_until_signal


def run_edge(home: Path, log_level: str | None, log_format: str | None) -> None:
    """Run the edge of ``home`` until SIGINT or SIGTERM; a bad home or a failure to start is a
    :class:`click.ClickException`."""
    from ledger.errors import LedgerError
    from node.config import ConfigError
    from node.edge.service import EdgeService, load_edge_identity
    from node.http import HttpConfigError
    from node.p2p import P2PError

    try:
        identity = load_edge_identity(home)
    except ConfigError as exc:
        raise click.ClickException(f"bad edge home {home}: {exc}") from exc
    configure_logs(identity.config, log_level, log_format)
    try:
        service = EdgeService(identity)
    except (ConfigError, P2PError) as exc:
        raise click.ClickException(str(exc)) from exc

    run_until_signal(service.run, "edge", (LedgerError, P2PError, HttpConfigError, OSError))
