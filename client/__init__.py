"""Client side of the node HTTP API (docs/http-api.md): a typed HTTP client, a member's local
key store and the sharing flows (register, put, grant, revoke, request, fetch and decrypt).

The CLI, the benchmarks and the testnet launcher call this package; nothing here runs inside a
node. It depends only on :mod:`ledger` and :mod:`crypto`: what it shares with the node (the
transactions, the access token of :mod:`ledger.access_token`, the key files of
:mod:`ledger.keyfiles`) lives there, so the client never imports ``node`` and the node never
imports the client (``tests/client/test_layering.py``).
"""

from client.errors import (
    AccessDenied,
    ClientError,
    ConnectionFailed,
    IntegrityError,
    KeyStoreError,
    NodeError,
    RequestMismatch,
    UnknownRequest,
    UploadStateError,
    WaitTimeout,
)
from client.http import NodeClient
from client.keystore import MemberKeys, MemberPublic, load_member, save_member

__all__ = [
    "AccessDenied",
    "ClientError",
    "ConnectionFailed",
    "IntegrityError",
    "KeyStoreError",
    "MemberKeys",
    "MemberPublic",
    "NodeClient",
    "NodeError",
    "RequestMismatch",
    "UnknownRequest",
    "UploadStateError",
    "WaitTimeout",
    "load_member",
    "save_member",
]
