"""Key files on disk: raw 32-byte secrets, mode 0600, replaced atomically.

Node homes (``node_key``, ``box_key``), member key stores (``member_key``, ``box_key``) and the
testnet authority (``authority_key``) keep their secrets this way, so the node, the client
library and the tools share these helpers. They live in the ledger because it is the lowest
package that may touch the disk and the one both the node and the client import (crypto/ stays
pure); like ``genesis.json`` they are a file format, not node logic.

Errors are :class:`KeyFileError`.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

SECRET_SIZE = 32


class KeyFileError(Exception):
    """A key file that cannot be read or written, or that does not hold exactly 32 bytes."""


def write_atomic(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` through a synced temporary file and a rename, with ``mode``.

    A crash leaves either the old file or the new one, never a torn key. The temporary file is
    new, with a name no one can guess, and opened without following symlinks, so nothing planted
    beside ``path`` is written through or lends its permissions; its mode is set exactly
    (whatever the umask) before any data goes in. A symlink at ``path`` itself is replaced, not
    followed. The file and then its directory are synced, so the rename is durable too.
    Raises ``OSError``.
    """
    directory = path.parent
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    tmp = directory / f".{path.name}.{secrets.token_hex(8)}.tmp"
    fd = os.open(tmp, flags, 0o600)
    try:
        try:
            os.fchmod(fd, mode)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _sync_directory(directory)


def _sync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save_secret(path: Path, secret: bytes) -> None:
    """Write a 32-byte key file readable only by its owner (creating its directory).

    Raises :class:`KeyFileError` for a secret of the wrong size, ``OSError`` if the disk refuses.
    """
    if len(secret) != SECRET_SIZE:
        raise KeyFileError(f"{path.name}: a key file holds exactly {SECRET_SIZE} bytes")
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, secret, mode=0o600)


def load_secret(path: Path) -> bytes:
    """The 32 bytes of a key file; raises :class:`KeyFileError` naming the file and the problem."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise KeyFileError(f"cannot read key file {path}: {exc.strerror}") from exc
    if len(data) != SECRET_SIZE:
        raise KeyFileError(f"key file {path} must hold {SECRET_SIZE} bytes, found {len(data)}")
    return data
