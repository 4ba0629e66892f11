"""BLS12-381 pairing groups behind one interface, with two interchangeable backends.

``load_group()`` returns the backend named by the ``IOMTSHARE_PAIRING`` environment variable
(``mcl`` or ``py_ecc``), defaulting to mcl when pymcl is importable. Groups are plain objects
passed to the code that needs them; there is no global crypto context.
"""

from __future__ import annotations

import os
from functools import cache

from crypto.groups.api import G1Element, G2Element, Group, GTElement, PreparedG2

__all__ = [
    "BACKENDS",
    "G1Element",
    "G2Element",
    "GTElement",
    "Group",
    "PreparedG2",
    "load_group",
]

BACKENDS = ("mcl", "py_ecc")
ENV_VAR = "IOMTSHARE_PAIRING"


@cache
def _instantiate(name: str) -> Group:
    if name == "mcl":
        from crypto.groups.mcl_backend import MclGroup

        return MclGroup()
    if name == "py_ecc":
        from crypto.groups.pyecc_backend import PyEccGroup

        return PyEccGroup()
    raise ValueError(f"unknown pairing backend {name!r}; choose one of {', '.join(BACKENDS)}")


def load_group(name: str | None = None) -> Group:
    """The group of backend ``name``, or of ``$IOMTSHARE_PAIRING``, or mcl if it is installed.

    Raises ``ValueError`` for an unknown name and ``ImportError`` if the named backend's library
    is missing.
    """
    if name is None:
        name = os.environ.get(ENV_VAR, "").strip() or None
    if name is None:
        try:
            import pymcl  # noqa: F401
        except ImportError:
            name = "py_ecc"
        else:
            name = "mcl"
    return _instantiate(name)
