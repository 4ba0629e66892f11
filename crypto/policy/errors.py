"""Errors raised by the policy language."""

from __future__ import annotations

from crypto.errors import CryptoError


class PolicyError(CryptoError, ValueError):
    """A policy text or tree that is not well formed.

    ``position`` is the 0-based character offset in ``text`` where the problem was found, or
    ``None`` when the policy was built in code rather than parsed. ``str()`` shows the message
    and, when the text is known, the text with a caret under the offending character.
    """

    def __init__(self, message: str, position: int | None = None, text: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.position = position
        self.text = text

    def __str__(self) -> str:
        if self.position is None:
            return self.message
        head = f"{self.message} at position {self.position}"
        if self.text is None or "\n" in self.text or len(self.text) > 200:
            return head
        return f"{head}\n  {self.text}\n  {' ' * self.position}^"


class PolicyLimitError(PolicyError):
    """A policy exceeds a size limit (text length, nesting depth or number of leaves).

    The limits keep a hostile policy from exhausting memory, the recursion stack, or the
    ABE engineer's span program.
    """
