"""Mapping between the project's Ed25519 node keys and libp2p identities.

Genesis lists each node's Ed25519 public key; the libp2p peer id is derived from that same key,
so one key file identifies a node both in consensus and on the wire.
"""

from __future__ import annotations

from libp2p.crypto.ed25519 import Ed25519PublicKey, create_new_key_pair
from libp2p.crypto.keys import KeyPair
from libp2p.peer.id import ID

from crypto.signing import SigningKey, VerifyKey
from node.p2p.errors import P2PError


def libp2p_key_pair(node_key: SigningKey) -> KeyPair:
    """The libp2p key pair for ``node_key`` (same Ed25519 secret, libp2p's key types)."""
    return create_new_key_pair(node_key.seed())


def peer_id_of(verify_key: VerifyKey) -> ID:
    """The libp2p peer id (identity multihash of the protobuf public key) of an Ed25519 key."""
    return ID.from_pubkey(Ed25519PublicKey.from_bytes(verify_key.raw))


def parse_peer_id(text: str) -> ID:
    """Parse a base58 peer id such as ``12D3KooW...`` that embeds an Ed25519 key.

    Only Ed25519 identities can be genesis members, so anything else (bad base58, a hashed RSA
    id, a truncated multihash) raises :class:`P2PError`.
    """
    try:
        peer_id = ID.from_base58(text)
        key = peer_id.extract_public_key()
    except (ValueError, KeyError, TypeError) as exc:
        raise P2PError(f"not a peer id: {text[:80]!r}") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise P2PError(f"not an Ed25519 peer id: {text[:80]!r}")
    return peer_id
