"""Shared CLI plumbing: ``--json``/``--wide``/``--node`` options, tables, member ids, client
sessions, and client errors as clean exits.

Human output is a rich table (or key/value list) sized for an 80-column terminal: row tables
show a command's main columns with ids cut to 8 hex digits, key/value lists keep 32-byte ids
whole (to be copied), and times are UTC. ``--wide`` shows every column and whole ids whatever
the width; ``--json`` prints one JSON document on stdout for scripts (raw values, epoch ms).
Notes for the user (ids to keep, what an interrupted command left behind) go to stderr.
Every expected failure (bad input, unreachable node, refused transaction, denied request)
exits with status 1 and a one-line message on stderr; usage errors exit with 2; Ctrl-C exits
with 130 after saying what was done.
"""

from __future__ import annotations

import functools
import json
import shutil
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, ParamSpec, TypeVar

import click
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from client.session import Session

P = ParamSpec("P")
R = TypeVar("R")
F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_NODE = "http://127.0.0.1:26657"
#: Width human output is made for unless ``--wide`` (a narrower terminal gets its own width).
TERMINAL_WIDTH = 80
#: Hex digits a row table shows of an id (git shows 7; ids are recognisable by these).
SHORT_ID_DIGITS = 8
#: Exit status after Ctrl-C, as a shell reports a command ended by SIGINT.
INTERRUPTED = 130
_WIDE = "iomtshare.wide"
_ID_DIGITS = 64


def _remember_wide(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
    # Kept in the context (shared by nested contexts) so that emit() needs no extra argument.
    ctx.meta[_WIDE] = value
    return value


_json_flag = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
_wide_flag = click.option(
    "--wide",
    is_flag=True,
    expose_value=False,
    callback=_remember_wide,
    help="Every column and whole ids, whatever the terminal width.",
)


def json_option(func: F) -> F:
    """``--json`` (passed as ``as_json``) and ``--wide`` (read by :func:`emit`)."""
    return _json_flag(_wide_flag(func))


node_option = click.option(
    "--node",
    "node_url",
    envvar="IOMTSHARE_NODE",
    default=DEFAULT_NODE,
    show_default=True,
    help="HTTP URL of a node, or its HOST:PORT (or $IOMTSHARE_NODE).",
)
timeout_option = click.option(
    "--timeout",
    type=click.FloatRange(0.1, 3600),
    default=30.0,
    show_default=True,
    help="Seconds to wait for a commit or a decision.",
)


def note(message: str) -> None:
    """A line for the user on stderr (stdout stays clean for ``--json``)."""
    click.echo(message, err=True)


def interrupted(message: str) -> NoReturn:
    """After Ctrl-C: say what happened and exit with status 130 (not click's "Aborted!")."""
    note(f"\ninterrupted: {message}")
    raise click.exceptions.Exit(INTERRUPTED)


def wide_output() -> bool:
    ctx = click.get_current_context(silent=True)
    return bool(ctx is not None and ctx.meta.get(_WIDE))


def emit(
    value: Any,
    as_json: bool,
    *,
    title: str | None = None,
    columns: Sequence[str] | None = None,
) -> None:
    """Print ``value`` as JSON, or as a table (list of dicts) / key-value list (dict).

    ``columns`` are the columns a row table shows by default (all with ``--wide``, or when
    not given).
    """
    if as_json:
        click.echo(json.dumps(value, indent=2, sort_keys=True, default=str))
        return
    wide = wide_output()
    console = _console(wide)
    if isinstance(value, Mapping):
        console.print(_key_values(value, title, wide, console.width))
    elif isinstance(value, Sequence) and not isinstance(value, str | bytes):
        rows = list(value)
        if not rows:
            console.print(f"{title + ': ' if title else ''}(none)")
            return
        console.print(_rows(rows, title, wide, None if wide else columns))
    else:
        click.echo(str(value))


def _console(wide: bool) -> Console:
    if wide:
        # Sized by the content: a terminal narrower than a row wraps it, nothing is cut.
        return Console(soft_wrap=True, width=100_000)
    width = TERMINAL_WIDTH
    if sys.stdout.isatty():
        width = min(width, shutil.get_terminal_size((TERMINAL_WIDTH, 24)).columns)
    return Console(width=width)


def _key_values(
    value: Mapping[str, Any], title: str | None, wide: bool, width: int
) -> Group:
    """One ``key value`` line per item. Keys are aligned, but never so far right that a whole
    32-byte id no longer fits after them; other values are cut to the width unless wide."""
    items = [(_label(str(k)), _human(k, v)) for k, v in value.items()]
    key_width = max((len(k) for k, _ in items), default=0)
    has_id = any(isinstance(v, str) and len(v) == _ID_DIGITS and _is_hex(v) for _, v in items)
    if has_id and not wide:
        key_width = min(key_width, max(0, width - 1 - _ID_DIGITS))
    lines: list[Text] = [Text(title, style="italic")] if title else []
    for key, item in items:
        label = key.ljust(key_width)
        room = None if wide else max(8, width - len(label) - 1)
        line = Text(label, style="bold")
        line.append(" " + _cell(item, short=False, room=room))
        lines.append(line)
    return Group(*lines)


def _rows(
    rows: list[Mapping[str, Any]], title: str | None, wide: bool, columns: Sequence[str] | None
) -> Table:
    shown = list(columns) if columns else list(dict.fromkeys(k for row in rows for k in row))
    table = Table(title=title)
    for column in shown:
        table.add_column(_label(column, short=not wide), no_wrap=wide)
    for row in rows:
        # Text, not str: rich would read "[...]" in a member's attribute as markup.
        table.add_row(
            *(Text(_cell(_human(c, row.get(c)), short=not wide, room=None if wide else 40))
              for c in shown)
        )
    return table


def is_time_key(key: object) -> bool:
    """Fields holding wall-clock epoch milliseconds (not durations such as round timeouts)."""
    name = str(key)
    return name.endswith(("_at_ms", "time_ms")) or name in ("timestamp_ms", "expiry")


def utc_time(epoch_ms: int) -> str:
    """``2026-11-23 09:14:05Z`` for a time in epoch milliseconds."""
    try:
        moment = datetime.fromtimestamp(epoch_ms / 1000, UTC)
    except (OverflowError, OSError, ValueError):
        return str(epoch_ms)
    return moment.strftime("%Y-%m-%d %H:%M:%SZ")


def _human(key: object, value: Any) -> Any:
    """``value`` with its times (nested ones too) as UTC text."""
    if is_time_key(key) and isinstance(value, int) and not isinstance(value, bool):
        return utc_time(value)
    if isinstance(value, Mapping):
        return {k: _human(k, v) for k, v in value.items()}
    if isinstance(value, list):
        return [_human(key, v) for v in value]
    return value


def _label(key: str, *, short: bool = False) -> str:
    """A column or row label: times lose their ``_ms``; narrow tables drop ``_id``."""
    if is_time_key(key) and key.endswith("_ms"):
        key = key[: -len("_ms")]
    if short and key.endswith("_id") and key != "_id":
        key = key[: -len("_id")]
    return key


def _is_hex(value: str) -> bool:
    return bool(value) and all(c in "0123456789abcdef" for c in value)


def _cell(value: Any, *, short: bool = True, room: int | None = None) -> str:
    """One cell. Row tables cut ids to :data:`SHORT_ID_DIGITS` digits unless wide; any hex
    longer than one 32-byte id becomes its first digits and its size; text and JSON are cut
    to ``room`` characters (None: whole)."""
    if value is None:
        return "-"
    if isinstance(value, str) and _is_hex(value) and len(value) > 16:
        if len(value) > _ID_DIGITS:
            return f"{value[:16]}…({len(value) // 2} bytes)"
        return f"{value[:SHORT_ID_DIGITS]}…" if short else value
    text = json.dumps(value, default=str) if isinstance(value, dict | list) else str(value)
    if room is not None and len(text) > room:
        return text[: room - 1] + "…"
    return text


def member_id_of(value: str) -> bytes:
    """A member id from the command line: 64 hex digits, or a member directory (or its
    ``member.json``) as ``client keygen`` wrote it. Raises :class:`click.BadParameter`."""
    path = Path(value).expanduser()
    if path.exists():
        from client import MemberPublic
        from client.errors import KeyStoreError

        try:
            return MemberPublic.load(path).member_id
        except KeyStoreError as exc:
            raise click.BadParameter(str(exc)) from exc
    text = value.strip().lower()
    if len(text) == _ID_DIGITS and _is_hex(text):
        return bytes.fromhex(text)
    raise click.BadParameter(
        f"{value!r} is neither a member id (64 hex digits) nor a member directory "
        "or member.json"
    )


class MemberIdParam(click.ParamType[bytes, Any]):
    """Click type of a member id argument: see :func:`member_id_of`; converts to bytes."""

    name = "member"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> bytes:
        if isinstance(value, bytes):
            return value
        return member_id_of(str(value))


MEMBER_ID = MemberIdParam()


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
