"""Client side of the node HTTP API (docs/http-api.md): a typed HTTP client, a member's local
key store and the sharing flows (register, put, grant, revoke, request, fetch and decrypt).

The CLI and the benchmarks call this package; nothing here runs inside a node.
"""

from node.client.errors import (
    AccessDenied,
    ClientError,
    ConnectionFailed,
    IntegrityError,
    KeyStoreError,
    NodeError,
    WaitTimeout,
)
from node.client.http import NodeClient
from node.client.keystore import MemberKeys, MemberPublic, load_member, save_member

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
    "WaitTimeout",
    "load_member",
    "save_member",
]
