"""Parser for the policy language.

Grammar (keywords are case-insensitive; ``and`` binds tighter than ``or``)::

    policy    := or_expr END
    or_expr   := and_expr ("or" and_expr)*
    and_expr  := atom ("and" atom)*
    atom      := "(" or_expr ")" | NUMBER "of" "(" or_expr ("," or_expr)* ")" | ATTRIBUTE
    ATTRIBUTE := [A-Za-z0-9:._-]+ (not a keyword)

A chain ``a and b and c`` becomes one 3-of-3 gate; parentheses always keep their own node, so
``(a and b) and c`` stays nested. Every error names the 0-based position where it was found;
nothing is silently skipped or truncated.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from crypto.policy.ast import (
    ATTRIBUTE_PATTERN,
    MAX_ATTRIBUTE_CHARS,
    MAX_DEPTH,
    MAX_LEAVES,
    MAX_POLICY_CHARS,
    RESERVED_WORDS,
    Attribute,
    Gate,
    Policy,
)
from crypto.policy.errors import PolicyError, PolicyLimitError

_WHITESPACE = frozenset(" \t\r\n")


class _Kind(Enum):
    LPAREN = "'('"
    RPAREN = "')'"
    COMMA = "','"
    WORD = "word"
    END = "end of policy"


@dataclass(frozen=True, slots=True)
class _Token:
    kind: _Kind
    text: str
    position: int

    @property
    def keyword(self) -> str | None:
        if self.kind is _Kind.WORD and self.text.lower() in RESERVED_WORDS:
            return self.text.lower()
        return None

    def describe(self) -> str:
        if self.kind is _Kind.WORD:
            return repr(self.text)
        description: str = self.kind.value
        return description


_PUNCTUATION = {"(": _Kind.LPAREN, ")": _Kind.RPAREN, ",": _Kind.COMMA}


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while pos < len(text):
        char = text[pos]
        if char in _WHITESPACE:
            pos += 1
            continue
        kind = _PUNCTUATION.get(char)
        if kind is not None:
            tokens.append(_Token(kind, char, pos))
            pos += 1
            continue
        match = ATTRIBUTE_PATTERN.match(text, pos)
        if match is None:
            raise PolicyError(f"unexpected character {char!r}", pos, text)
        tokens.append(_Token(_Kind.WORD, match.group(), pos))
        pos = match.end()
    tokens.append(_Token(_Kind.END, "", len(text)))
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self._text = text
        self._tokens = _tokenize(text)
        self._index = 0
        self._leaves = 0

    def _peek(self, ahead: int = 0) -> _Token:
        return self._tokens[min(self._index + ahead, len(self._tokens) - 1)]

    def _advance(self) -> _Token:
        token = self._tokens[self._index]
        self._index += 1
        return token

    def _error(self, message: str, token: _Token) -> PolicyError:
        return PolicyError(message, token.position, self._text)

    def _expect(self, kind: _Kind, context: str) -> _Token:
        token = self._peek()
        if token.kind is not kind:
            raise self._error(f"expected {kind.value} {context}, found {token.describe()}", token)
        return self._advance()

    def parse(self) -> Policy:
        result = self._or_expr(0)
        token = self._peek()
        if token.kind is not _Kind.END:
            raise self._error(
                f"expected 'and', 'or' or end of policy, found {token.describe()}", token
            )
        return result

    def _gate(self, threshold: int, children: list[Policy], start: _Token) -> Policy:
        try:
            return Gate(threshold, tuple(children))
        except PolicyError as exc:
            kind = PolicyLimitError if isinstance(exc, PolicyLimitError) else PolicyError
            raise kind(exc.message, start.position, self._text) from None

    def _or_expr(self, nesting: int) -> Policy:
        start = self._peek()
        children = [self._and_expr(nesting)]
        while self._peek().keyword == "or":
            self._advance()
            children.append(self._and_expr(nesting))
        if len(children) == 1:
            return children[0]
        return self._gate(1, children, start)

    def _and_expr(self, nesting: int) -> Policy:
        start = self._peek()
        children = [self._atom(nesting)]
        while self._peek().keyword == "and":
            self._advance()
            children.append(self._atom(nesting))
        if len(children) == 1:
            return children[0]
        return self._gate(len(children), children, start)

    def _open(self, nesting: int, context: str) -> _Token:
        token = self._expect(_Kind.LPAREN, context)
        if nesting + 1 > MAX_DEPTH:
            raise PolicyLimitError(
                f"parentheses nested deeper than the limit of {MAX_DEPTH}",
                token.position,
                self._text,
            )
        return token

    def _atom(self, nesting: int) -> Policy:
        token = self._peek()
        if token.kind is _Kind.LPAREN:
            opening = self._open(nesting, "")
            inner = self._or_expr(nesting + 1)
            self._expect(_Kind.RPAREN, f"to close '(' at position {opening.position}")
            return inner
        if token.kind is not _Kind.WORD or token.keyword is not None:
            raise self._error(
                f"expected an attribute, '(' or 'k of (...)', found {token.describe()}", token
            )
        if token.text.isdigit() and self._peek(1).keyword == "of":
            return self._threshold_gate(nesting)
        self._advance()
        if len(token.text) > MAX_ATTRIBUTE_CHARS:
            raise PolicyLimitError(
                f"attribute name longer than {MAX_ATTRIBUTE_CHARS} characters",
                token.position,
                self._text,
            )
        self._leaves += 1
        if self._leaves > MAX_LEAVES:
            raise PolicyLimitError(
                f"more than {MAX_LEAVES} attribute leaves", token.position, self._text
            )
        return Attribute(token.text)

    def _threshold_gate(self, nesting: int) -> Policy:
        number = self._advance()
        self._advance()  # "of"
        # Bounded so a thousand-digit number cannot cost anything before it is rejected.
        if len(number.text) > 4:
            raise self._error("threshold is too large", number)
        threshold = int(number.text)
        opening = self._open(nesting, "after 'of'")
        children = [self._or_expr(nesting + 1)]
        while self._peek().kind is _Kind.COMMA:
            self._advance()
            children.append(self._or_expr(nesting + 1))
        self._expect(_Kind.RPAREN, f"or ',' in the list opened at position {opening.position}")
        if threshold < 1 or threshold > len(children):
            raise self._error(
                f"threshold {threshold} is not between 1 and the gate's {len(children)} children",
                number,
            )
        return self._gate(threshold, children, number)


def parse(text: str) -> Policy:
    """Parse policy ``text`` into a tree.

    Raises :class:`PolicyError` (with ``position``) for anything that is not a well-formed
    policy, and :class:`PolicyLimitError` when a size limit is exceeded.
    """
    if not isinstance(text, str):
        raise PolicyError(f"policy must be a string, got {type(text).__name__}")
    if len(text) > MAX_POLICY_CHARS:
        raise PolicyLimitError(
            f"policy of {len(text)} characters exceeds the limit of {MAX_POLICY_CHARS}",
            MAX_POLICY_CHARS,
            None,
        )
    if not text.strip():
        raise PolicyError("empty policy", 0, text)
    return _Parser(text).parse()
