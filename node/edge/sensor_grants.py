"""The edge's sensor grant and warrant files: loading them, and telling when they changed.

The authority drops one sealed :class:`~crypto.light.provision.SensorGrant` per patient into
``EDGE_HOME/sensors/grants/*.grant`` (sealed to the edge's box key) and public warrant records
into ``EDGE_HOME/sensors/warrants/*.warrant``. :func:`files_stamp` is what the edge compares
before reloading: the names, sizes and modification times of those files, so a request naming
an unknown patient or user costs a directory listing, not an unseal of every grant.
"""

from __future__ import annotations

import os
from pathlib import Path

from crypto.errors import CryptoError
from crypto.light import WarrantRecord
from crypto.light.provision import SensorGrant
from crypto.sealing import BoxSecretKey
from crypto.signing import VerifyKey

SENSORS_DIR = "sensors"
GRANTS_DIR = "grants"
WARRANTS_DIR = "warrants"

#: What :func:`files_stamp` gives: per directory, its sorted (name, size, mtime_ns) entries.
Stamp = tuple[tuple[tuple[str, int, int], ...], ...]


class SensorConfigError(Exception):
    """A grant or warrant file the edge cannot use (does not open, decode or verify)."""


def load_grants(home: Path, box_key: BoxSecretKey, authority: VerifyKey, chain_id: str) -> list[
    SensorGrant
]:
    """Every grant under ``home/sensors/grants``, opened and verified; raises
    :class:`SensorConfigError` naming the first bad file."""
    grants = []
    for path in sorted((home / SENSORS_DIR / GRANTS_DIR).glob("*.grant")):
        try:
            grant = SensorGrant.from_bytes(box_key.unseal(path.read_bytes()))
            grant.verify(authority, chain_id)
        except (OSError, CryptoError) as exc:
            raise SensorConfigError(f"sensor grant {path}: {exc}") from exc
        grants.append(grant)
    return grants


def load_warrants(home: Path) -> list[WarrantRecord]:
    """Every warrant record under ``home/sensors/warrants`` (checked when added)."""
    records = []
    for path in sorted((home / SENSORS_DIR / WARRANTS_DIR).glob("*.warrant")):
        try:
            records.append(WarrantRecord.from_bytes(path.read_bytes()))
        except (OSError, CryptoError) as exc:
            raise SensorConfigError(f"warrant record {path}: {exc}") from exc
    return records


def files_stamp(home: Path) -> Stamp:
    """The grant and warrant files as (name, size, mtime_ns), sorted; a missing directory or
    a file that vanishes while listed counts as absent. Equal stamps: nothing to reload."""
    stamp = []
    for name in (GRANTS_DIR, WARRANTS_DIR):
        entries = []
        try:
            with os.scandir(home / SENSORS_DIR / name) as listing:
                for entry in listing:
                    try:
                        info = entry.stat()
                    except OSError:
                        continue
                    entries.append((entry.name, info.st_size, info.st_mtime_ns))
        except OSError:
            pass
        stamp.append(tuple(sorted(entries)))
    return tuple(stamp)
