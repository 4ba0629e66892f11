"""FAME keys: public key, master key and attribute secret keys, with canonical encodings.

Group elements are encoded as the group layer defines them (G1 48 bytes, G2 96, GT 576), so
the bytes are the same whichever backend produced them; decoding needs the group to rebuild
the elements and checks each one. Type tags 0x80-0x82.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from crypto import tags
from crypto.abe.terms import ColumnTerms
from crypto.codec import Reader, Writer, parse
from crypto.errors import DecodeError
from crypto.groups import G1Element, G2Element, Group, GTElement
from crypto.groups.scalars import scalar_from_bytes, scalar_to_bytes
from crypto.policy import check_attribute_name

TAG_PUBLIC_KEY = tags.ABE_PUBLIC_KEY
TAG_MASTER_KEY = tags.ABE_MASTER_KEY
TAG_SECRET_KEY = tags.ABE_SECRET_KEY
VERSION = 2  # v2: tag moved out of the ledger's range (crypto.tags)
G1_SIZE, G2_SIZE, GT_SIZE, SCALAR_SIZE = 48, 96, 576, 32
#: Most attributes one key may carry.
MAX_KEY_ATTRIBUTES = 4096

G1Triple = tuple[G1Element, G1Element, G1Element]
G2Triple = tuple[G2Element, G2Element, G2Element]


def write_g1(writer: Writer, points: tuple[G1Element, ...]) -> None:
    for p in points:
        writer.fixed(bytes(p), G1_SIZE)


def write_g2(writer: Writer, points: tuple[G2Element, ...]) -> None:
    for p in points:
        writer.fixed(bytes(p), G2_SIZE)


def read_g1_triple(reader: Reader, group: Group) -> G1Triple:
    a, b, c = (group.g1_from_bytes(reader.fixed(G1_SIZE)) for _ in range(3))
    return a, b, c


def read_g2_triple(reader: Reader, group: Group) -> G2Triple:
    a, b, c = (group.g2_from_bytes(reader.fixed(G2_SIZE)) for _ in range(3))
    return a, b, c


@dataclass(frozen=True, slots=True)
class FamePublicKey:
    """``(h, H1 = h^a1, H2 = h^a2, T1 = e(g,h)^(d1 a1 + d3), T2 = e(g,h)^(d2 a2 + d3))``.

    ``g`` and ``h`` are the group's standard generators. ``columns`` caches the public column
    terms and takes no part in comparison or encoding.
    """

    group: Group = field(compare=False, repr=False)
    h1: G2Element
    h2: G2Element
    t1: GTElement
    t2: GTElement
    columns: ColumnTerms = field(compare=False, repr=False)

    @classmethod
    def build(
        cls, group: Group, h1: G2Element, h2: G2Element, t1: GTElement, t2: GTElement
    ) -> FamePublicKey:
        return cls(group, h1, h2, t1, t2, ColumnTerms(group))

    def to_bytes(self) -> bytes:
        writer = Writer(TAG_PUBLIC_KEY, VERSION)
        write_g2(writer, (self.h1, self.h2))
        writer.fixed(bytes(self.t1), GT_SIZE).fixed(bytes(self.t2), GT_SIZE)
        return writer.to_bytes()

    @classmethod
    def from_bytes(cls, data: bytes, group: Group) -> FamePublicKey:
        def body(reader: Reader) -> FamePublicKey:
            reader.expect_header(TAG_PUBLIC_KEY, VERSION)
            h1 = group.g2_from_bytes(reader.fixed(G2_SIZE))
            h2 = group.g2_from_bytes(reader.fixed(G2_SIZE))
            t1 = group.gt_from_bytes(reader.fixed(GT_SIZE))
            t2 = group.gt_from_bytes(reader.fixed(GT_SIZE))
            # Degenerate values would make every ciphertext readable without a key.
            if h1.is_identity() or h2.is_identity() or t1.is_one() or t2.is_one():
                raise DecodeError("FAME public key has a degenerate element")
            return cls.build(group, h1, h2, t1, t2)

        return parse(data, "FAME public key", body)


@dataclass(frozen=True, slots=True)
class FameMasterKey:
    """The authority's secrets ``a1, a2, b1, b2, d1, d2, d3``; ``repr`` shows none of them."""

    public: FamePublicKey
    a1: int = field(repr=False)
    a2: int = field(repr=False)
    b1: int = field(repr=False)
    b2: int = field(repr=False)
    d1: int = field(repr=False)
    d2: int = field(repr=False)
    d3: int = field(repr=False)

    def scalars(self) -> tuple[int, ...]:
        return (self.a1, self.a2, self.b1, self.b2, self.d1, self.d2, self.d3)

    def to_bytes(self) -> bytes:
        """Public key followed by the seven secret scalars (keep these bytes sealed)."""
        writer = Writer(TAG_MASTER_KEY, VERSION).blob(self.public.to_bytes())
        for value in self.scalars():
            writer.fixed(scalar_to_bytes(value), SCALAR_SIZE)
        return writer.to_bytes()

    @classmethod
    def from_bytes(cls, data: bytes, group: Group) -> FameMasterKey:
        def body(reader: Reader) -> FameMasterKey:
            reader.expect_header(TAG_MASTER_KEY, VERSION)
            public = FamePublicKey.from_bytes(reader.blob(4096), group)
            values = [scalar_from_bytes(reader.fixed(SCALAR_SIZE)) for _ in range(7)]
            if 0 in values:
                raise DecodeError("FAME master key scalars must be nonzero")
            a1, a2, b1, b2, d1, d2, d3 = values
            return cls(public, a1, a2, b1, b2, d1, d2, d3)

        return parse(data, "FAME master key", body)


@dataclass(frozen=True, slots=True)
class FameSecretKey:
    """A user's attribute key: ``sk0`` in G2, ``sk'`` in G1 and three G1 points per attribute.

    Holds no scalar, but whoever has it decrypts what its attributes allow; ``repr`` shows only
    the attribute names.
    """

    sk0: G2Triple = field(repr=False)
    sk_prime: G1Triple = field(repr=False)
    components: Mapping[str, G1Triple] = field(repr=False)

    @property
    def attributes(self) -> frozenset[str]:
        return frozenset(self.components)

    def __repr__(self) -> str:
        return f"FameSecretKey(attributes={sorted(self.components)})"

    def to_bytes(self) -> bytes:
        writer = Writer(TAG_SECRET_KEY, VERSION)
        write_g2(writer, self.sk0)
        write_g1(writer, self.sk_prime)
        names = sorted(self.components)

        def put(w: Writer, name: str) -> None:
            w.text(name)
            write_g1(w, self.components[name])

        writer.seq(names, put)
        return writer.to_bytes()

    @classmethod
    def from_bytes(cls, data: bytes, group: Group) -> FameSecretKey:
        def body(reader: Reader) -> FameSecretKey:
            reader.expect_header(TAG_SECRET_KEY, VERSION)
            sk0 = read_g2_triple(reader, group)
            sk_prime = read_g1_triple(reader, group)

            def get(r: Reader) -> tuple[str, G1Triple]:
                name = r.text(256)
                try:
                    check_attribute_name(name)
                except ValueError as exc:
                    raise DecodeError(f"FAME secret key: {exc}") from exc
                return name, read_g1_triple(r, group)

            entries = reader.seq(get, MAX_KEY_ATTRIBUTES)
            names = [name for name, _ in entries]
            if names != sorted(set(names)):
                raise DecodeError("FAME secret key attributes are not sorted and distinct")
            return cls(sk0, sk_prime, dict(entries))

        return parse(data, "FAME secret key", body)
