"""JSON request bodies parsed so that no input can crash the node or turn into a 500.

:func:`parse_json` bounds the nesting depth *before* ``json.loads`` runs: the C decoder recurses
once per level and only stops at the interpreter's recursion limit, which py_ecc raises to
100,000 on import; that deep, C-level recursion overflows the thread's stack and kills the
process. The check never depends on the recursion limit. Numbers are bounded too: Python
refuses to convert integers of more than 4,300 digits (a ``ValueError`` from deep inside the
decoder), and no field of this API needs more than a few dozen digits.
"""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.requests import Request

from node.http.errors import BadRequest, UnsupportedMediaType

#: Deepest nesting of arrays and objects accepted in a body (the API's bodies use two levels).
MAX_DEPTH = 32
#: Longest number literal accepted (sign, digits, fraction, exponent): u64 needs 20 digits.
MAX_NUMBER_CHARS = 40
#: Most arrays and objects in one body; it bounds the exact depth check's work.
MAX_CONTAINERS = 10_000

# A JSON string once its escapes are neutralised (see _structure): no backslash is left in it.
_STRING = re.compile(rb'"[^"]*"')
_NOT_A_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")
_OPENERS_TO_SQUARE = bytes.maketrans(b"{}", b"[]")


def parse_json(body: bytes, *, max_depth: int = MAX_DEPTH) -> Any:
    """The JSON value of ``body``.

    Raises :class:`BadRequest` for anything but UTF-8 JSON nested at most ``max_depth``
    levels, with number literals of at most :data:`MAX_NUMBER_CHARS` characters (``NaN`` and
    ``Infinity`` are not JSON and are refused).
    """
    # UTF-8 only (RFC 8259): json.loads would also take UTF-16 and UTF-32, whose code units
    # can hold quote and bracket bytes that the byte-level depth check would misread.
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest(f"body is not UTF-8: {exc}") from exc
    check_depth(body, max_depth)
    try:
        return json.loads(
            text,
            parse_int=_parse_int,
            parse_float=_parse_float,
            parse_constant=_refuse_constant,
        )
    except json.JSONDecodeError as exc:
        raise BadRequest(f"body is not valid JSON: {exc}") from exc


def check_depth(body: bytes, max_depth: int = MAX_DEPTH) -> None:
    """Raise :class:`BadRequest` if arrays and objects in ``body`` (UTF-8 JSON) nest deeper
    than ``max_depth`` (or, for malformed JSON, might: it is refused either way)."""
    # Each bracket opens at most one level, so few brackets in total (counting those inside
    # strings too) settle it in two C-speed passes; ordinary bodies stop here.
    if body.count(b"[") + body.count(b"{") <= max_depth:
        return
    brackets = _structure(body)
    if b"[" * (max_depth + 1) in brackets:
        raise _too_deep(max_depth)
    if len(brackets) > 2 * MAX_CONTAINERS:
        raise BadRequest(f"body holds more than {MAX_CONTAINERS} JSON arrays and objects")
    # Each pass removes the innermost pairs, one level everywhere: a body nested at most
    # max_depth levels is empty after max_depth passes. Unbalanced brackets never empty.
    for _ in range(max_depth):
        if not brackets:
            return
        brackets = brackets.replace(b"[]", b"")
    if brackets:
        raise _too_deep(max_depth)


def _structure(body: bytes) -> bytes:
    """The brackets of ``body`` outside strings, ``{}`` written as ``[]``.

    Escapes are neutralised first, left to right as JSON reads them: an escaped backslash,
    then an escaped quote, become two plain bytes, so every ``"`` left delimits a string. For
    malformed JSON the result may differ from what a decoder sees after the first error, but
    the decoder stops there, and up to it both read the same prefix the same way.
    """
    plain = body.replace(b"\\\\", b"__").replace(b'\\"', b"__")
    outside = _STRING.sub(b"", plain)
    return outside.translate(_OPENERS_TO_SQUARE, _NOT_A_BRACKET)


def _too_deep(max_depth: int) -> BadRequest:
    return BadRequest(f"body nests arrays and objects deeper than {max_depth} levels")


def _parse_int(text: str) -> int:
    if len(text) > MAX_NUMBER_CHARS:
        raise BadRequest(f"body holds a number longer than {MAX_NUMBER_CHARS} characters")
    return int(text)


def _parse_float(text: str) -> float:
    if len(text) > MAX_NUMBER_CHARS:
        raise BadRequest(f"body holds a number longer than {MAX_NUMBER_CHARS} characters")
    return float(text)


def _refuse_constant(text: str) -> Any:
    raise BadRequest(f"body is not JSON: {text} is not a JSON value")


async def read_json_object(request: Request) -> dict[str, Any]:
    """The request body as a JSON object; raises :class:`BadRequest` or
    :class:`UnsupportedMediaType` (and 413/408 through the body limits)."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json":
        raise UnsupportedMediaType("send the body as application/json")
    value = parse_json(await request.body())
    if not isinstance(value, dict):
        raise BadRequest("body must be a JSON object")
    return value
