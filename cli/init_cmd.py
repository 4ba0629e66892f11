"""``iomtshare init``: one node home (keys and config.toml) for a network assembled by several
operators (docs/deployment.md)."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import click

from cli.common import emit, json_option


def _ip_address(ctx: click.Context, param: click.Parameter, value: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not an IP address") from exc


def _peers(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> tuple[str, ...]:
    from node.config import ConfigError, check_peer

    for address in value:
        try:
            check_peer(address)
        except ConfigError as exc:
            raise click.BadParameter(str(exc)) from exc
    return value


@click.command("init")
@click.option(
    "--home", type=click.Path(file_okay=False, path_type=Path), required=True,
    help="The node's home directory.",
)
@click.option(
    "--p2p-host", default="127.0.0.1", show_default=True, callback=_ip_address,
    help="IP address the p2p listener binds (0.0.0.0: every interface).",
)
@click.option("--p2p-port", type=click.IntRange(1, 65535), default=26656, show_default=True)
@click.option(
    "--p2p-advertise", default=None,
    help="Where other nodes dial this one: HOST, HOST:PORT or a multiaddr "
    "(default: the listen address; required with --p2p-host 0.0.0.0).",
)
@click.option(
    "--http-host", default="127.0.0.1", show_default=True, callback=_ip_address,
    help="IP address the HTTP API binds.",
)
@click.option("--http-port", type=click.IntRange(1, 65535), default=26657, show_default=True)
@click.option(
    "--http-public", is_flag=True,
    help="Allow --http-host to be a non-loopback address (the API is open to that network).",
)
@click.option(
    "--peer", "peers", multiple=True, callback=_peers,
    help="Peer multiaddr with /p2p/<id> (repeatable; `genesis install` sets them all).",
)
@click.option(
    "--genesis", "genesis_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A genesis.json to copy into the home.",
)
@click.option(
    "--role", type=click.Choice(["consensus", "edge"]), default="consensus", show_default=True,
    help="edge: a light node (list it with `genesis add-edge`; `node start --role edge`).",
)
@click.option("--force", is_flag=True, help="Replace an existing identity (dangerous).")
@json_option
def init(
    home: Path,
    p2p_host: str,
    p2p_port: int,
    p2p_advertise: str | None,
    http_host: str,
    http_port: int,
    http_public: bool,
    peers: tuple[str, ...],
    genesis_file: Path | None,
    role: str,
    force: bool,
    as_json: bool,
) -> None:
    """Write fresh node keys and config.toml into --home and print the node's public info.

    Send the public info (`iomtshare keys show --home DIR --json > NAME.json`) to whoever
    assembles the genesis (`iomtshare genesis assemble`); install the genesis they send back
    with `iomtshare genesis install`. An edge (--role edge) has the same home; its info goes
    to `iomtshare genesis add-edge` instead, and it runs with `iomtshare node start --role edge`.
    """
    from ledger.genesis import Genesis, GenesisError
    from node.assembly import NodePublicInfo
    from node.config import ConfigError, advertise_multiaddr, load_config
    from node.provision import init_node_home

    if ipaddress.ip_address(p2p_host).is_unspecified and p2p_advertise is None:
        raise click.BadParameter(
            f"{p2p_host} is every interface, not an address other hosts can dial: "
            "give --p2p-advertise too",
            param_hint="--p2p-host",
        )
    advertise = None
    if p2p_advertise is not None:
        try:
            advertise = advertise_multiaddr(p2p_advertise, p2p_port)
        except ConfigError as exc:
            raise click.BadParameter(str(exc), param_hint="--p2p-advertise") from exc
    genesis = None
    if genesis_file is not None:
        try:
            genesis = Genesis.load(genesis_file)
        except (OSError, GenesisError) as exc:
            raise click.ClickException(f"{genesis_file} is not a valid genesis: {exc}") from exc
    try:
        keys = init_node_home(
            home,
            p2p_port=p2p_port,
            http_port=http_port,
            p2p_host=p2p_host,
            http_host=http_host,
            p2p_advertise=advertise,
            http_allow_public=http_public,
            peers=peers,
            genesis=genesis,
            overwrite=force,
        )
        config = load_config(home)
        info = NodePublicInfo.of(keys, config)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    http_shown = f"[{http_host}]" if ":" in http_host else http_host
    emit(
        {
            "home": str(home),
            "role": role,
            **info.to_json(),
            "p2p_listen": config.p2p_listen,
            "http_url": f"http://{http_shown}:{http_port}",
            "genesis": "copied" if genesis is not None else (
                "missing: export this node's info with `iomtshare keys show --home "
                f"{home} --json`, then `iomtshare genesis install` the assembled genesis"
            ),
        },
        as_json,
    )
