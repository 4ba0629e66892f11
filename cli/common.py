"""Shared CLI plumbing: ``--json``/``--node`` options, tables, client sessions, and client errors
as clean exits.

Human output is a rich table (or key/value list); ``--json`` prints one JSON document on stdout
for scripts. Every expected failure (bad input, unreachable node, refused transaction, denied
request) exits with status 1 and a one-line message on stderr; usage errors exit with 2.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import click
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from client.session import Session

P = ParamSpec("P")
R = TypeVar("R")

DEFAULT_NODE = "http://127.0.0.1:26657"

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
node_option = click.option(
    "--node",
    "node_url",
    envvar="IOMTSHARE_NODE",
    default=DEFAULT_NODE,
    show_default=True,
    help="HTTP URL of a node (or $IOMTSHARE_NODE).",
)
timeout_option = click.option(
    "--timeout",
    type=click.FloatRange(0.1, 3600),
    default=30.0,
    show_default=True,
    help="Seconds to wait for a commit or a decision.",
)


def emit(value: Any, as_json: bool, *, title: str | None = None) -> None:
    """Print ``value`` as JSON or as a table (list of dicts) / key-value list (dict)."""
    if as_json:
        click.echo(json.dumps(value, indent=2, sort_keys=True, default=str))
        return
    # Piped output (logs, the demo script) gets room for wide tables instead of rich's 80.
    console = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 160)
    if isinstance(value, Mapping):
        table = Table(title=title, show_header=False, box=None)
        table.add_column(style="bold")
        table.add_column()
        for key, item in value.items():
            table.add_row(str(key), _cell(item, short=False))
        console.print(table)
    elif isinstance(value, Sequence) and not isinstance(value, str | bytes):
        rows = list(value)
        if not rows:
            console.print(f"{title + ': ' if title else ''}(none)")
            return
        columns = list(dict.fromkeys(k for row in rows for k in row))
        table = Table(title=title)
        for column in columns:
            table.add_column(column)
        for row in rows:
            table.add_row(*(_cell(row.get(c)) for c in columns))
        console.print(table)
    else:
        click.echo(str(value))


def _cell(value: Any, *, short: bool = True) -> str:
    """One table cell. Long hex is cut: to 12 digits in row tables (ids stay recognisable),
    and beyond one 32-byte id in key/value lists (so ids can be copied whole)."""
    if value is None:
        return "-"
    if isinstance(value, str) and all(c in "0123456789abcdef" for c in value):
        if short and len(value) > 16:
            return f"{value[:12]}…"
        if len(value) > 66:
            return f"{value[:16]}…({len(value) // 2} bytes)"
    if isinstance(value, dict | list):
        text = json.dumps(value, default=str)
        return text if len(text) <= 120 else text[:117] + "..."
    return str(value)


def hex_id(value: str, what: str = "id", size: int | None = 32) -> bytes:
    """Parse a hex id given on the command line; raises click.BadParameter."""
    try:
        raw = bytes.fromhex(value.strip())
    except ValueError as exc:
        raise click.BadParameter(f"{what} must be hex") from exc
    if size is not None and len(raw) != size:
        raise click.BadParameter(f"{what} must be {size} bytes ({2 * size} hex digits)")
    return raw


backend_option = click.option(
    "--backend",
    type=click.Choice(["mcl", "py_ecc"]),
    default=None,
    help="Pairing backend (default: $IOMTSHARE_PAIRING, else mcl).",
)


@contextmanager
def open_session(node_url: str, backend: str | None) -> Iterator[Session]:
    """A client session on ``node_url``; client errors inside become clean CLI errors."""
    from client import NodeClient
    from client.session import Session
    from crypto.groups import load_group

    with client_errors(), NodeClient(node_url) as client:
        yield Session(client, load_group(backend))


@contextmanager
def client_errors() -> Iterator[None]:
    """Turn the client's typed errors into ``click.ClickException`` (exit status 1)."""
    from client.errors import ClientError
    from testnet.layout import LayoutError

    try:
        yield
    except (ClientError, LayoutError) as exc:
        raise click.ClickException(f"{type(exc).__name__}: {exc}") from exc
    except ValueError as exc:
        # The flows raise ValueError for parameters the CLI could not check up front
        # (a threshold above the network size, a limit out of range).
        raise click.ClickException(f"invalid input: {exc}") from exc


def handles_client_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Decorator form of :func:`client_errors` for command callbacks."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with client_errors():
            return func(*args, **kwargs)

    return wrapper
