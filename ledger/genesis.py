"""The genesis of a chain: who the consensus nodes are, the authority key and chain parameters.

Every node and tool loads the same ``genesis.json``. Its canonical bytes are hashed into the
genesis hash, which the first block names as its previous hash, so a ledger can never be replayed
against a different genesis. Nodes are numbered 1..n in order; a commit QC needs ``quorum``
distinct node signatures (default ``floor(n/2) + 1``, which must stay a strict majority).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crypto.errors import DecodeError
from crypto.hashing import digest
from crypto.sealing import BoxPublicKey
from crypto.signing import VerifyKey
from ledger.encoding import (
    KEY,
    TAG_GENESIS,
    TAG_NODE_INFO,
    TEXT,
    U16,
    U32,
    U64,
    Encoded,
    nested,
    sequence,
)

GENESIS_HASH_TAG = b"iomtshare/ledger/genesis/v1"


class GenesisError(ValueError):
    """A genesis document that is not valid: the message names the field and what is wrong.

    A ``ValueError``, as construction with inconsistent parameters has always raised."""


@dataclass(frozen=True, slots=True)
class NodeInfo(Encoded):
    """One consensus node: its index (1..n), libp2p peer id, Ed25519 and X25519 public keys."""

    index: int
    peer_id: str
    verify_key: bytes
    box_key: bytes

    TAG = TAG_NODE_INFO
    FIELDS = (("index", U16), ("peer_id", TEXT), ("verify_key", KEY), ("box_key", KEY))

    def signer(self) -> VerifyKey:
        return VerifyKey(self.verify_key)

    def box_public_key(self) -> BoxPublicKey:
        return BoxPublicKey(self.box_key)


@dataclass(frozen=True, slots=True)
class Genesis(Encoded):
    """Chain identity and parameters. Times are milliseconds since the Unix epoch.

    ``threshold`` is t of the t-of-n re-encryption; ``quorum`` the number of node signatures a
    commit QC or a sharing decision needs; ``freshness_window_ms`` how far an access request's
    timestamp may be from its block's time; ``denial_limit`` the denials after which a requester
    is blacklisted. Construction raises ``ValueError`` on inconsistent parameters.
    """

    chain_id: str
    genesis_time_ms: int
    nodes: tuple[NodeInfo, ...]
    authority_key: bytes
    threshold: int
    quorum: int
    freshness_window_ms: int = 300_000
    denial_limit: int = 5
    block_interval_ms: int = 1_000
    round_timeout_ms: int = 3_000
    _by_index: dict[int, NodeInfo] = field(init=False, repr=False, compare=False)
    _verify_keys: dict[int, VerifyKey] = field(init=False, repr=False, compare=False)

    TAG = TAG_GENESIS
    FIELDS = (
        ("chain_id", TEXT),
        ("genesis_time_ms", U64),
        ("nodes", sequence(nested(NodeInfo))),
        ("authority_key", KEY),
        ("threshold", U16),
        ("quorum", U16),
        ("freshness_window_ms", U64),
        ("denial_limit", U32),
        ("block_interval_ms", U32),
        ("round_timeout_ms", U32),
    )

    def __post_init__(self) -> None:
        Encoded.__post_init__(self)
        n = len(self.nodes)
        if not self.chain_id:
            raise ValueError("chain_id must not be empty")
        if n == 0:
            raise ValueError("genesis needs at least one consensus node")
        if [node.index for node in self.nodes] != list(range(1, n + 1)):
            raise ValueError("nodes must be listed with indexes 1..n in order")
        if len({node.verify_key for node in self.nodes}) != n:
            raise ValueError("two nodes share a verify key")
        if len({node.peer_id for node in self.nodes}) != n:
            raise ValueError("two nodes share a peer id")
        if not 1 <= self.threshold <= n:
            raise ValueError(f"threshold {self.threshold} is not within 1..{n}")
        if not n // 2 < self.quorum <= n:
            raise ValueError(f"quorum {self.quorum} is not a strict majority of {n} nodes")
        if self.denial_limit < 1:
            raise ValueError("denial_limit must be at least 1")
        object.__setattr__(self, "_by_index", {node.index: node for node in self.nodes})
        # Decoded once: every commit QC and access vote is checked against these keys.
        keys = {node.index: node.signer() for node in self.nodes}
        object.__setattr__(self, "_verify_keys", keys)

    @classmethod
    def from_fields(cls, values: dict[str, Any]) -> Genesis:
        try:
            return cls(**values)
        except ValueError as exc:
            raise DecodeError(f"Genesis: {exc}") from exc

    @classmethod
    def create(
        cls,
        chain_id: str,
        nodes: tuple[NodeInfo, ...],
        authority_key: bytes,
        *,
        genesis_time_ms: int,
        threshold: int | None = None,
        quorum: int | None = None,
        **params: int,
    ) -> Genesis:
        """A genesis with quorum ``floor(n/2)+1`` and threshold = quorum unless given."""
        default_quorum = len(nodes) // 2 + 1
        return cls(
            chain_id=chain_id,
            genesis_time_ms=genesis_time_ms,
            nodes=nodes,
            authority_key=authority_key,
            threshold=threshold if threshold is not None else default_quorum,
            quorum=quorum if quorum is not None else default_quorum,
            **params,
        )

    @property
    def size(self) -> int:
        return len(self.nodes)

    def node(self, index: int) -> NodeInfo | None:
        return self._by_index.get(index)

    def node_verify_key(self, index: int) -> VerifyKey | None:
        """The Ed25519 key of node ``index`` (decoded once), or ``None`` if there is none."""
        return self._verify_keys.get(index)

    def authority(self) -> VerifyKey:
        return VerifyKey(self.authority_key)

    def hash(self) -> bytes:
        """The genesis hash: the previous hash of block 1."""
        return digest(GENESIS_HASH_TAG, self.to_bytes())

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (keys hex-encoded) that :meth:`from_json` reads back exactly."""
        out: dict[str, Any] = {}
        for name, _ in self.FIELDS:
            value = getattr(self, name)
            if name == "nodes":
                value = [
                    {
                        "index": node.index,
                        "peer_id": node.peer_id,
                        "verify_key": node.verify_key.hex(),
                        "box_key": node.box_key.hex(),
                    }
                    for node in self.nodes
                ]
            elif isinstance(value, bytes):
                value = value.hex()
            out[name] = value
        return out

    @classmethod
    def from_json(cls, obj: Any) -> Genesis:
        """Parse :meth:`to_json` output (a hand-written document may leave out the fields that
        have defaults). Raises :class:`GenesisError`, naming the field, on malformed input."""
        if not isinstance(obj, dict):
            raise GenesisError(f"a genesis is a JSON object, not {_json_type(obj)}")
        names = {name for name, _ in cls.FIELDS}
        unknown = set(obj) - names
        if unknown:
            raise GenesisError(f"unknown genesis fields: {sorted(unknown)}")
        values: dict[str, Any] = {}
        for name, kind in cls.FIELDS:
            if name not in obj and name in _OPTIONAL:
                continue
            if name == "nodes":
                nodes = _field(obj, name, list, "a list of node objects")
                values[name] = tuple(
                    _node_from_json(entry, f"nodes[{i}]") for i, entry in enumerate(nodes)
                )
            elif kind is KEY:
                values[name] = _key(obj, name)
            elif kind is TEXT:
                values[name] = _field(obj, name, str, "a string")
            else:
                values[name] = _field(obj, name, int, f"an integer ({kind.name})")
        try:
            return cls(**values)
        except ValueError as exc:
            raise GenesisError(str(exc)) from exc

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_json(), indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> Genesis:
        """Read a genesis file; raises ``OSError`` if it cannot be read and
        :class:`GenesisError` if it is not a valid genesis."""
        text = Path(path).read_text(encoding="utf-8")
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            raise GenesisError(f"not JSON: {exc}") from exc
        return cls.from_json(document)


#: Fields a hand-written genesis may leave out (they take the dataclass defaults).
_OPTIONAL = frozenset(
    {"freshness_window_ms", "denial_limit", "block_interval_ms", "round_timeout_ms"}
)


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    return {
        dict: "an object", list: "a list", str: "a string", int: "an integer", float: "a number"
    }.get(type(value), "null")


def _field(obj: dict[str, Any], name: str, kind: type, what: str, where: str = "") -> Any:
    """``obj[name]`` if it is a ``kind``; else a GenesisError naming ``where + name``."""
    label = f"{where}.{name}" if where else name
    if name not in obj:
        raise GenesisError(f"missing field {label!r}")
    value = obj[name]
    # JSON true/false are ints to Python; a boolean quorum is a mistake, not 1.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise GenesisError(f"field {label!r} must be {what}, not {_json_type(value)}")
    return value


def _key(obj: dict[str, Any], name: str, where: str = "") -> bytes:
    what = "64 hex digits (a 32-byte key)"
    text = _field(obj, name, str, what, where)
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raw = b""
    if len(raw) != 32:
        label = f"{where}.{name}" if where else name
        raise GenesisError(f"field {label!r} must be {what}")
    return raw


def _node_from_json(entry: Any, where: str) -> NodeInfo:
    if not isinstance(entry, dict):
        raise GenesisError(f"{where} must be an object, not {_json_type(entry)}")
    unknown = set(entry) - {name for name, _ in NodeInfo.FIELDS}
    if unknown:
        raise GenesisError(f"unknown fields in {where}: {sorted(unknown)}")
    try:
        return NodeInfo(
            index=_field(entry, "index", int, "an integer", where),
            peer_id=_field(entry, "peer_id", str, "a string", where),
            verify_key=_key(entry, "verify_key", where),
            box_key=_key(entry, "box_key", where),
        )
    except GenesisError:
        raise
    except ValueError as exc:
        raise GenesisError(f"{where}: {exc}") from exc
