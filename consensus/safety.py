"""What a node must remember across a crash to stay safe: its round watermark and its lock.

A node that restarted without these could vote twice in one round (equivocation by an honest
node) or forget a lock that a commit QC depends on. The node saves a :class:`SafetyState`
through its application before it signs anything in a round after the first of a height, and
whenever it locks; on restart it resumes one round past the saved one, still locked, or in
round 1 when the saved state is of an earlier height (it may have signed in round 0).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from consensus.encoding import (
    NO_ROUND,
    TAG_SAFETY_STATE,
    VERSION,
    get_opt_hash,
    get_round,
    put_opt_hash,
    put_round,
)
from crypto.codec import Reader, Writer, parse
from crypto.errors import DecodeError


@dataclass(frozen=True, slots=True)
class SafetyState:
    """The round a node entered at ``height`` and the block it is locked on (if any)."""

    height: int
    round: int
    locked_round: int = NO_ROUND
    locked_hash: bytes | None = None
    locked_block: bytes = field(default=b"", repr=False)

    def __post_init__(self) -> None:
        if (self.locked_round == NO_ROUND) != (self.locked_hash is None):
            raise DecodeError("a lock needs both a round and a block hash")

    def to_bytes(self) -> bytes:
        w = Writer(TAG_SAFETY_STATE, VERSION).u64(self.height)
        put_round(w, self.round)
        put_round(w, self.locked_round)
        put_opt_hash(w, self.locked_hash)
        return w.blob(self.locked_block).to_bytes()

    @classmethod
    def read(cls, r: Reader) -> SafetyState:
        r.expect_header(TAG_SAFETY_STATE, VERSION)
        height = r.u64()
        round_ = get_round(r, absent_ok=True)
        locked_round = get_round(r, absent_ok=True)
        locked_hash = get_opt_hash(r)
        return cls(height, round_, locked_round, locked_hash, r.blob())

    @classmethod
    def from_bytes(cls, data: bytes) -> SafetyState:
        return parse(data, "SafetyState", cls.read)
