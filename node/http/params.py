"""Typed values from paths, query strings and JSON bodies, checked against their type's range.

Every helper raises :class:`BadRequest` (a 400 with the JSON error shape) for a value that is
missing, mistyped or out of range, so nothing a client sends reaches the ledger's encoders
(which raise ``OverflowError`` past 64 bits) or Python's 4,300-digit integer limit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request

from node.http.errors import BadRequest

#: Largest value of an unsigned 64-bit field (heights, timestamps, counters on the wire).
U64_MAX = 2**64 - 1


def parse_int(text: str, name: str, low: int = 0, high: int = U64_MAX) -> int:
    """``text`` as a decimal integer in ``low..high``: ASCII digits with an optional ``-``,
    nothing else (no spaces, signs, underscores or other scripts' digits)."""
    digits = text[1:] if text.startswith("-") else text
    longest = max(len(str(low)), len(str(high)))
    if not (digits.isascii() and digits.isdigit()) or len(text) > longest:
        raise BadRequest(f"{name} must be an integer in {low}..{high}")
    value = int(text)
    if not low <= value <= high:
        raise BadRequest(f"{name} must be an integer in {low}..{high}")
    return value


def query_int(request: Request, name: str, default: int, low: int = 0, high: int = U64_MAX) -> int:
    """Query parameter ``name`` as an integer in ``low..high``, or ``default`` if absent."""
    raw = request.query_params.get(name)
    return default if raw is None else parse_int(raw, f"query parameter {name}", low, high)


def query_seconds(request: Request, name: str, longest: float) -> float:
    """Query parameter ``name`` as a number of seconds in ``0..longest`` (0 if absent)."""
    raw = request.query_params.get(name)
    if raw is None:
        return 0.0
    try:
        value = float(raw)
    except ValueError as exc:
        raise BadRequest(f"{name} must be a number of seconds") from exc
    if not (math.isfinite(value) and 0 <= value <= longest):
        raise BadRequest(f"{name} must be within 0..{longest:g} seconds")
    return value


def hex_param(text: str, name: str, size: int = 32) -> bytes:
    """A path or query value that must be ``size`` bytes of hex."""
    try:
        value = bytes.fromhex(text)
    except ValueError as exc:
        raise BadRequest(f"{name} must be hex") from exc
    if len(value) != size:
        raise BadRequest(f"{name} must be {size} bytes of hex")
    return value


def hex_field(document: Mapping[str, Any], name: str, size: int | None = None) -> bytes:
    """The hex string ``document[name]`` decoded (exactly ``size`` bytes if given)."""
    value = document.get(name)
    if not isinstance(value, str):
        raise BadRequest(f"field {name!r} must be a hex string")
    try:
        decoded = bytes.fromhex(value)
    except ValueError as exc:
        raise BadRequest(f"field {name!r} is not valid hex") from exc
    if size is not None and len(decoded) != size:
        raise BadRequest(f"field {name!r} must be {size} bytes of hex")
    return decoded


def int_field(document: Mapping[str, Any], name: str, low: int = 0, high: int = U64_MAX) -> int:
    """The JSON integer ``document[name]`` in ``low..high`` (not a float, not a boolean)."""
    value = document.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise BadRequest(f"field {name!r} must be an integer in {low}..{high}")
    return value
