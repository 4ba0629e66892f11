"""``iomtshare config show|validate``: what a node home's config.toml says, and whether the
node could start with it (before it is started, e.g. by systemd)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import click

from cli.common import emit, json_option

home_option = click.option(
    "--home",
    type=click.Path(path_type=Path, file_okay=False),
    required=True,
    help="Node home directory.",
)


@click.group("config")
def config() -> None:
    """Show or validate a node's config.toml."""


@config.command("show")
@home_option
@json_option
def show(home: Path, as_json: bool) -> None:
    """Print config.toml as the node reads it, with the address other nodes dial."""
    from node.config import ConfigError, advertised_address, load_config
    from node.provision import NodeKeys

    try:
        settings = load_config(home)
    except ConfigError as exc:
        raise click.ClickException(f"bad node home {home}: {exc}") from exc
    try:
        dialled_at = advertised_address(settings, NodeKeys.load(home).peer_id)
    except ConfigError as exc:
        dialled_at = f"(none: {exc})"
    document: dict[str, Any] = {
        "p2p_listen": settings.p2p_listen,
        "p2p_advertise": settings.p2p_advertise,
        "p2p_address": dialled_at,
        "http_host": settings.http_host,
        "http_port": settings.http_port,
        "peers": list(settings.peers),
        "log_level": settings.log_level,
        "pairing_backend": settings.pairing_backend,
        **settings.extra,
    }
    if as_json:
        emit(document, True)
        return
    # The key/value table would cut peers to one cell; one line each reads better.
    emit({k: v for k, v in document.items() if k != "peers"}, False)
    for peer in settings.peers:
        click.echo(f"peer {peer}")


@config.command("validate")
@home_option
@json_option
def validate(home: Path, as_json: bool) -> None:
    """Check everything `node start` checks before it opens the ledger: config.toml, addresses,
    genesis, keys and peers. Exits 1 and lists the problems if the node could not run."""
    problems, warnings = _check_home(home)
    if as_json:
        emit({"ok": not problems, "problems": problems, "warnings": warnings}, True)
    else:
        for line in warnings:
            click.echo(f"warning: {line}")
        for line in problems:
            click.echo(f"problem: {line}")
        if not problems:
            click.echo(f"ok: {home} is ready to start")
    if problems:
        click.get_current_context().exit(1)


def _check_home(home: Path) -> tuple[list[str], list[str]]:
    """(problems, warnings) of a node home; each problem is enough to stop the node."""
    from crypto.groups import BACKENDS
    from node.assembly import check_genesis
    from node.config import ConfigError, advertised_address, check_peer, load_config
    from node.home import load_identity
    from node.http import HttpConfig, HttpConfigError
    from node.p2p import P2PConfig, P2PError

    problems: list[str] = []
    warnings: list[str] = []
    try:
        settings = load_config(home)
    except ConfigError as exc:
        return [str(exc)], []
    try:
        P2PConfig.listening_on(settings.p2p_listen)
    except P2PError as exc:
        problems.append(str(exc))
    allow_public = bool(settings.extra.get("http_allow_public", False))
    try:
        HttpConfig(settings.http_host, settings.http_port, allow_public).bind()
    except HttpConfigError as exc:
        problems.append(str(exc))
    if settings.log_level.upper() not in logging.getLevelNamesMapping():
        problems.append(f"unknown log_level {settings.log_level!r}")
    if settings.pairing_backend not in BACKENDS:
        problems.append(f"unknown pairing_backend {settings.pairing_backend!r}")
    try:
        identity = load_identity(home)
    except ConfigError as exc:
        problems.append(str(exc))
        return problems, warnings
    try:
        check_genesis(identity.genesis)
        own = identity.genesis.node(identity.index)
        if own is not None:
            advertised_address(settings, own.peer_id)
    except ConfigError as exc:
        problems.append(str(exc))
    members = {n.peer_id: n.index for n in identity.genesis.nodes}
    dialled = set()
    for peer in settings.peers:
        index = members.get(check_peer(peer))
        if index is None:
            problems.append(f"peer {peer} is not a genesis node")
        elif index == identity.index:
            problems.append(f"peer {peer} is this node itself")
        dialled.add(index)
    missing = sorted(set(members.values()) - dialled - {identity.index})
    if missing:
        warnings.append(
            f"no peer address for genesis node(s) {missing}: this node waits for them to dial it"
        )
    return problems, warnings
