"""The registry of type tags (crypto/tags.py) and the project's use of it.

The registry refuses a second owner for a tag when it is built; these tests check that it does,
and that the code agrees with it: every tag bound anywhere in the product packages comes from the
registry, no two types bind the same tag, and every registered owner is a real type.
"""

from __future__ import annotations

import ast
import importlib
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from crypto import tags
from crypto.tags import RANGES, REGISTRY, TagError, TagRegistry

ROOT = Path(__file__).resolve().parents[2]
REGISTRY_FILE = ROOT / "crypto" / "tags.py"


def product_files() -> list[Path]:
    """Every module of every top-level package except the tests."""
    packages = [
        p for p in ROOT.iterdir() if (p / "__init__.py").exists() and p.name != "tests"
    ]
    return sorted(f for package in packages for f in package.rglob("*.py"))


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def names_a_tag(name: str) -> bool:
    """``TAG``, ``TAG_BLOCK``, ``POLICY_TYPE_TAG``: a name with a ``TAG`` word in it."""
    return "TAG" in name.split("_")


@dataclass(frozen=True)
class Binding:
    """One place in the code that binds a type tag to a name."""

    where: str  # module.NAME, or module.Class.TAG for a class attribute
    module: str
    registry_name: str | None = None  # ``NAME = tags.X``: the registry constant X
    literal: int | None = None  # ``NAME = 0x55``: a bare number (never allowed)
    owner_class: str | None = None  # module.Class, for a class-level ``TAG`` attribute

    def value(self) -> int:
        if self.registry_name is not None:
            value = getattr(tags, self.registry_name)
        elif self.literal is not None:
            value = self.literal
        else:
            assert self.owner_class is not None
            value = resolve(self.owner_class).TAG
        assert isinstance(value, int), f"{self.where} is not an int tag"
        return value

    def claimed_type(self) -> str:
        """The type this binding gives its tag to.

        A class attribute names its class; a module constant taken from the registry names the
        registered owner if that lies in the module's own package; anything else stands alone.
        """
        if self.owner_class is not None:
            return self.owner_class
        if self.registry_name is not None:
            owner = REGISTRY.owner(self.value())
            if REGISTRY.package_of(owner) == REGISTRY.package_of(self.module):
                return owner
        return self.where


def scan(path: Path) -> tuple[list[Binding], list[str]]:
    """The tag bindings of one file and the tags it writes as bare numbers (violations)."""
    module = module_name(path)
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    bindings: list[Binding] = []
    literals: list[str] = []

    def where(node: ast.AST) -> str:
        return f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', '?')}"

    def int_value(node: ast.AST | None) -> int | None:
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, int)
            and not isinstance(node.value, bool)
        ):
            return node.value
        return None

    def assigned(stmt: ast.stmt) -> list[tuple[str, ast.expr | None]]:
        if isinstance(stmt, ast.Assign):
            return [(t.id, stmt.value) for t in stmt.targets if isinstance(t, ast.Name)]
        if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            return [(stmt.target.id, stmt.value)]
        return []

    def visit_class(cls: ast.ClassDef, prefix: str) -> None:
        qualname = f"{prefix}{cls.name}"
        for stmt in cls.body:
            if isinstance(stmt, ast.ClassDef):
                visit_class(stmt, qualname + ".")
            for name, value in assigned(stmt):
                if name == "TAG" and value is not None:
                    owner = f"{module}.{qualname}"
                    bindings.append(Binding(f"{owner}.TAG", module, owner_class=owner))
                if names_a_tag(name) and int_value(value) is not None:
                    literals.append(f"{where(stmt)} in {qualname}: {ast.unparse(stmt)}")

    for stmt in tree.body:
        if isinstance(stmt, ast.ClassDef):
            visit_class(stmt, "")
        if isinstance(stmt, ast.ImportFrom) and stmt.module == "crypto.tags":
            for alias in stmt.names:
                if alias.name.isupper():
                    local = alias.asname or alias.name
                    bindings.append(Binding(f"{module}.{local}", module, alias.name))
        for name, value in assigned(stmt):
            number = int_value(value)
            if (
                isinstance(value, ast.Attribute)
                and isinstance(value.value, ast.Name)
                and value.value.id == "tags"
            ):
                bindings.append(Binding(f"{module}.{name}", module, value.attr))
            elif names_a_tag(name) and number is not None:
                bindings.append(Binding(f"{module}.{name}", module, literal=number))
                literals.append(f"{where(stmt)} {ast.unparse(stmt)}")
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not node.args or int_value(node.args[0]) is None:
            continue
        func = node.func
        called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if called in ("Writer", "expect_header"):
            literals.append(f"{where(node)} {ast.unparse(node)}")
    return bindings, literals


def project_scan() -> tuple[list[Binding], list[str]]:
    bindings: list[Binding] = []
    literals: list[str] = []
    for path in product_files():
        if path == REGISTRY_FILE:
            continue
        found, bare = scan(path)
        bindings += found
        literals += bare
    return bindings, literals


def resolve(dotted: str) -> Any:
    """The object a dotted name points at: the longest importable module, then attributes."""
    parts = dotted.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise LookupError(dotted)


def test_no_two_types_share_a_tag() -> None:
    bindings, _ = project_scan()
    types: dict[int, set[str]] = defaultdict(set)
    constants: dict[int, list[str]] = defaultdict(list)
    for binding in bindings:
        types[binding.value()].add(binding.claimed_type())
        if binding.owner_class is None:
            constants[binding.value()].append(binding.where)
    shared = {f"{t:#04x}": sorted(owners) for t, owners in types.items() if len(owners) > 1}
    assert shared == {}, f"types sharing a tag: {shared}"
    # Two constants for one tag are two types sharing it, even if both name the same owner.
    doubled = {f"{t:#04x}": places for t, places in constants.items() if len(places) > 1}
    assert doubled == {}, f"tag constants sharing a tag: {doubled}"
    assert set(REGISTRY.entries()) <= set(types), "the scan missed registered tags"


def test_every_tag_in_the_code_comes_from_the_registry() -> None:
    _, literals = project_scan()
    assert literals == [], f"tags written as numbers (register them in crypto/tags.py): {literals}"


def test_every_registered_tag_is_bound_once_in_its_own_package() -> None:
    bindings, _ = project_scan()
    bound: dict[int, str] = {}
    for binding in bindings:
        tag = binding.value()
        owner = REGISTRY.owner(tag)
        if binding.owner_class is not None:
            assert owner == binding.owner_class, f"{binding.where} uses the tag of {owner}"
            continue
        assert REGISTRY.package_of(binding.module) == REGISTRY.package_of(owner), (
            f"{binding.where} binds {tag:#04x}, the tag of {owner} in another package"
        )
        bound[tag] = binding.where
    unbound = {f"{t:#04x}": o for t, o in REGISTRY.entries().items() if t not in bound}
    assert unbound == {}, f"registered tags no module takes its constant from: {unbound}"


def test_every_owner_is_a_real_type() -> None:
    for owner in REGISTRY.entries().values():
        obj = resolve(owner)
        assert getattr(obj, "__qualname__", None) == owner.rsplit(".", 1)[1], owner


def test_registry_ranges_match_the_documented_table() -> None:
    doc = tags.__doc__ or ""
    for package, span in RANGES:
        assert f"{span.start:#04X}-{span.stop - 1:#04X}".replace("0X", "0x") in doc, package
        assert package in doc


def test_a_second_owner_for_a_tag_is_refused() -> None:
    fresh = TagRegistry(RANGES)
    for tag, owner in REGISTRY.entries().items():
        assert fresh.register(tag, owner) == tag
    with pytest.raises(TagError, match=r"0x80 of crypto.abe.keys.Other is already the tag of"):
        fresh.register(tags.ABE_PUBLIC_KEY, "crypto.abe.keys.Other")
    with pytest.raises(TagError, match="already has a type tag"):
        fresh.register(0x8F, "crypto.abe.keys.FamePublicKey")
    assert fresh.entries() == REGISTRY.entries()


def test_a_tag_outside_its_package_range_is_refused() -> None:
    fresh = TagRegistry(RANGES)
    with pytest.raises(TagError, match="outside the range of ledger"):
        fresh.register(0x30, "ledger.records.NewRecord")
    with pytest.raises(TagError, match="no package"):
        fresh.register(0x30, "elsewhere.Thing")
    # A nested package has its own range, not its parent's.
    with pytest.raises(TagError, match=r"outside the range of consensus\.simulation"):
        fresh.register(0xC1, "consensus.simulation.fake.Other")
    assert fresh.entries() == {}


def test_overlapping_ranges_are_refused() -> None:
    with pytest.raises(TagError, match="overlap at 0x4f"):
        TagRegistry([("a", range(0x40, 0x50)), ("b", range(0x4F, 0x60))])
    with pytest.raises(TagError, match="consecutive bytes"):
        TagRegistry([("a", range(0xF0, 0x101))])


def test_unknown_tag_has_no_owner() -> None:
    with pytest.raises(TagError, match="0x00 is not registered"):
        REGISTRY.owner(0x00)
