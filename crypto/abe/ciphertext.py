"""The FAME ciphertext header (the KEM part): policy, ``ct0`` and three G1 points per row."""

from __future__ import annotations

from dataclasses import dataclass

from crypto import tags
from crypto.abe.keys import G1Triple, G2Triple, read_g1_triple, read_g2_triple, write_g1, write_g2
from crypto.codec import Reader, Writer, parse
from crypto.errors import DecodeError
from crypto.groups import Group
from crypto.policy import MAX_LEAVES, Policy

TAG_CIPHERTEXT = tags.ABE_CIPHERTEXT
VERSION = 2  # v2: tag moved out of the ledger's range (crypto.tags)


@dataclass(frozen=True, slots=True)
class FameCiphertext:
    """``ct0 = (H1^s1, H2^s2, h^(s1+s2))`` and ``ct_(i,l)`` for each span-program row i.

    The blinding value ``T1^s1 T2^s2`` is not carried: it is the KEM's shared secret.
    """

    policy: Policy
    ct0: G2Triple
    rows: tuple[G1Triple, ...]

    def __post_init__(self) -> None:
        if len(self.rows) != self.policy.leaf_count:
            raise DecodeError(
                f"FAME ciphertext has {len(self.rows)} rows for {self.policy.leaf_count} leaves"
            )

    def to_bytes(self) -> bytes:
        writer = Writer(TAG_CIPHERTEXT, VERSION).blob(self.policy.to_bytes())
        write_g2(writer, self.ct0)
        writer.seq(self.rows, write_g1)
        return writer.to_bytes()

    @classmethod
    def from_bytes(cls, data: bytes, group: Group) -> FameCiphertext:
        def body(reader: Reader) -> FameCiphertext:
            reader.expect_header(TAG_CIPHERTEXT, VERSION)
            policy = Policy.from_bytes(reader.blob(64 * 1024))
            ct0 = read_g2_triple(reader, group)
            rows = reader.seq(lambda r: read_g1_triple(r, group), MAX_LEAVES)
            return cls(policy, ct0, tuple(rows))

        return parse(data, "FAME ciphertext", body)
