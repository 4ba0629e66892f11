"""The node's log lines, as ``key=value`` text or one JSON object per line, and its log level
changed while it runs.

The node's messages are written as an event followed by ``key=value`` fields
(``block committed height=5 round=0 hash=...``). The text format prints them as they are, after
the time, level and logger; the JSON format (:class:`JsonFormatter`) splits them into ``event``
and ``fields`` so a log pipeline needs no parser of its own.

The level is the root logger's, so it can be changed at run time for the whole process
(:func:`set_level`: the local API's ``PUT /log_level``, or SIGHUP re-reading ``config.toml``).
libp2p and its multiaddr library stay at warning or above whatever the level, because below it
they log every frame.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

#: Today's text format.
TEXT_FORMAT = "%(asctime)s level=%(levelname)s logger=%(name)s %(message)s"
#: The accepted ``--log-format`` values.
FORMATS = ("text", "json")
#: Libraries kept at warning or above.
CHATTY = ("libp2p", "multiaddr")

# A field starts at a word followed by "=" at the start or after whitespace; its value runs to
# the next field, so values may hold spaces ("signers=[1, 2]", "reason=too many denials").
_FIELD = re.compile(r"(?:^|(?<=\s))([A-Za-z_][A-Za-z0-9_.\-]*)=")
_INT = re.compile(r"-?[0-9]{1,18}")


class LogSetupError(ValueError):
    """An unknown log level or format."""


def parse_level(name: str) -> int:
    """The level number of ``name`` (any case: ``debug``, ``INFO``, ...); raises
    :class:`LogSetupError` for an unknown name."""
    level = logging.getLevelNamesMapping().get(name.strip().upper())
    if level is None:
        known = ", ".join(n.lower() for n in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"))
        raise LogSetupError(f"unknown log level {name!r} (one of {known})")
    return level


def split_event(message: str) -> tuple[str, dict[str, Any]]:
    """A ``"event key=value ..."`` message as its event and its fields (integers, booleans and
    ``None`` typed, the rest strings); a message without fields is all event."""
    matches = list(_FIELD.finditer(message))
    if not matches:
        return message, {}
    fields: dict[str, Any] = {}
    for match, after in zip(matches, [*matches[1:], None], strict=True):
        end = after.start() if after is not None else len(message)
        fields[match.group(1)] = _typed(message[match.end() : end].strip())
    return message[: matches[0].start()].strip(), fields


def _typed(value: str) -> Any:
    if _INT.fullmatch(value) and str(int(value)) == value:
        return int(value)
    return {"True": True, "False": False, "None": None}.get(value, value)


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ``time`` (ISO 8601, UTC, milliseconds), ``level``,
    ``logger``, ``event`` and ``fields`` (with ``exception`` holding a traceback)."""

    def format(self, record: logging.LogRecord) -> str:
        event, fields = split_event(record.getMessage())
        if record.exc_info:
            fields["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            fields["stack"] = self.formatStack(record.stack_info)
        moment = datetime.fromtimestamp(record.created, tz=UTC)
        document = {
            "time": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "event": event,
            "fields": fields,
        }
        # default=str: a field is text already; anything else a caller passed is shown as text.
        return json.dumps(document, ensure_ascii=False, default=str)


def formatter(log_format: str) -> logging.Formatter:
    """The formatter of ``log_format`` (``text`` or ``json``); raises :class:`LogSetupError`."""
    if log_format == "text":
        return logging.Formatter(TEXT_FORMAT)
    if log_format == "json":
        return JsonFormatter()
    raise LogSetupError(f"unknown log format {log_format!r} (one of {', '.join(FORMATS)})")


def configure(level: str, log_format: str = "text", stream: TextIO | None = None) -> None:
    """Send the process's log records to ``stream`` (stderr) in ``log_format`` at ``level``,
    replacing any handler set before. Raises :class:`LogSetupError` before changing anything."""
    chosen = formatter(log_format)
    number = parse_level(level)
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(chosen)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    _apply(number)


def set_level(level: str) -> str:
    """Change the process's log level to ``level`` now; returns the previous level's name.
    Raises :class:`LogSetupError` for an unknown level (nothing changes then)."""
    number = parse_level(level)
    previous = current_level()
    _apply(number)
    if previous != current_level():
        logging.getLogger("iomtshare.node").warning(
            "log level changed from=%s to=%s", previous, current_level()
        )
    return previous


def current_level() -> str:
    """The root logger's level name, lower case (``info``)."""
    return logging.getLevelName(logging.getLogger().level).lower()


def _apply(number: int) -> None:
    logging.getLogger().setLevel(number)
    for chatty in CHATTY:
        logging.getLogger(chatty).setLevel(max(logging.WARNING, number))
