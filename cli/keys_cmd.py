"""``iomtshare keys show`` and ``iomtshare show-node-id``: a node's public identity.

Only public parts are ever printed: the peer id, the Ed25519 verify key, the X25519 box public
key and the advertised p2p address. ``keys show --json`` is the node info file that
``iomtshare genesis assemble`` and ``genesis install`` read.
"""

from __future__ import annotations

from pathlib import Path

import click

from cli.common import emit, json_option

home_option = click.option(
    "--home",
    type=click.Path(path_type=Path, file_okay=False),
    required=True,
    help="Node home directory.",
)


@click.group("keys")
def keys() -> None:
    """Inspect a node's keys (public parts only)."""


@keys.command("show")
@home_option
@json_option
def show(home: Path, as_json: bool) -> None:
    """Print the node's public info: peer id, verify key, box key, advertised p2p address.

    With --json, the output is the node info file to send to whoever assembles the genesis.
    """
    from node.assembly import NodePublicInfo
    from node.config import ConfigError

    try:
        info = NodePublicInfo.of_home(home)
    except ConfigError as exc:
        raise click.ClickException(f"bad node home {home}: {exc}") from exc
    emit(info.to_json(), as_json)


@click.command("show-node-id")
@home_option
def show_node_id(home: Path) -> None:
    """Print the node's libp2p peer id (what peers put after /p2p/)."""
    from node.config import ConfigError
    from node.provision import NodeKeys

    try:
        click.echo(NodeKeys.load(home).peer_id)
    except ConfigError as exc:
        raise click.ClickException(f"bad node home {home}: {exc}") from exc
