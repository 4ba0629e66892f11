"""Straight-line decoders compiled from a type's ``FIELDS``, for the common case of valid input.

:meth:`ledger.encoding.Encoded.from_bytes` walks a type's fields one reader call at a time. A
block of 100 transactions holds about a thousand fields, and that per-field call overhead made
decoding whole blocks (explorer queries) several times slower than reading them. For each type,
:func:`compile_decoder` writes the equivalent Python function once: adjacent fixed-width fields
are read with one ``struct`` call, byte strings and texts inline, and every other field through
its own :mod:`ledger.fastread` reader; the instance is filled through its slots as
``from_bytes`` does, and a dataclass field the encoding does not hold (one that an older
encoding version lacks, such as a version-2 PutRecord's ``device_id``) gets its default.

A compiled decoder is only a fast path. Anything it does not accept as a complete canonical
encoding (a short read, a limit, a boolean byte, bad UTF-8, trailing bytes, an embedded object
that fails) is handed to the field-by-field decoder, which raises the precise
:class:`~crypto.errors.DecodeError`. So a compiled decoder never changes which inputs are
accepted or what error is reported, only how fast valid input is decoded;
``tests/ledger/test_fastread.py`` compares it with the reference decoder on valid and damaged
encodings of every type, and ``tests/ledger/test_decoders.py`` with the field-by-field one.
"""

from __future__ import annotations

import dataclasses
import struct
from collections.abc import Callable, Sequence
from typing import Any

from crypto.codec import MAX_FIELD_BYTES
from crypto.errors import DecodeError
from ledger import fastread

#: ``(name, struct layout or None, fast reader, item decoder or None)`` of each field, in order.
FieldPlan = Sequence[
    tuple[str, str | None, fastread.FastRead[Any], Callable[[bytes], Any] | None]
]

Decoder = Callable[[bytes], Any]

_U32 = struct.Struct(">I").unpack_from


def _fixed_run(
    fields: FieldPlan, start: int
) -> tuple[list[tuple[int, str, str]], int]:
    """The fixed-width fields from ``start`` on: ``(index, name, layout)`` each, and the index
    after them."""
    run = []
    index = start
    while index < len(fields) and fields[index][1] is not None:
        name, layout, _, _ = fields[index]
        run.append((index, name, layout or ""))
        index += 1
    return run, index


def compile_decoder(
    cls: type,
    fields: FieldPlan,
    *,
    bools: frozenset[str],
    header: tuple[int, int],
    by_field: Decoder,
    remember: Callable[[Any, bytes], None] | None,
    cache_slot: str | None = None,
) -> Decoder:
    """A function ``data -> instance of cls`` for encodings (bytes) of ``cls`` with ``fields``.

    ``fields`` gives each field's struct layout (``"32s"``, ``"I"``, ... for fixed-width fields,
    ``None`` otherwise), its :mod:`ledger.fastread` reader, and for a sequence of embedded
    objects the decoder of one item (the items are then split in one loop and decoded in one
    ``map``); ``bools`` names the boolean fields (read as one byte that must be 0 or 1).
    ``cls`` must be a slotted class. ``header`` is its type tag and version; ``by_field`` is the
    field-by-field decoder that every input not accepted here is handed to (it raises the
    precise :class:`DecodeError`); ``remember`` is called with each decoded instance and its
    encoding (the types that cache their encoding), unless ``cache_slot`` names the slot where
    it would store them: the encoding is then put there directly.
    """
    env: dict[str, Any] = {
        "CLS": cls,
        "NEW": object.__new__,
        "U32": _U32,
        "BLOBS": fastread.blobs,
        "DecodeError": DecodeError,
        "MAX_BLOB": MAX_FIELD_BYTES,
        "MAX_TEXT": fastread.MAX_TEXT_BYTES,
        "BY_FIELD": by_field,
        "REMEMBER": remember,
    }
    tag, version = header
    lines = [
        "def decode(data):",
        " try:",
        "  n = len(data)",
        f"  if n < 2 or data[0] != {tag} or data[1] != {version}: return BY_FIELD(data)",
        "  pos = 2",
    ]
    index = 0
    while index < len(fields):
        name, layout, read, decode_item = fields[index]
        if layout is not None:
            run, index = _fixed_run(fields, index)
            struct_name = f"S{run[0][0]}"
            packed = struct.Struct(">" + "".join(layout for _, _, layout in run))
            env[struct_name] = packed.unpack_from
            targets = "".join(f"v{i}, " for i, _, _ in run)
            lines += [
                f"  end = pos + {packed.size}",
                "  if end > n: return BY_FIELD(data)",
                f"  {targets}= {struct_name}(data, pos)",
                "  pos = end",
            ]
            for i, field_name, _ in run:
                if field_name in bools:
                    lines += [f"  if v{i} > 1: return BY_FIELD(data)", f"  v{i} = v{i} == 1"]
            continue
        if read is fastread.blob or read is fastread.text:
            limit = "MAX_BLOB" if read is fastread.blob else "MAX_TEXT"
            lines += [
                "  if pos + 4 > n: return BY_FIELD(data)",
                "  size = U32(data, pos)[0]",
                f"  if size > {limit}: return BY_FIELD(data)",
                "  start = pos + 4",
                "  pos = start + size",
                "  if pos > n: return BY_FIELD(data)",
            ]
            value = "data[start:pos]"
            if read is fastread.text:
                value += '.decode("utf-8")'
            lines.append(f"  v{index} = {value}")
        elif decode_item is not None:
            env[f"D{index}"] = decode_item
            lines += [
                "  raws, pos = BLOBS(data, pos)",
                f"  v{index} = tuple(map(D{index}, raws))",
            ]
        else:
            env[f"R{index}"] = read
            lines.append(f"  v{index}, pos = R{index}(data, pos)")
        index += 1
    lines += [" except (DecodeError, UnicodeDecodeError):", "  return BY_FIELD(data)"]
    lines += [" if pos != n: return BY_FIELD(data)", " obj = NEW(CLS)"]
    for index, (name, *_) in enumerate(fields):
        # The slot descriptor sets the attribute directly (the class is frozen).
        env[f"SET{index}"] = _slot(cls, name).__set__
        lines.append(f" SET{index}(obj, v{index})")
    for index, (name, value) in enumerate(_defaults(cls, fields, cache_slot)):
        # A field the encoding does not hold (one an older version lacks) gets its default.
        env[f"SETD{index}"] = _slot(cls, name).__set__
        env[f"DEFAULT{index}"] = value
        lines.append(f" SETD{index}(obj, DEFAULT{index})")
    if cache_slot is not None:
        env["SET_CACHE"] = _slot(cls, cache_slot).__set__
        lines.append(" SET_CACHE(obj, data)")
    elif remember is not None:
        lines.append(" REMEMBER(obj, data)")
    lines.append(" return obj")
    namespace: dict[str, Any] = {}
    exec("\n".join(lines), env, namespace)  # noqa: S102 - source built above from FIELDS only
    decoder: Decoder = namespace["decode"]
    return decoder


def _defaults(
    cls: type, fields: FieldPlan, cache_slot: str | None
) -> list[tuple[str, Any]]:
    """``(name, default)`` of each dataclass field of ``cls`` that ``fields`` does not decode
    (other than the cache slot); such a field must have a plain default."""
    if not dataclasses.is_dataclass(cls):
        return []
    decoded = {name for name, *_ in fields} | {cache_slot}
    extra = []
    for spec in dataclasses.fields(cls):
        if spec.name in decoded:
            continue
        if spec.default is dataclasses.MISSING:
            raise TypeError(f"{cls.__name__}.{spec.name} is not decoded and has no default")
        extra.append((spec.name, spec.default))
    return extra


def _slot(cls: type, name: str) -> Any:
    for klass in cls.__mro__:
        if name in klass.__dict__:
            return klass.__dict__[name]
    raise TypeError(f"{cls.__name__} has no slot {name}")
