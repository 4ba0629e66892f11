"""Entry point of the ``iomtshare`` command.

Subcommands are loaded lazily so that ``iomtshare --help`` stays fast and a command only imports
what it uses (the libp2p stack is heavy; ``bench crypto`` does not need it).
"""

from __future__ import annotations

import click

from cli.lazy import LazyGroup

# name -> "module:attribute" of a click command or group. One line per command.
COMMANDS: dict[str, str] = {
    "bench": "cli.bench:bench",
    "demo": "cli.demo:demo",
    "ledger": "cli.ledger_cmd:ledger",
    "init": "cli.init_cmd:init",
    "node": "cli.node_cmd:node",
    "keys": "cli.keys_cmd:keys",
    "show-node-id": "cli.keys_cmd:show_node_id",
    "config": "cli.config_cmd:config",
    "genesis": "cli.genesis_cmd:genesis",
    "authority": "cli.authority_cmd:authority",
    "device": "cli.device_cmd:device",
    "sensor": "cli.sensor_cmd:sensor",
    "client": "cli.client_cmd:client",
    "explore": "cli.explore_cmd:explore",
    "testnet": "cli.testnet_cmd:testnet",
}


@click.group(
    cls=LazyGroup,
    lazy_commands=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(package_name="iomtshare")
def main() -> None:
    """iomtshare: threshold re-encryption sharing of medical IoT data on a permissioned chain."""
