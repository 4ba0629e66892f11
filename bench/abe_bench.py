"""``iomtshare bench abe``: FAME KeyGen, Encrypt and Decrypt against Charm's published figures.

Cases: AND policies of 10, 50 and 100 attributes (the anchor: Charm's FAME figures from the
FAME paper, n = 10: 74.6 / 58.4 / 21.6 ms; n = 100: 605 / 463 / 24.5 ms; n = 50 is not
published) and k-of-n gates (no anchor: Charm's span programs handle and/or only). Every
measured KeyGen and Encrypt uses attribute names never hashed before ("fresh"); a second pass
reuses cached attribute terms to show what caching adds. Column terms are public constants of
the scheme and are computed once per public key before measuring. Decrypt also reports the
number of pairings, counted by a wrapper around the group.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import count
from typing import Any

from bench.report import Progress, Report, format_table, quiet
from bench.timing import Timing, measure
from crypto.abe import AttributeTermCache, decapsulate, encapsulate, keygen, setup
from crypto.abe.keys import FameMasterKey
from crypto.abe.span import span_program
from crypto.groups import G1Element, G2Element, Group, GTElement, load_group
from crypto.policy import Attribute, Gate, Policy

#: Charm's FAME (the FAME paper's own measurements), ms: n -> (KeyGen, Encrypt, Decrypt).
CHARM_FAME_MS: dict[int, tuple[float, float, float]] = {
    10: (74.6, 58.4, 21.6),
    100: (605.0, 463.0, 24.5),
}
SPEEDUP_TARGET = 4.0
AND_SIZES = (10, 50, 100)
THRESHOLDS = ((2, 3), (5, 10), (10, 20), (25, 50))
OPERATIONS = ("keygen", "encrypt", "decrypt")


@dataclass
class Row:
    backend: str
    case: str
    n: int
    operation: str
    hashing: str
    timing: Timing
    pairings: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "case": self.case,
            "n": self.n,
            "operation": self.operation,
            "hashing": self.hashing,
            "pairings": self.pairings,
            **self.timing.as_dict(),
        }


class PairingCounter(Group):
    """The group under test with every pairing counted (only pairings are intercepted)."""

    def __init__(self, inner: Group) -> None:
        self._inner = inner
        self.name, self.order = inner.name, inner.order
        self.pairings = 0

    g1 = property(lambda self: self._inner.g1)
    g2 = property(lambda self: self._inner.g2)
    gt_one = property(lambda self: self._inner.gt_one)
    z = property(lambda self: self._inner.z)

    def g1_identity(self) -> G1Element:
        return self._inner.g1_identity()

    def g2_identity(self) -> G2Element:
        return self._inner.g2_identity()

    def random_scalar(self) -> int:
        return self._inner.random_scalar()

    def pairing(self, p: G1Element, q: G2Element) -> GTElement:
        self.pairings += 1
        return self._inner.pairing(p, q)

    def pairing_product(self, pairs: Sequence[tuple[G1Element, G2Element]]) -> GTElement:
        self.pairings += len(pairs)
        return self._inner.pairing_product(pairs)

    def hash_to_g1(self, message: bytes, dst: bytes) -> G1Element:
        return self._inner.hash_to_g1(message, dst)

    def hash_to_g2(self, message: bytes, dst: bytes) -> G2Element:
        return self._inner.hash_to_g2(message, dst)

    def g1_from_bytes(self, data: bytes) -> G1Element:
        return self._inner.g1_from_bytes(data)

    def g2_from_bytes(self, data: bytes) -> G2Element:
        return self._inner.g2_from_bytes(data)

    def gt_from_bytes(self, data: bytes, *, check_subgroup: bool = True) -> GTElement:
        return self._inner.gt_from_bytes(data, check_subgroup=check_subgroup)


_fresh = count()


def _names(n: int) -> list[str]:
    """``n`` attribute names never used before in this process."""
    batch = next(_fresh)
    return [f"bench:{batch}-{i}" for i in range(n)]


def _policy(k: int, names: list[str]) -> Policy:
    return Gate(k, tuple(Attribute(name) for name in names))


def _case_rows(
    group: PairingCounter, master: FameMasterKey, case: str, k: int, n: int, runs: int
) -> list[Row]:
    public = master.public
    for column in range(span_program(_policy(k, _names(n))).columns):
        public.columns.get(column)  # public constants: computed once, like a public key

    def fresh_keygen() -> object:
        return keygen(master, _names(n)[:k])

    def fresh_encrypt() -> object:
        return encapsulate(public, _policy(k, _names(n)))

    names = _names(n)
    cache = AttributeTermCache(group)
    for name in names:
        cache.get(name)
    policy = _policy(k, names)
    secret, ciphertext = encapsulate(public, policy, cache)
    key = keygen(master, names[:k], cache)
    group.pairings = 0
    if decapsulate(public, key, ciphertext) != secret:
        raise RuntimeError("FAME decryption returned the wrong secret")
    pairings = group.pairings

    measured: list[tuple[str, str, Callable[[], object], int | None]] = [
        ("keygen", "fresh", fresh_keygen, None),
        ("encrypt", "fresh", fresh_encrypt, None),
        ("decrypt", "-", lambda: decapsulate(public, key, ciphertext), pairings),
        ("keygen", "cached", lambda: keygen(master, names[:k], cache), None),
        ("encrypt", "cached", lambda: encapsulate(public, policy, cache), None),
    ]
    return [
        Row(group.name, case, n, op, hashing, measure(fn, runs), count_)
        for op, hashing, fn, count_ in measured
    ]


def _median(rows: list[Row], backend: str, case: str, op: str, hashing: str) -> float | None:
    for row in rows:
        if (row.backend, row.case, row.operation, row.hashing) == (backend, case, op, hashing):
            return row.timing.median_ms
    return None


def _anchor_table(rows: list[Row]) -> tuple[list[list[object]], dict[str, Any]]:
    table: list[list[object]] = []
    checks: dict[str, Any] = {}
    for n, charm in CHARM_FAME_MS.items():
        for op, theirs in zip(OPERATIONS, charm, strict=True):
            hashing = "-" if op == "decrypt" else "fresh"
            ours = _median(rows, "mcl", f"and-{n}", op, hashing)
            cached = None if op == "decrypt" else _median(rows, "mcl", f"and-{n}", op, "cached")
            if ours is None:
                continue
            ratio = theirs / ours
            met = ratio >= SPEEDUP_TARGET
            cached_ratio = None if cached is None else theirs / cached
            table.append(
                [f"and-{n} {op}", theirs, ours, ratio, cached, cached_ratio, "yes" if met else "NO"]
            )
            checks[f"and-{n} {op}"] = {
                "charm_ms": theirs,
                "fresh_ms": ours,
                "speedup": ratio,
                "cached_ms": cached,
                "cached_speedup": cached_ratio,
                "target": SPEEDUP_TARGET,
                "met": met,
            }
    return table, checks


def run(
    backends: Sequence[str],
    runs: int,
    pyecc_runs: int,
    quick: bool = False,
    progress: Progress = quiet,
) -> Report:
    """Every case on mcl (``runs`` each; only and-10 and 2-of-3 if ``quick``), and-10 on
    py_ecc (``pyecc_runs``), beside Charm's published FAME figures."""
    rows: list[Row] = []
    for name in backends:
        group = PairingCounter(load_group(name))
        master = setup(group)
        cases: list[tuple[str, int, int]] = [(f"and-{n}", n, n) for n in AND_SIZES]
        cases += [(f"{k}-of-{n}", k, n) for k, n in THRESHOLDS]
        if quick:
            cases = [cases[0], cases[len(AND_SIZES)]]
        if name == "py_ecc":
            cases = cases[:1]
        n_runs = runs if name == "mcl" else pyecc_runs
        for case, k, n in cases:
            progress(f"measuring {name} {case} ({n_runs} runs)…")
            rows += _case_rows(group, master, case, k, n, n_runs)
    table = [
        [
            r.backend,
            r.case,
            r.operation,
            r.hashing,
            r.timing.median_ms,
            r.timing.p95_ms,
            r.pairings,
            r.timing.runs,
        ]
        for r in rows
    ]
    anchor, checks = _anchor_table(rows)
    text = [
        format_table(
            "FAME CP-ABE (ms)",
            ["backend", "case", "operation", "hashing", "median", "p95", "pairings", "runs"],
            table,
        ),
        "",
        format_table(
            f"vs Charm's FAME (published; target speedup >= {SPEEDUP_TARGET:g}x, fresh hashes)",
            ["operation", "charm", "ours", "speedup", "ours cached", "cached speedup", "met"],
            anchor,
        ),
    ]
    if "py_ecc" in backends and "mcl" in backends:
        ratios = []
        for r in rows:
            if r.backend == "py_ecc":
                fast = _median(rows, "mcl", r.case, r.operation, r.hashing)
                if fast:
                    ratios.append([r.case, r.operation, r.hashing, r.timing.median_ms / fast])
        text += [
            "",
            format_table(
                "py_ecc / mcl (median)", ["case", "operation", "hashing", "ratio"], ratios
            ),
        ]
    payload = {"benchmark": "abe", "rows": [r.as_dict() for r in rows], "charm_anchor": checks}
    return Report("\n".join(text), payload)
