"""Typed errors raised by the ledger.

``LedgerError`` is the base class. A block or transaction that must not be applied raises
``InvalidBlock`` / ``InvalidTransaction``; a stored ledger whose contents no longer check out raises
``IntegrityError`` naming the first bad location; a closed or unusable store raises ``StoreError``.
"""

from __future__ import annotations


class LedgerError(Exception):
    """Base class of every error raised by :mod:`ledger`."""


class StoreError(LedgerError):
    """The key-value store cannot be used (closed, unopenable, or already locked by a process)."""


class InvalidBlock(LedgerError):
    """A block (header, links, roots, commit QC or time) that the ledger refuses to apply."""


class InvalidTransaction(InvalidBlock):
    """A transaction or sharing result inside a block that fails validation.

    ``index`` is the position of the offending item inside its block (transactions first, then
    sharing results, counted separately and named by ``what``); ``reason`` says why.
    ``state_dependent`` is true when the refusal rests on state that later blocks can change (an
    unknown member, record or grant, a key since rotated or published): a node that is behind
    the chain may refuse an item the chain itself would accept, so it should say "retry" rather
    than "invalid".
    """

    def __init__(
        self, what: str, index: int, reason: str, *, state_dependent: bool = False
    ) -> None:
        super().__init__(f"{what} #{index}: {reason}")
        self.what = what
        self.index = index
        self.reason = reason
        self.state_dependent = state_dependent


class GenesisMismatch(LedgerError):
    """The database was created for a different genesis than the one supplied."""


class IntegrityError(LedgerError):
    """Stored data failed an integrity check.

    ``location`` names where: ``"height 17"``, ``"audit 42"``, ``"attributes <member hex> #3"`` or a
    key in hex; ``what`` says which check failed. ``height`` is set when a block height is known.
    """

    def __init__(self, location: str, what: str, height: int | None = None) -> None:
        super().__init__(f"{location}: {what}")
        self.location = location
        self.what = what
        self.height = height
