"""The policy language shared by the node-side attribute check and CP-ABE.

``parse("role:doctor and (dept:cardiology or 2 of (trial:x, trial:y, site:z))")`` returns a
tree of :class:`Attribute` leaves and :class:`Gate` thresholds; :func:`evaluate` decides it
against a set of attribute names; :class:`AttributeHashTree` is the same tree with hashed
leaves, as consensus nodes store it (seed 000, Fig. 5).
"""

from crypto.policy.ast import (
    MAX_ATTRIBUTE_CHARS,
    MAX_DEPTH,
    MAX_LEAVES,
    MAX_POLICY_CHARS,
    Attribute,
    Gate,
    Policy,
    check_attribute_name,
    evaluate,
)
from crypto.policy.errors import PolicyError, PolicyLimitError
from crypto.policy.hash_tree import (
    AttributeHashTree,
    HashGate,
    HashLeaf,
    attribute_hash,
    attribute_hashes,
)
from crypto.policy.parser import parse

__all__ = [
    "MAX_ATTRIBUTE_CHARS",
    "MAX_DEPTH",
    "MAX_LEAVES",
    "MAX_POLICY_CHARS",
    "Attribute",
    "AttributeHashTree",
    "Gate",
    "HashGate",
    "HashLeaf",
    "Policy",
    "PolicyError",
    "PolicyLimitError",
    "attribute_hash",
    "attribute_hashes",
    "check_attribute_name",
    "evaluate",
    "parse",
]
