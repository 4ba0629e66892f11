"""Typed errors of the node client. Every one is a :class:`ClientError`."""

from __future__ import annotations


class ClientError(Exception):
    """Base of everything the client raises on purpose."""


class ConnectionFailed(ClientError):
    """The node could not be reached (refused, timed out, not HTTP)."""


class NodeError(ClientError):
    """The node answered with an error: ``status`` (HTTP), ``code`` (the API's snake_case code)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code} ({status}): {message}")
        self.status = status
        self.code = code
        self.message = message


class KeyStoreError(ClientError):
    """A member directory is missing, incomplete or holds malformed keys."""


class WaitTimeout(ClientError):
    """Something the client waited for (a commit, a sharing decision) did not happen in time."""


class AccessDenied(ClientError):
    """The network decided against an access request, or a node refused to serve the data."""


class IntegrityError(ClientError):
    """Data from the network failed a check (digest, AEAD, commitment, key validation)."""


class UnknownRequest(ClientError):
    """The node knows no such access request: it is neither committed nor pending there."""


class RequestMismatch(ClientError):
    """A decided request that is not this member's, or not for the record it is used for."""


class UploadStateError(ClientError):
    """An owner's saved upload state is missing or damaged (see :mod:`client.uploads`)."""
