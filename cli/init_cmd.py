"""``iomtshare init``: one node home (keys and config.toml) for a hand-assembled network."""

from __future__ import annotations

import json
from pathlib import Path

import click

from cli.common import emit, json_option


@click.command("init")
@click.option(
    "--home", type=click.Path(file_okay=False, path_type=Path), required=True,
    help="The node's home directory.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--p2p-port", type=click.IntRange(1, 65535), default=26656, show_default=True)
@click.option("--http-port", type=click.IntRange(1, 65535), default=26657, show_default=True)
@click.option("--peer", "peers", multiple=True, help="Peer multiaddr with /p2p/<id> (repeatable).")
@click.option(
    "--genesis", "genesis_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A genesis.json to copy into the home.",
)
@click.option("--force", is_flag=True, help="Replace an existing identity (dangerous).")
@json_option
def init(
    home: Path,
    host: str,
    p2p_port: int,
    http_port: int,
    peers: tuple[str, ...],
    genesis_file: Path | None,
    force: bool,
    as_json: bool,
) -> None:
    """Write fresh node keys and config.toml into --home and print the node's public facts.

    The printed peer id, verify key and box key are what the genesis lists for this node.
    """
    from ledger.genesis import Genesis
    from node.config import ConfigError
    from node.provision import init_node_home

    genesis = None
    if genesis_file is not None:
        try:
            genesis = Genesis.from_json(json.loads(genesis_file.read_text(encoding="utf-8")))
        except (ValueError, KeyError, TypeError) as exc:
            raise click.ClickException(f"{genesis_file} is not a valid genesis: {exc!r}") from exc
    try:
        keys = init_node_home(
            home,
            p2p_port=p2p_port,
            http_port=http_port,
            host=host,
            peers=peers,
            genesis=genesis,
            overwrite=force,
        )
    except (ConfigError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    emit(
        {
            "home": str(home),
            "peer_id": keys.peer_id,
            "p2p_address": f"/ip4/{host}/tcp/{p2p_port}/p2p/{keys.peer_id}",
            "http_url": f"http://{host}:{http_port}",
            "verify_key": keys.node_key.verify_key.hex(),
            "box_key": keys.box_key.public_key.raw.hex(),
            "genesis": "copied" if genesis is not None else "missing: copy one to genesis.json",
        },
        as_json,
    )
