"""What this node process is built from: the package version, the pairing backend, Python.

Shown by ``GET /`` and as the ``iomtshare_build_info`` metric, so an operator can tell which
nodes of a network run which release and backend.
"""

from __future__ import annotations

import functools
import platform
from dataclasses import dataclass
from importlib import metadata

#: The distribution name in setup.cfg.
DISTRIBUTION = "iomtshare"


@dataclass(frozen=True, slots=True)
class BuildInfo:
    version: str
    pairing_backend: str
    python: str


@functools.cache
def package_version() -> str:
    """The installed iomtshare version, or ``"unknown"`` when run from a tree not installed."""
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return "unknown"


def build_info(pairing_backend: str) -> BuildInfo:
    return BuildInfo(package_version(), pairing_backend, platform.python_version())
