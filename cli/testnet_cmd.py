"""``iomtshare testnet up|down|status``: a local multi-process network on loopback."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from cli.chaos_cmd import chaos
from cli.common import client_errors, emit, json_option

if TYPE_CHECKING:
    from testnet.layout import Network

dir_option = click.option(
    "--dir",
    "directory",
    envvar="IOMTSHARE_TESTNET",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("testnet-data"),
    show_default=True,
    help="Where the network lives (or $IOMTSHARE_TESTNET).",
)


@click.group("testnet")
def testnet() -> None:
    """Create (up), restart (start), inspect (status, logs, env) and stop (down) a local
    testnet of real node processes."""


testnet.add_command(chaos)


@testnet.command("up")
@click.option("--nodes", "n", type=click.IntRange(1, 64), default=4, show_default=True)
@click.option("--threshold", type=click.IntRange(1, 64), default=None, help="t (default: quorum).")
@click.option("--base-port", type=click.IntRange(1024, 65000), default=None,
              help="First port (default: free ports).")
@click.option("--block-interval-ms", type=click.IntRange(10, 60_000), default=None,
              help="Batching delay before a block with only ordinary transactions.")
@click.option("--round-timeout-ms", type=click.IntRange(100, 600_000), default=None,
              help="First round's proposal wait (later rounds wait longer).")
@click.option("--timeout", type=click.FloatRange(1, 600), default=90.0, show_default=True,
              help="Seconds to wait until every node sees all its peers.")
@click.option("--edges", type=click.IntRange(0, 64), default=0, show_default=True,
              help="Edge (light) nodes to list in genesis and start.")
@click.option("--force", is_flag=True,
              help="Replace a stopped network in --dir (its data is lost; `start` keeps it).")
@dir_option
@json_option
def up(
    n: int,
    threshold: int | None,
    base_port: int | None,
    block_interval_ms: int | None,
    round_timeout_ms: int | None,
    timeout: float,
    edges: int,
    force: bool,
    directory: Path,
    as_json: bool,
) -> None:
    """Create an N-node network in --dir, start the nodes and wait until they are connected."""
    from testnet.launcher import LaunchError
    from testnet.launcher import up as launch

    if threshold is not None and threshold > n:
        message = f"threshold {threshold} exceeds {n} nodes"
        raise click.BadParameter(message, param_hint="--threshold")
    params = {
        name: value
        for name, value in (
            ("block_interval_ms", block_interval_ms),
            ("round_timeout_ms", round_timeout_ms),
        )
        if value is not None
    }
    progress = (lambda _: None) if as_json else click.echo
    try:
        with client_errors():
            network = launch(
                directory, n, threshold=threshold, base_port=base_port, timeout=timeout,
                overwrite=force, genesis_params=params, progress=progress, edges=edges,
            )
            if network.edges:
                _start_edges(network, timeout, progress)
    except LaunchError as exc:
        raise click.ClickException(str(exc)) from exc
    if _show(network, as_json, f"{n} nodes, t={network.genesis.threshold}"):
        return
    click.echo(
        "\nUse it:\n"
        f'  eval "$(iomtshare testnet env --dir {directory})"\n'
        "  iomtshare explore status\n"
        "  iomtshare client keygen --member alice && iomtshare authority register alice\n"
        f"  iomtshare testnet down --dir {directory}"
    )


def _start_edges(network: Network, timeout: float, progress: Callable[[str], None]) -> None:
    """Start the edges of a network just brought up; if they fail, take the nodes down too."""
    from testnet.edges import launch_edges
    from testnet.launcher import stop

    try:
        launch_edges(network, timeout, progress)
    except BaseException:
        stop(network.directory)
        raise


@testnet.command("start")
@click.option("--node", "indexes", type=click.IntRange(1, 64), multiple=True,
              help="Start only this node (repeatable; default: every node not running).")
@click.option("--timeout", type=click.FloatRange(1, 600), default=90.0, show_default=True,
              help="Seconds to wait until every node started sees its running peers.")
@dir_option
@json_option
def start(indexes: tuple[int, ...], timeout: float, directory: Path, as_json: bool) -> None:
    """Start the nodes of --dir that are not running (a stopped network, or a node that was
    killed), with their keys, ports and ledgers; without --node, its stopped edges too."""
    from testnet.edges import launch_edges, running_edges
    from testnet.launcher import LaunchError, running_nodes
    from testnet.launcher import start as launch
    from testnet.layout import load_network

    progress = (lambda _: None) if as_json else click.echo
    try:
        with client_errors():
            before = set(running_nodes(load_network(directory)))
            network = launch(directory, nodes=indexes or None, timeout=timeout,
                             progress=progress)
            stopped_edges = {e.index for e in network.edges} - running_edges(network)
            if stopped_edges and not indexes:
                launch_edges(network, timeout, progress, only=stopped_edges)
    except LaunchError as exc:
        raise click.ClickException(str(exc)) from exc
    started = sorted(set(indexes) or {n.index for n in network.nodes} - before)
    _show(network, as_json, f"started node(s) {', '.join(map(str, started))}")


def _show(network: Network, as_json: bool, summary: str) -> bool:
    """Print the network's endpoints (JSON or a table); True if JSON was printed."""
    if as_json:
        emit(network.to_json(), True)
        return True
    rows = [
        {"node": e.index, "http": e.http_url, "p2p": e.p2p_listen, "p2p_address": e.p2p_address}
        for e in network.nodes
    ]
    rows += [
        {"node": f"edge{e.index}", "http": e.http_url, "p2p": e.p2p_listen} for e in network.edges
    ]
    emit(rows, False, title=f"testnet {network.chain_id}: {summary}",
         columns=["node", "http", "p2p"])
    return False


@testnet.command("down")
@click.option("--grace", type=click.FloatRange(0, 120), default=10.0, show_default=True,
              help="Seconds between SIGTERM and SIGKILL.")
@dir_option
@json_option
def down(grace: float, directory: Path, as_json: bool) -> None:
    """Stop the nodes of the testnet in --dir (SIGTERM, then SIGKILL after --grace)."""
    from testnet.launcher import stop
    from testnet.layout import load_network

    with client_errors():
        # A mistyped --dir must not look like a network that was stopped.
        load_network(directory)
    stopped = stop(directory, grace)
    emit({"stopped": stopped} if as_json else f"stopped {len(stopped)} node(s)", as_json)


@testnet.command("env")
@dir_option
def env(directory: Path) -> None:
    """Print the shell exports that point the CLI at the testnet in --dir:
    eval "$(iomtshare testnet env --dir D)"."""
    import shlex

    from testnet.layout import load_network

    with client_errors():
        network = load_network(directory)
    exports = {
        "IOMTSHARE_NODE": network.nodes[0].http_url,
        "IOMTSHARE_AUTHORITY_KEY": str(network.authority_key_path.resolve()),
        "IOMTSHARE_TESTNET": str(network.directory.resolve()),
    }
    for name, value in exports.items():
        click.echo(f"export {name}={shlex.quote(value)}")


@testnet.command("status")
@dir_option
@json_option
def status(directory: Path, as_json: bool) -> None:
    """Height, head and connected peers of every node, then of every edge (role edge: its
    tip, the consensus nodes it is connected to and, in --json, the header batches it refused);
    exit status 1 if one does not answer."""
    from testnet.launcher import status as node_states

    with client_errors():
        states = node_states(directory)
    emit([s.to_json() for s in states], as_json, title="testnet",
         columns=["index", "role", "running", "http_url", "height", "peers_connected", "error"])
    if any(s.error for s in states):
        raise click.ClickException("some nodes or edges do not answer")


@testnet.command("logs")
@click.option("--node", "index", type=click.IntRange(1, 64), required=True, help="Node index.")
@click.option("--lines", type=click.IntRange(1, 100_000), default=40, show_default=True)
@dir_option
def logs(index: int, lines: int, directory: Path) -> None:
    """Print the last --lines of a node's log."""
    from testnet.launcher import LOG_FILE, log_tail
    from testnet.layout import load_network

    with client_errors():
        home = load_network(directory).node(index).home
    click.echo(log_tail(directory / home / LOG_FILE, lines))
