"""Evidence of misbehaviour that a node keeps and reports: equivocation and bad shares.

Equivocation covers two different signed messages from one node where the protocol allows one:
two election, prepare or commit votes for one (height, round), two claims or proposals for one
(height, round), or an approve and a deny vote for one request. Both encodings are kept, so
anyone can check the two signatures.
"""

from __future__ import annotations

from dataclasses import dataclass

from consensus.encoding import (
    TAG_BAD_SHARE,
    TAG_EQUIVOCATION,
    VERSION,
    get_index,
    get_round,
    put_round,
)
from consensus.votes import AuthVote
from crypto.codec import Reader, Writer, parse


@dataclass(frozen=True, slots=True)
class Equivocation:
    """Two conflicting signed messages from ``offender`` (``round`` is -1 for request votes)."""

    offender: int
    height: int
    round: int
    first: bytes
    second: bytes

    def to_bytes(self) -> bytes:
        w = Writer(TAG_EQUIVOCATION, VERSION).u16(self.offender).u64(self.height)
        put_round(w, self.round)
        return w.blob(self.first).blob(self.second).to_bytes()

    @classmethod
    def read(cls, r: Reader) -> Equivocation:
        r.expect_header(TAG_EQUIVOCATION, VERSION)
        offender = get_index(r, "offender")
        height = r.u64()
        round_ = get_round(r, absent_ok=True)
        return cls(offender, height, round_, r.blob(), r.blob())

    @classmethod
    def from_bytes(cls, data: bytes) -> Equivocation:
        return parse(data, "Equivocation", cls.read)


@dataclass(frozen=True, slots=True)
class BadShare:
    """A correctly signed approval whose re-encryption share (or its proof) does not verify."""

    vote: AuthVote

    @property
    def offender(self) -> int:
        return self.vote.voter

    def to_bytes(self) -> bytes:
        return Writer(TAG_BAD_SHARE, VERSION).raw(self.vote.to_bytes()).to_bytes()

    @classmethod
    def read(cls, r: Reader) -> BadShare:
        r.expect_header(TAG_BAD_SHARE, VERSION)
        return cls(AuthVote.read(r))

    @classmethod
    def from_bytes(cls, data: bytes) -> BadShare:
        return parse(data, "BadShare", cls.read)


Evidence = Equivocation | BadShare
