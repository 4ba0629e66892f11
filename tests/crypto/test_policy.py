"""The policy language: parsing, canonical forms, evaluation, errors and limits."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto import tags
from crypto.errors import DecodeError
from crypto.policy import (
    MAX_ATTRIBUTE_CHARS,
    MAX_DEPTH,
    MAX_LEAVES,
    MAX_POLICY_CHARS,
    Attribute,
    AttributeHashTree,
    Gate,
    Policy,
    PolicyError,
    PolicyLimitError,
    attribute_hashes,
    evaluate,
    parse,
)
from crypto.policy.ast import POLICY_VERSION

NAMES = ["a", "b", "c", "role:doctor", "dept:cardio", "trial.x", "site_z-1", "01", "1"]


def policies(max_leaves: int = 12) -> st.SearchStrategy[Policy]:
    leaves = st.sampled_from(NAMES).map(Attribute)

    def gates(children: st.SearchStrategy[Policy]) -> st.SearchStrategy[Policy]:
        return st.lists(children, min_size=1, max_size=4).flatmap(
            lambda kids: st.integers(1, len(kids)).map(lambda k: Gate(k, tuple(kids)))
        )

    return st.recursive(leaves, gates, max_leaves=max_leaves)


def reference_truth(text: str, held: set[str]) -> bool:
    """Evaluate canonical policy text as a Python boolean expression, independently of the tree.

    ``k of (x, y)`` becomes ``(sum([x, y]) >= k)``; and/or keep Python's precedence, which is
    the language's too.
    """
    pieces: list[str] = []
    for token in re.findall(r"\d+ of \(|[A-Za-z0-9:._-]+|[(),]", text):
        if token.endswith(" of ("):
            pieces.append(f"({token.split()[0]} <= sum([")
        elif token in ("and", "or"):
            pieces.append(f" {token} ")
        elif token in "(,":
            pieces.append(token)
        elif token == ")":
            pieces.append(")")
        else:
            pieces.append(str(token in held))
    # Each "k of (" opened "(k <= sum([" so its closing ")" must become "]))"; track the stack.
    out: list[str] = []
    stack: list[bool] = []
    for piece in pieces:
        if piece.endswith("sum(["):
            stack.append(True)
        elif piece == "(":
            stack.append(False)
        elif piece == ")":
            out.append("]))" if stack.pop() else ")")
            continue
        out.append(piece)
    return bool(eval("".join(out)))


def test_example_from_the_design() -> None:
    policy = parse("role:doctor and (dept:cardiology or 2 of (trial:x, trial:y, site:z))")
    assert policy == Gate(
        2,
        (
            Attribute("role:doctor"),
            Gate(
                1,
                (
                    Attribute("dept:cardiology"),
                    Gate(2, (Attribute("trial:x"), Attribute("trial:y"), Attribute("site:z"))),
                ),
            ),
        ),
    )
    assert policy.attributes() == ["dept:cardiology", "role:doctor", "site:z", "trial:x", "trial:y"]
    assert evaluate(policy, {"role:doctor", "trial:x", "site:z"})
    assert evaluate(policy, {"role:doctor", "dept:cardiology"})
    assert not evaluate(policy, {"role:doctor", "trial:x"})
    assert not evaluate(policy, {"dept:cardiology", "trial:x", "trial:y"})


def test_and_binds_tighter_than_or() -> None:
    a, b, c = Attribute("a"), Attribute("b"), Attribute("c")
    assert parse("a or b and c") == Gate(1, (a, Gate(2, (b, c))))
    assert parse("a and b or c") == Gate(1, (Gate(2, (a, b)), c))


def test_chains_flatten_but_parentheses_nest() -> None:
    flat = parse("a and b and c")
    assert flat == Gate(3, (Attribute("a"), Attribute("b"), Attribute("c")))
    nested = parse("(a and b) and c")
    assert nested != flat
    assert str(nested) == "(a and b) and c"
    assert parse("((a))") == Attribute("a")


def test_keywords_are_case_insensitive_and_reserved() -> None:
    assert parse("a AND b Or c") == parse("a and b or c")
    for word in ["and", "OR", "Of"]:
        with pytest.raises(PolicyError):
            Attribute(word)
        with pytest.raises(PolicyError):
            parse(f"x and {word}")


def test_number_is_an_attribute_unless_followed_by_of() -> None:
    assert parse("2 and 3") == Gate(2, (Attribute("2"), Attribute("3")))
    assert parse("2 of (x, 3)") == Gate(2, (Attribute("x"), Attribute("3")))


def test_canonical_text_of_gate_kinds() -> None:
    assert str(parse("2 of (a, b)")) == "a and b"
    assert str(parse("1 of (a, b)")) == "a or b"
    assert str(parse("1 of (a)")) == "1 of (a)"
    assert str(parse("  a   and(b or c)  ")) == "a and (b or c)"
    assert str(parse("a and b or c")) == "(a and b) or c"
    assert str(parse("2 of (a or b, c and d, e)")) == "2 of (a or b, c and d, e)"


@pytest.mark.parametrize(
    ("text", "position", "fragment"),
    [
        ("", 0, "empty policy"),
        ("   ", 0, "empty policy"),
        ("a and", 5, "expected an attribute"),
        ("a or (b", 7, "to close '(' at position 5"),
        ("a & b", 2, "unexpected character '&'"),
        ("a b", 2, "expected 'and', 'or' or end"),
        ("3 of (a, b)", 0, "threshold 3"),
        ("0 of (a)", 0, "threshold 0"),
        ("2 of (a b)", 8, "in the list opened at position 5"),
        ("2 of a, b", 5, "expected '(' after 'of'"),
        ("a and ()", 7, "expected an attribute"),
        ("(a))", 3, "expected 'and', 'or' or end"),
        ("role:doctor and dépt", 17, "unexpected character 'é'"),
        ("a, b", 1, "expected 'and', 'or' or end"),
        ("99999 of (a)", 0, "too large"),
        ("of", 0, "expected an attribute"),
    ],
)
def test_malformed_policies_name_their_position(text: str, position: int, fragment: str) -> None:
    with pytest.raises(PolicyError) as info:
        parse(text)
    assert info.value.position == position
    assert fragment in info.value.message
    rendered = str(info.value)
    assert f"at position {position}" in rendered
    # The caret sits under the offending character.
    lines = rendered.split("\n")
    assert lines[2].index("^") - 2 == position


def test_non_string_policy_is_rejected() -> None:
    with pytest.raises(PolicyError):
        parse(b"a and b")  # type: ignore[arg-type]


def test_limits() -> None:
    with pytest.raises(PolicyLimitError):
        parse("a or " * (MAX_POLICY_CHARS // 5) + "a")
    with pytest.raises(PolicyLimitError) as deep:
        parse("(" * (MAX_DEPTH + 1) + "a" + ")" * (MAX_DEPTH + 1))
    assert deep.value.position == MAX_DEPTH
    with pytest.raises(PolicyLimitError):
        parse(" or ".join(["x"] * (MAX_LEAVES + 1)))
    assert parse(" or ".join(["x"] * MAX_LEAVES)).leaf_count == MAX_LEAVES
    with pytest.raises(PolicyLimitError):
        parse("a" * (MAX_ATTRIBUTE_CHARS + 1))
    # Gate depth can outgrow parenthesis depth through and/or chains; it is bounded too.
    text = "a"
    for _ in range(MAX_DEPTH):
        text = f"b and ({text} or c)"
    with pytest.raises(PolicyLimitError):
        parse(text)


def test_gates_built_in_code_are_validated() -> None:
    with pytest.raises(PolicyError):
        Gate(0, (Attribute("a"),))
    with pytest.raises(PolicyError):
        Gate(2, (Attribute("a"),))
    with pytest.raises(PolicyError):
        Gate(1, ())
    with pytest.raises(PolicyError):
        Gate(1, ("a",))  # type: ignore[arg-type]
    with pytest.raises(PolicyError):
        Attribute("has space")


def test_decoding_rejects_malformed_bytes() -> None:
    good = parse("a and 2 of (b, c, d)").to_bytes()
    wrong_tag = bytes([tags.POLICY_HASH_TREE]) + good[1:]
    wrong_version = good[:1] + bytes([POLICY_VERSION + 1]) + good[2:]
    for bad in [good[:-1], good + b"\x00", wrong_tag, wrong_version]:
        with pytest.raises(DecodeError):
            Policy.from_bytes(bad)
    # A gate whose threshold exceeds its children, encoded by hand.
    bad_gate = bytes([tags.POLICY, POLICY_VERSION, 1, 0, 3, 0, 0, 0, 1, 0, 0, 0, 0, 1]) + b"a"
    with pytest.raises(DecodeError):
        Policy.from_bytes(bad_gate)
    bad_name = bytes([tags.POLICY, POLICY_VERSION, 0, 0, 0, 0, 3]) + b"a b"
    with pytest.raises(DecodeError):
        Policy.from_bytes(bad_name)


@settings(max_examples=150)
@given(policies())
def test_canonical_text_and_bytes_round_trip(policy: Policy) -> None:
    assert parse(str(policy)) == policy
    assert Policy.from_bytes(policy.to_bytes()) == policy
    assert policy.attributes() == sorted(set(policy.attributes()))


@settings(max_examples=150)
@given(policies(), st.sets(st.sampled_from(NAMES)))
def test_tree_evaluation_equals_direct_boolean_evaluation(policy: Policy, held: set[str]) -> None:
    expected = reference_truth(str(policy), held)
    assert evaluate(policy, held) is expected
    tree = AttributeHashTree.from_policy(policy)
    assert tree.satisfied_by(attribute_hashes(held)) is expected


@settings(max_examples=300)
@given(st.text(alphabet="ab:1 (),oOfrnd&é", max_size=30))
def test_arbitrary_text_parses_or_raises_policy_error(text: str) -> None:
    try:
        policy = parse(text)
    except PolicyError as exc:
        position = exc.position
    else:
        assert parse(str(policy)) == policy
        return
    assert position is not None
    assert 0 <= position <= len(text)
