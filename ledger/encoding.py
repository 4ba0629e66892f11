"""Declarative canonical encodings for ledger records, built on :mod:`crypto.codec`.

A ledger type is a frozen dataclass that subclasses :class:`Encoded` and lists its fields once in
``FIELDS`` as ``(name, kind)`` pairs. From that list it gets ``to_bytes()`` (type tag, version, then
each field in order), an exact ``from_bytes()`` that raises :class:`~crypto.errors.DecodeError` on
anything but a canonical encoding, and a construction-time check that every field has the right
type and size (``ValueError`` otherwise), so an instance can always be encoded.

``from_bytes`` has three equivalent implementations: ``from_bytes_with_reader`` through
:class:`~crypto.codec.Reader` (the reference), ``from_bytes_by_field`` with the position-based
readers of :mod:`ledger.fastread`, and a decoder compiled from ``FIELDS`` by
:mod:`ledger.decoders`, which is what runs (it hands anything it does not accept to
``from_bytes_by_field``, so errors are the same).

Type tags of ledger objects live in the range 0x40-0x6F of :mod:`crypto.tags`, the registry of
every type tag in the project; they are listed in one place below.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, Self, TypeVar

from crypto import tags
from crypto.codec import Reader, Writer, parse
from crypto.errors import DecodeError
from ledger import fastread
from ledger.decoders import Decoder, compile_decoder
from ledger.fastread import FastRead

# Type tags, one per encoded ledger type, taken from the project's one registry.
TAG_NODE_INFO = tags.LEDGER_NODE_INFO
TAG_GENESIS = tags.LEDGER_GENESIS
TAG_COMMIT_SIG = tags.LEDGER_COMMIT_SIG
TAG_COMMIT_QC = tags.LEDGER_COMMIT_QC
TAG_ELECTION_QC = tags.LEDGER_ELECTION_QC
TAG_ELECTION_SIG = tags.LEDGER_ELECTION_SIG
TAG_REGISTER_MEMBER = tags.LEDGER_REGISTER_MEMBER
TAG_ATTRIBUTE_CHANGE = tags.LEDGER_ATTRIBUTE_CHANGE
TAG_PUT_RECORD = tags.LEDGER_PUT_RECORD
TAG_GRANT = tags.LEDGER_GRANT
TAG_REVOKE = tags.LEDGER_REVOKE
TAG_ACCESS_REQUEST = tags.LEDGER_ACCESS_REQUEST
TAG_KEY_UPDATE = tags.LEDGER_KEY_UPDATE
TAG_UNBLACKLIST = tags.LEDGER_UNBLACKLIST
TAG_ACCESS_VOTE = tags.LEDGER_ACCESS_VOTE
TAG_SHARING_RESULT = tags.LEDGER_SHARING_RESULT
TAG_BLOCK_HEADER = tags.LEDGER_BLOCK_HEADER
TAG_BLOCK = tags.LEDGER_BLOCK
TAG_MEMBER = tags.LEDGER_MEMBER
TAG_RECORD_ENTRY = tags.LEDGER_RECORD_ENTRY
TAG_GRANT_ENTRY = tags.LEDGER_GRANT_ENTRY
TAG_ATTRIBUTE_RECORD = tags.LEDGER_ATTRIBUTE_RECORD
TAG_AUDIT_RECORD = tags.LEDGER_AUDIT_RECORD
TAG_HEAD = tags.LEDGER_HEAD
TAG_TX_LOCATION = tags.LEDGER_TX_LOCATION
TAG_REVOCATION = tags.LEDGER_REVOCATION
TAG_COUNTER = tags.LEDGER_COUNTER
TAG_BLACKLIST = tags.LEDGER_BLACKLIST
TAG_STORED_FRAGMENT = tags.LEDGER_STORED_FRAGMENT
TAG_REGISTER_DEVICE = tags.LEDGER_REGISTER_DEVICE
TAG_REKEY_DEVICE = tags.LEDGER_REKEY_DEVICE

T = TypeVar("T")


class Kind(Generic[T]):
    """How one field is checked, written and read.

    ``read`` reads through a :class:`~crypto.codec.Reader`; ``fast`` is the equivalent
    position-based reader of :mod:`ledger.fastread` that ``from_bytes`` uses. ``layout`` is the
    ``struct`` format of a fixed-width kind (``None`` for the others), which lets
    :mod:`ledger.decoders` read runs of such fields at once; ``embedded`` decodes the bytes of an
    embedded object (nested and union kinds) and ``embedded_items`` those of each item of a
    sequence of them. ``inner``
    describes what a composite kind holds (the item kind of a sequence or optional, the class of
    a nested object, the classes of a union), so tools can walk a type's fields.
    """

    def __init__(
        self,
        name: str,
        check: Callable[[Any], bool],
        write: Callable[[Writer, T], object],
        read: Callable[[Reader], T],
        fast: FastRead[T],
        inner: object = None,
        layout: str | None = None,
        embedded: Callable[[bytes], T] | None = None,
        embedded_items: Callable[[bytes], Any] | None = None,
    ) -> None:
        self.name = name
        self.check = check
        self.write = write
        self.read = read
        self.fast = fast
        self.inner = inner
        self.layout = layout
        self.embedded = embedded
        self.embedded_items = embedded_items


def _uint(bits: int) -> Callable[[Any], bool]:
    limit = 1 << bits
    return lambda v: isinstance(v, int) and not isinstance(v, bool) and 0 <= v < limit


def _fixed(size: int) -> Kind[bytes]:
    return Kind(
        f"bytes[{size}]",
        lambda v: isinstance(v, bytes) and len(v) == size,
        lambda w, v: w.fixed(v, size),
        lambda r: r.fixed(size),
        fastread.fixed(size),
        layout=f"{size}s",
    )


def _is_text(value: Any) -> bool:
    return isinstance(value, str) and len(value.encode("utf-8")) <= 4096


U8: Kind[int] = Kind("u8", _uint(8), Writer.u8, Reader.u8, fastread.uint(1), layout="B")
U16: Kind[int] = Kind("u16", _uint(16), Writer.u16, Reader.u16, fastread.uint(2), layout="H")
U32: Kind[int] = Kind("u32", _uint(32), Writer.u32, Reader.u32, fastread.uint(4), layout="I")
U64: Kind[int] = Kind("u64", _uint(64), Writer.u64, Reader.u64, fastread.uint(8), layout="Q")
# One byte that must be 0 or 1: the compiled decoders check it after reading it as "B".
BOOL: Kind[bool] = Kind(
    "bool",
    lambda v: isinstance(v, bool),
    Writer.boolean,
    Reader.boolean,
    fastread.boolean,
    layout="B",
)
HASH = _fixed(32)
NONCE = _fixed(16)
SIGNATURE = _fixed(64)
KEY = _fixed(32)
BLOB: Kind[bytes] = Kind(
    "blob",
    lambda v: isinstance(v, bytes),
    lambda w, v: w.blob(v),
    lambda r: r.blob(),
    fastread.blob,
)
TEXT: Kind[str] = Kind("text", _is_text, lambda w, v: w.text(v), lambda r: r.text(), fastread.text)
TEXTS: Kind[tuple[str, ...]] = Kind(
    "texts",
    lambda v: isinstance(v, tuple) and all(_is_text(x) for x in v),
    lambda w, v: w.seq(v, lambda w2, x: w2.text(x)),
    lambda r: tuple(r.seq(lambda r2: r2.text())),
    fastread.sequence(fastread.text),
)
HASHES: Kind[tuple[bytes, ...]] = Kind(
    "hashes",
    lambda v: isinstance(v, tuple) and all(isinstance(x, bytes) and len(x) == 32 for x in v),
    lambda w, v: w.seq(v, lambda w2, x: w2.fixed(x, 32)),
    lambda r: tuple(r.seq(lambda r2: r2.fixed(32))),
    fastread.sequence(fastread.fixed(32)),
)

E = TypeVar("E", bound="Encoded")


def nested(cls: type[E]) -> Kind[E]:
    """One embedded object, stored length-prefixed."""
    return Kind(
        cls.__name__,
        lambda v: isinstance(v, cls),
        lambda w, v: w.blob(v.to_bytes()),
        lambda r: cls.from_bytes_with_reader(r.blob()),
        fastread.embedded(cls.from_bytes),
        inner=cls,
        embedded=cls.from_bytes,
    )


def optional(kind: Kind[T]) -> Kind[T | None]:
    """A presence byte followed by the value when present."""

    def write(w: Writer, v: T | None) -> None:
        w.boolean(v is not None)
        if v is not None:
            kind.write(w, v)

    def read(r: Reader) -> T | None:
        return kind.read(r) if r.boolean() else None

    return Kind(
        f"optional {kind.name}",
        lambda v: v is None or kind.check(v),
        write,
        read,
        fastread.optional(kind.fast),
        inner=kind,
    )


def sequence(kind: Kind[T]) -> Kind[tuple[T, ...]]:
    """A count followed by each item."""
    return Kind(
        f"sequence of {kind.name}",
        lambda v: isinstance(v, tuple) and all(kind.check(x) for x in v),
        lambda w, v: w.seq(v, kind.write),
        lambda r: tuple(r.seq(kind.read)),
        fastread.sequence(kind.fast),
        inner=kind,
        embedded_items=kind.embedded,
    )


def tagged_union(
    name: str, decode: Callable[[bytes], T], check: type | tuple[type, ...]
) -> Kind[T]:
    """One object of several encoded types, dispatched by its own type tag when read."""
    return Kind(
        name,
        lambda v: isinstance(v, check),
        lambda w, v: w.blob(v.to_bytes()),  # type: ignore[attr-defined]
        lambda r: decode(r.blob()),
        fastread.embedded(decode),
        inner=check,
        embedded=decode,
    )


@dataclass(frozen=True, slots=True)
class Encoded:
    """Base of every encoded ledger type; subclasses set ``TAG``, ``VERSION`` and ``FIELDS``."""

    TAG: ClassVar[int]
    VERSION: ClassVar[int] = 1
    FIELDS: ClassVar[Sequence[tuple[str, Kind[Any]]]]
    #: The slot in which a type caches its canonical encoding, if it does (its
    #: ``remember_encoding`` stores the bytes there); decoders fill it directly.
    CACHED_ENCODING: ClassVar[str | None] = None

    def __post_init__(self) -> None:
        for name, kind in self.FIELDS:
            if not kind.check(getattr(self, name)):
                raise ValueError(f"{type(self).__name__}.{name} must be {kind.name}")

    def write_fields(self, writer: Writer) -> Writer:
        for name, kind in self.FIELDS:
            kind.write(writer, getattr(self, name))
        return writer

    def to_bytes(self) -> bytes:
        """The canonical encoding: type tag, version, then every field in declaration order."""
        return self.write_fields(Writer(self.TAG, self.VERSION)).to_bytes()

    @classmethod
    def read_fields(cls, reader: Reader) -> dict[str, Any]:
        return {name: kind.read(reader) for name, kind in cls.FIELDS}

    @classmethod
    def from_fields(cls, values: dict[str, Any]) -> Self:
        """Build an instance from freshly decoded field values.

        The reader already guarantees each value's type, width and size limit, so the per-field
        checks of construction are skipped; types with cross-field rules override this and
        raise :class:`DecodeError` when a rule fails.
        """
        obj = object.__new__(cls)
        for name, value in values.items():
            object.__setattr__(obj, name, value)
        return obj

    @classmethod
    def from_bytes(cls, data: bytes) -> Self:
        """Parse a canonical encoding; raises :class:`DecodeError` on any deviation."""
        if not isinstance(data, bytes):
            if not isinstance(data, bytearray | memoryview):
                raise DecodeError(f"{cls.__name__}: expected bytes, got {type(data).__name__}")
            data = bytes(data)
        decoded: Self = (_DECODERS.get(cls) or _decoder(cls))(data)
        return decoded

    @classmethod
    def from_bytes_by_field(cls, data: bytes) -> Self:
        """:meth:`from_bytes` one field reader call at a time (``data`` must be bytes).

        The compiled decoders of :mod:`ledger.decoders` hand every input they do not accept
        to this, which raises the precise error.
        """
        try:
            if len(data) < 2:
                raise fastread.truncated(data, 0, 2)
            if data[0] != cls.TAG:
                raise DecodeError(f"type tag {data[0]:#04x}, expected {cls.TAG:#04x}")
            if data[1] != cls.VERSION:
                raise DecodeError(f"unsupported version {data[1]}, expected {cls.VERSION}")
            pos = 2
            setters = _slot_setters(cls)
            if setters is not None:
                # No cross-field rules: fill the slots as the fields are read.
                decoded = object.__new__(cls)
                for read, set_slot in setters:
                    value, pos = read(data, pos)
                    set_slot(decoded, value)
            else:
                values = {}
                for name, read in _fast_fields(cls):
                    values[name], pos = read(data, pos)
            if pos != len(data):
                raise DecodeError(f"{len(data) - pos} trailing bytes after the encoding")
        except DecodeError as exc:
            raise DecodeError(f"{cls.__name__}: {exc}") from exc
        if setters is None:
            decoded = cls.from_fields(values)
        decoded.remember_encoding(data)
        return decoded

    @classmethod
    def from_bytes_with_reader(cls, data: bytes) -> Self:
        """:meth:`from_bytes` through :class:`~crypto.codec.Reader` (the reference decoder)."""

        def body(reader: Reader) -> Any:
            reader.expect_header(cls.TAG, cls.VERSION)
            return cls.from_fields(cls.read_fields(reader))

        decoded: Self = parse(data, cls.__name__, body)
        decoded.remember_encoding(data)
        return decoded

    def remember_encoding(self, data: bytes) -> None:
        """Hook for types that cache their encoding; ``data`` is known to be canonical."""


_DECODERS: dict[type, Decoder] = {}


def bytes_decoder(cls: type[E]) -> Callable[[bytes], E]:
    """What ``cls.from_bytes`` runs once its input is known to be ``bytes``: a compiled decoder
    where ``cls`` has one. For callers that decode many items of one type."""
    decoder: Callable[[bytes], E] = _DECODERS.get(cls) or _decoder(cls)
    return decoder


def _decoder(cls: type[Encoded]) -> Decoder:
    """How ``cls.from_bytes`` decodes bytes, chosen on first use: a compiled decoder (see
    :mod:`ledger.decoders`) unless ``cls`` has cross-field rules (its own ``from_fields``)."""
    decoder: Decoder = cls.from_bytes_by_field
    if _slot_setters(cls) is not None:
        plan = [(name, kind.layout, kind.fast, kind.embedded_items) for name, kind in cls.FIELDS]
        decoder = compile_decoder(
            cls,
            plan,
            bools=frozenset(name for name, kind in cls.FIELDS if kind is BOOL),
            header=(cls.TAG, cls.VERSION),
            by_field=cls.from_bytes_by_field,
            remember=(
                None
                if cls.remember_encoding is Encoded.remember_encoding
                else cls.remember_encoding
            ),
            cache_slot=cls.CACHED_ENCODING,
        )
    _DECODERS[cls] = decoder
    return decoder


_FAST_FIELDS: dict[type, tuple[tuple[str, FastRead[Any]], ...]] = {}


def _fast_fields(cls: type[Encoded]) -> tuple[tuple[str, FastRead[Any]], ...]:
    plan = _FAST_FIELDS.get(cls)
    if plan is None:
        plan = _FAST_FIELDS[cls] = tuple((name, kind.fast) for name, kind in cls.FIELDS)
    return plan


_SLOT_SETTERS: dict[type, tuple[tuple[FastRead[Any], Callable[[Any, Any], None]], ...] | None] = {}


def _slot_setters(
    cls: type[Encoded],
) -> tuple[tuple[FastRead[Any], Callable[[Any, Any], None]], ...] | None:
    """``(reader, slot setter)`` per field, or ``None`` if ``cls`` has its own ``from_fields``.

    A slot's descriptor sets the attribute directly, which is what ``object.__setattr__`` in
    :meth:`Encoded.from_fields` ends up doing after looking the descriptor up by name.
    """
    if cls in _SLOT_SETTERS:
        return _SLOT_SETTERS[cls]
    plan: tuple[tuple[FastRead[Any], Callable[[Any, Any], None]], ...] | None = None
    if cls.from_fields.__func__ is Encoded.from_fields.__func__:  # type: ignore[attr-defined]
        steps = []
        for name, read in _fast_fields(cls):
            slot = next(k.__dict__[name] for k in cls.__mro__ if name in k.__dict__)
            steps.append((read, slot.__set__))
        plan = tuple(steps)
    _SLOT_SETTERS[cls] = plan
    return plan


def peek_tag(data: bytes) -> int:
    """The type tag of an encoding (its first byte); raises :class:`DecodeError` if empty."""
    if not data:
        raise DecodeError("empty encoding")
    return data[0]
