"""``iomtshare node start|status|reset``: run a consensus node in the foreground, ask one how
it is, or wipe its data.

``start`` reads a home directory (node.config layout), logs ``key=value`` lines to stderr and
stops cleanly on SIGINT or SIGTERM. ``status`` queries the node's HTTP API. ``reset`` deletes
the home's ``data/`` and keeps its keys, config and genesis.
"""

from __future__ import annotations

import json
import logging
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import click

from cli.foreground import configure_logs, run_until_signal

#: The node process's recursion limit; see ``start``.
NODE_RECURSION_LIMIT = 4000


@click.group()
def node() -> None:
    """Run or inspect a consensus node."""


@node.command()
@click.option(
    "--home",
    type=click.Path(path_type=Path, file_okay=False),
    required=True,
    help="Node home directory (config.toml, genesis.json, node_key, box_key, data/).",
)
@click.option("--log-level", default=None, help="Override config.toml's log_level.")
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default=None,
    help="key=value text lines (default) or one JSON object per line; config.toml: log_format.",
)
@click.option(
    "--role",
    type=click.Choice(["consensus", "edge"]),
    default="consensus",
    show_default=True,
    help="consensus: a validator of genesis `nodes`; edge: a light node of genesis `edges`.",
)
def start(home: Path, log_level: str | None, log_format: str | None, role: str) -> None:
    """Run the node in the foreground until SIGINT or SIGTERM.

    SIGHUP re-reads config.toml's log_level and applies it without a restart.
    """
    if role == "edge":
        from cli.edge_start import run_edge

        run_edge(home, log_level, log_format)
        return
    import py_ecc  # noqa: F401 - imported for its side effect, undone just below

    from ledger.errors import LedgerError
    from node.config import ConfigError, advertised_address
    from node.home import load_identity
    from node.http import HttpConfigError
    from node.p2p import P2PError
    from node.p2p.identity import peer_id_of
    from node.service import NodeService

    # Importing py_ecc raises the recursion limit to 100,000 for good (its scalar multiplication
    # recurses once per bit). In Python 3.11 that limit also bounds C-level recursion (json,
    # repr, pickle), and a few tens of thousands of C frames overflow the 8 MB stack: a segfault
    # no handler sees. The node needs far less: py_ecc's deepest path (G2 cofactor clearing,
    # a 636-bit scalar) is ~640 frames. So import it first and put back 4,000, which leaves py_ecc
    # 6x room and which every C recursion we tried (json, repr, pickle) fits in a thread's stack.
    # The HTTP body parser does not rely on this: it bounds nesting itself (node.http.body).
    sys.setrecursionlimit(NODE_RECURSION_LIMIT)
    try:
        identity = load_identity(home)
    except ConfigError as exc:
        raise click.ClickException(f"bad node home {home}: {exc}") from exc
    configure_logs(identity.config, log_level, log_format)
    try:
        advertised = advertised_address(
            identity.config, str(peer_id_of(identity.node_key.verify_key))
        )
    except ConfigError as exc:
        advertised = f"none ({exc})"
    logging.getLogger("iomtshare.node").info(
        "p2p listen=%s advertise=%s", identity.config.p2p_listen, advertised
    )
    try:
        service = NodeService(identity)
    except (ConfigError, P2PError) as exc:
        raise click.ClickException(str(exc)) from exc

    run_until_signal(
        service.run,
        "node",
        (LedgerError, P2PError, HttpConfigError, OSError),
        on_hangup=lambda: _reload_log_level(home),
    )


def _reload_log_level(home: Path) -> None:
    """SIGHUP: apply config.toml's log_level again; a bad file or level is logged, not fatal."""
    from node import logs
    from node.config import ConfigError, load_config

    try:
        logs.set_level(load_config(home).log_level)
    except (ConfigError, logs.LogSetupError) as exc:
        logging.getLogger("iomtshare.node").error("log level not reloaded reason=%s", exc)


@node.command()
@click.option(
    "--home",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Node home whose config.toml gives the HTTP address.",
)
@click.option("--url", default=None, help="HTTP API base URL (instead of --home).")
@click.option("--json", "as_json", is_flag=True, help="Print the raw JSON status.")
def status(home: Path | None, url: str | None, as_json: bool) -> None:
    """Show a running node's status (height, head, peers, round)."""
    if url is None:
        if home is None:
            raise click.UsageError("give --home or --url")
        from node.config import ConfigError, load_config

        try:
            config = load_config(home)
        except ConfigError as exc:
            raise click.ClickException(f"bad node home {home}: {exc}") from exc
        url = f"http://{config.http_host}:{config.http_port}"
    document = _get_json(url.rstrip("/") + "/status")
    if as_json:
        click.echo(json.dumps(document, indent=2, sort_keys=True))
        return
    for key in (
        "chain_id",
        "node_index",
        "peer_id",
        "height",
        "head_hash",
        "round",
        "peers_connected",
        "pending",
        "syncing",
    ):
        click.echo(f"{key:16} {document.get(key)}")


def _get_json(url: str) -> Any:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - http(s) URL
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        raise click.ClickException(f"{url}: HTTP {exc.code}") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise click.ClickException(f"node not reachable at {url}: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise click.ClickException(f"{url} did not answer JSON") from exc


@node.command()
@click.option(
    "--home",
    type=click.Path(path_type=Path, file_okay=False),
    required=True,
    help="Node home directory whose data/ is deleted.",
)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def reset(home: Path, yes: bool) -> None:
    """Delete the node's ledger and stored data; keep its keys, config.toml and genesis.json.

    The node then starts from block 1 and catches up from its peers, as the same member. The
    storage fragments clients handed to it are gone for good (any t other nodes still rebuild
    a record). Its consensus round record goes too: reset a node while the network has moved
    past the height it last voted at, never while the network is stuck there. Refused while
    the node runs.
    """
    from node.config import ConfigError
    from node.provision import reset_node_data

    if not yes:
        click.confirm(
            f"Delete {home / 'data'} (ledger, fragments, key shares)? Keys are kept", abort=True
        )
    try:
        removed = reset_node_data(home)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    except OSError as exc:
        raise click.ClickException(f"cannot delete {home / 'data'}: {exc}") from exc
    click.echo(f"reset {home}: " + ("data deleted, keys kept" if removed else "no data to delete"))
