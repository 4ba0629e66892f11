"""FAME CP-ABE (Agrawal and Chase, CCS 2017) with k = 2, as a key-encapsulation mechanism.

What seed 003 garbles, written out (g generates G1, h generates G2, H the attribute and column
terms of :mod:`crypto.abe.terms`, all in G1):

* Setup: a1, a2, b1, b2, d1, d2, d3 random; pk = (H1 = h^a1, H2 = h^a2,
  T1 = e(g,h)^(d1 a1 + d3), T2 = e(g,h)^(d2 a2 + d3)).
* KeyGen(S): r1, r2 random, br = (b1 r1, b2 r2, r1 + r2); sk0 = h^br (three G2 points). For each
  attribute y, sigma_y random, and for t = 1, 2:
  sk_(y,t) = prod_l H(y,l,t)^(br_l / a_t) * g^(sigma_y / a_t);  sk_(y,3) = g^(-sigma_y).
  With sigma' random: sk'_t = g^(d_t) prod_l H(0,0,l,t)^(br_l / a_t) g^(sigma' / a_t);
  sk'_3 = g^(d3 - sigma').
* Encrypt(policy): span program (M, rho); s1, s2 random; ct0 = (H1^s1, H2^s2, h^(s1+s2));
  ct_(i,l) = prod_t [H(rho(i),l,t) prod_j H(0,j,l,t)^(M_ij)]^(s_t); shared secret
  T1^s1 T2^s2. The inner product is summed first (additions for +-1 entries, Horner's rule
  with small multipliers for Vandermonde segments), so each (row, l) costs two full
  exponentiations whatever the number of columns. Wide k-of-n gates instead randomise their
  columns once and evaluate the segments by forward differences (:mod:`.vandermonde`).
* Decrypt: gamma with sum_i gamma_i M_i = e_0; W_l = prod_i ct_(i,l)^gamma_i,
  V_t = sk'_t prod_i sk_(rho(i),t)^gamma_i; secret = prod_t e(V_t, ct0_t) / prod_l e(W_l, sk0_l),
  six pairings in one product whatever the policy.

Attributes may appear several times in one policy (FAME puts no restriction on rho).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from crypto.abe.ciphertext import FameCiphertext
from crypto.abe.keys import FameMasterKey, FamePublicKey, FameSecretKey, G1Triple
from crypto.abe.span import Row, Term, recombination, span_program
from crypto.abe.terms import LT_PAIRS, AttributeTermCache, AttributeTerms, hash_attribute
from crypto.abe.vandermonde import evaluate_range
from crypto.groups import G1Element, Group, GTElement
from crypto.policy import Policy, check_attribute_name


def setup(group: Group, scalars: Sequence[int] | None = None) -> FameMasterKey:
    """A FAME master key (its ``public`` field is the public key).

    ``scalars`` = (a1, a2, b1, b2, d1, d2, d3) for reproducible test vectors; random otherwise.
    Raises ``ValueError`` unless there are seven, each in [1, r).
    """
    if scalars is None:
        scalars = [group.random_scalar() for _ in range(7)]
    if len(scalars) != 7 or not all(0 < s < group.order for s in scalars):
        raise ValueError("FAME setup needs seven scalars in [1, r)")
    a1, a2, b1, b2, d1, d2, d3 = scalars
    r = group.order
    z = group.z
    public = FamePublicKey.build(
        group,
        group.g2 * a1,
        group.g2 * a2,
        z ** ((d1 * a1 + d3) % r),
        z ** ((d2 * a2 + d3) % r),
    )
    return FameMasterKey(public, a1, a2, b1, b2, d1, d2, d3)


def _terms(group: Group, name: str, cache: AttributeTermCache | None) -> AttributeTerms:
    return cache.get(name) if cache is not None else hash_attribute(group, name)


def keygen(
    master: FameMasterKey, attributes: Collection[str], cache: AttributeTermCache | None = None
) -> FameSecretKey:
    """An attribute key for ``attributes`` (names checked like policy leaves).

    ``cache``, if given, supplies attribute terms hashed earlier. Raises
    :class:`~crypto.policy.PolicyError` for an invalid attribute name.
    """
    names = sorted(set(attributes))
    for name in names:
        check_attribute_name(name)
    public = master.public
    group, r, g = public.group, public.group.order, public.group.g1
    r1, r2 = group.random_scalar(), group.random_scalar()
    br = {1: master.b1 * r1 % r, 2: master.b2 * r2 % r, 3: (r1 + r2) % r}
    a_inv = {1: pow(master.a1, -1, r), 2: pow(master.a2, -1, r)}
    sk0 = (group.g2 * br[1], group.g2 * br[2], group.g2 * br[3])

    # The exponents br_l / a_t are the same for every attribute of this key.
    weights = {(ell, t): br[ell] * a_inv[t] % r for ell, t in LT_PAIRS}

    def component(terms: AttributeTerms, t: int, g_exponent: int) -> G1Element:
        acc = g * g_exponent
        for ell in (1, 2, 3):
            acc = acc + terms[(ell, t)] * weights[(ell, t)]
        return acc

    components: dict[str, G1Triple] = {}
    for name in names:
        terms = _terms(group, name, cache)
        sigma = group.random_scalar()
        components[name] = (
            component(terms, 1, sigma * a_inv[1] % r),
            component(terms, 2, sigma * a_inv[2] % r),
            g * (-sigma % r),
        )
    sigma_prime = group.random_scalar()
    target = public.columns.get(0)
    sk_prime = (
        component(target, 1, (master.d1 + sigma_prime * a_inv[1]) % r),
        component(target, 2, (master.d2 + sigma_prime * a_inv[2]) % r),
        g * ((master.d3 - sigma_prime) % r),
    )
    return FameSecretKey(sk0, sk_prime, components)


def _segment(public: FamePublicKey, term: Term, r: int) -> AttributeTerms:
    """``sum_{m=1..count} base^m H(0, column+m-1, l, t)`` for every (l, t), by Horner's rule.

    Multipliers are small integers (the gate's child index), so this costs far less than one
    full exponentiation per column.
    """
    column, base, count = term
    out: AttributeTerms = {}
    for lt in LT_PAIRS:
        acc = public.columns.get(column + count - 1)[lt]
        for m in range(count - 2, -1, -1):
            acc = acc * (base % r) + public.columns.get(column + m)[lt]
        if base == -1:
            acc = -acc
        elif base != 1:
            acc = acc * (base % r)
        out[lt] = acc
    return out


#: From this many children on, a k-of-n gate's segments are evaluated on the randomised column
#: points (two full exponentiations per column and l, then additions); below it, Horner's rule
#: on the six raw column points per row is cheaper.
WIDE_GATE = 10


def _is_unit(term: Term) -> bool:
    return term[2] == 1 and term[1] in (1, -1)


def _wide_gate_values(
    public: FamePublicKey, program_rows: Sequence[Row], s1: int, s2: int
) -> dict[Term, G1Triple]:
    """``sum_m x^m (H(0,c+m-1,l,1)^s1 H(0,c+m-1,l,2)^s2)`` per l, for every wide-gate term."""
    widths: dict[tuple[int, int], int] = {}
    for row in program_rows:
        for column, base, count in row:
            if not _is_unit((column, base, count)):
                widths[(column, count)] = max(widths.get((column, count), 0), base)
    values: dict[Term, G1Triple] = {}
    for (column, count), n in widths.items():
        if n < WIDE_GATE:
            continue
        per_l = []
        for ell in (1, 2, 3):
            randomised = []
            for m in range(count):
                terms = public.columns.get(column + m)
                randomised.append(terms[(ell, 1)] * s1 + terms[(ell, 2)] * s2)
            per_l.append(evaluate_range(randomised, n))
        for x in range(1, n + 1):
            values[(column, x, count)] = (per_l[0][x - 1], per_l[1][x - 1], per_l[2][x - 1])
    return values


def encapsulate(
    public: FamePublicKey, policy: Policy, cache: AttributeTermCache | None = None
) -> tuple[GTElement, FameCiphertext]:
    """Encrypt a fresh secret under ``policy``: returns ``(T1^s1 T2^s2, ciphertext)``.

    Derive symmetric keys from the secret (see :mod:`crypto.abe.envelope`); never use it twice.
    """
    group, r = public.group, public.group.order
    program = span_program(policy)
    s1, s2 = group.random_scalar(), group.random_scalar()
    ct0 = (public.h1 * s1, public.h2 * s2, group.g2 * ((s1 + s2) % r))
    wide = _wide_gate_values(public, program.rows, s1, s2)
    rows: list[G1Triple] = []
    # Rows under one gate inherit the same terms; each term's points are summed once.
    segments: dict[Term, AttributeTerms] = {}
    for label, row in zip(program.labels, program.rows, strict=True):
        points = dict(_terms(group, label, cache))
        extra: list[G1Element] = []
        for term in row:
            if term in wide:
                extra.append(wide[term][0])
                extra.append(wide[term][1])
                extra.append(wide[term][2])
                continue
            segment = segments.get(term)
            if segment is None:
                segment = segments[term] = _segment(public, term, r)
            for lt in LT_PAIRS:
                points[lt] = points[lt] + segment[lt]
        c1, c2, c3 = (points[(ell, 1)] * s1 + points[(ell, 2)] * s2 for ell in (1, 2, 3))
        for index in range(0, len(extra), 3):
            c1, c2, c3 = c1 + extra[index], c2 + extra[index + 1], c3 + extra[index + 2]
        rows.append((c1, c2, c3))
    secret = (public.t1**s1) * (public.t2**s2)
    return secret, FameCiphertext(policy, ct0, tuple(rows))


def decapsulate(public: FamePublicKey, key: FameSecretKey, ciphertext: FameCiphertext) -> GTElement:
    """Recover the encapsulated secret with six pairings.

    Raises :class:`~crypto.abe.errors.UnsatisfiedPolicyError` when the key's attributes do not
    satisfy the policy. A key or ciphertext altered in transit yields a wrong secret, which the
    envelope's AEAD then refuses.
    """
    group, r = public.group, public.group.order
    labels = [leaf.name for leaf in ciphertext.policy.leaves()]
    gammas = recombination(ciphertext.policy, key.attributes, r)
    w = [group.g1_identity() for _ in range(3)]
    v = list(key.sk_prime)
    for i, gamma in gammas.items():
        row = ciphertext.rows[i]
        component = key.components[labels[i]]
        for index in range(3):
            if gamma == 1:
                w[index] = w[index] + row[index]
                v[index] = v[index] + component[index]
            else:
                w[index] = w[index] + row[index] * gamma
                v[index] = v[index] + component[index] * gamma
    pairs = [(v[index], ciphertext.ct0[index]) for index in range(3)]
    pairs += [(-w[index], key.sk0[index]) for index in range(3)]
    return group.pairing_product(pairs)
