"""The genesis of a chain: who the consensus nodes are, the authority's keys and chain parameters.

Every node and tool loads the same ``genesis.json``. Its canonical bytes are hashed into the
genesis hash, which the first block names as its previous hash, so a ledger can never be replayed
against a different genesis. Nodes are numbered 1..n in order; a commit QC needs ``quorum``
distinct node signatures (default ``floor(n/2) + 1``, which must stay a strict majority).

Besides its Ed25519 verify key, the authority may publish the keys it made at network creation
(DESIGN 3.3, 3.5): the domain key dealt t-of-n to the nodes (:class:`DomainKeys`: pk_p and each
node's ``VK_i``) and its FAME public key. They come together or not at all. A genesis with them
is encoding version 2; one without keeps version 1, so a chain started without them keeps its
genesis hash. Here they are checked for shape only; :mod:`ledger.authority_keys` decodes the
points and checks that the ``VK_i`` interpolate to pk_p2.

A genesis may also list edge nodes (:class:`EdgeInfo`: peer id and Ed25519 key): light nodes
the consensus nodes admit as peers, which never vote. A genesis with edges is encoding version 3
(the authority's keys then optional, behind a presence byte); one without keeps version 1 or 2,
so existing genesis files keep their hash.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from crypto import tags
from crypto.codec import Reader, Writer, parse
from crypto.errors import DecodeError
from crypto.hashing import digest
from crypto.sealing import BoxPublicKey
from crypto.signing import VerifyKey
from ledger import fastread
from ledger.encoding import (
    KEY,
    TAG_GENESIS,
    TAG_NODE_INFO,
    TEXT,
    U16,
    U32,
    U64,
    Encoded,
    Kind,
    nested,
    optional,
    sequence,
)

T = TypeVar("T")

GENESIS_HASH_TAG = b"iomtshare/ledger/genesis/v1"
TAG_DOMAIN_KEYS = tags.LEDGER_DOMAIN_KEYS
TAG_EDGE_INFO = tags.LEDGER_EDGE_INFO
#: Encoding version of a genesis that carries the authority's keys (see the module docstring).
AUTHORITY_KEYS_VERSION = 2
#: Encoding version of a genesis that lists edge nodes.
EDGES_VERSION = 3
#: Canonical sizes: crypto.dual.DomainPublicKey, a compressed G2 point, crypto.abe.FamePublicKey.
DOMAIN_PUBLIC_KEY_SIZE = 146
G2_POINT_SIZE = 96
FAME_PUBLIC_KEY_SIZE = 1346


def _fixed_kind(size: int) -> Kind[bytes]:
    return Kind(
        f"bytes[{size}]",
        lambda v: isinstance(v, bytes) and len(v) == size,
        lambda w, v: w.fixed(v, size),
        lambda r: r.fixed(size),
        fastread.fixed(size),
        layout=f"{size}s",
    )


DOMAIN_PUBLIC_KEY = _fixed_kind(DOMAIN_PUBLIC_KEY_SIZE)
G2_POINT = _fixed_kind(G2_POINT_SIZE)
FAME_PUBLIC_KEY = _fixed_kind(FAME_PUBLIC_KEY_SIZE)


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
class EdgeInfo(Encoded):
    """One edge node: a light node admitted as a peer, never a voter. Its libp2p peer id and
    the Ed25519 key that id is derived from (libp2p authenticates the peer by that key)."""

    peer_id: str
    verify_key: bytes

    TAG = TAG_EDGE_INFO
    FIELDS = (("peer_id", TEXT), ("verify_key", KEY))


@dataclass(frozen=True, slots=True)
class DomainKeys(Encoded):
    """The domain key of ``epoch`` as dealt ``threshold``-of-n to the consensus nodes.

    ``public_key`` is the canonical encoding of pk_p = (g0^p1, gamma2^p2)
    (:class:`crypto.dual.DomainPublicKey`); ``verification_keys[i-1]`` is node i's
    ``VK_i = gamma2^(sigma_i)``, a compressed G2 point. Each node's share ``sigma_i`` is not
    here: it lives sealed to that node's box key in the node's home.
    """

    epoch: int
    threshold: int
    public_key: bytes
    verification_keys: tuple[bytes, ...]

    TAG = TAG_DOMAIN_KEYS
    FIELDS = (
        ("epoch", U32),
        ("threshold", U16),
        ("public_key", DOMAIN_PUBLIC_KEY),
        ("verification_keys", sequence(G2_POINT)),
    )


#: What a version-2 genesis encodes after the version-1 fields.
AUTHORITY_FIELDS: tuple[tuple[str, Kind[Any]], ...] = (
    ("domain", nested(DomainKeys)),
    ("fame_public_key", FAME_PUBLIC_KEY),
)
#: What a version-3 genesis encodes after the version-1 fields.
EDGE_VERSION_FIELDS: tuple[tuple[str, Kind[Any]], ...] = (
    ("domain", optional(nested(DomainKeys))),
    ("fame_public_key", optional(FAME_PUBLIC_KEY)),
    ("edges", sequence(nested(EdgeInfo))),
)


@dataclass(frozen=True, slots=True)
class Genesis(Encoded):
    """Chain identity and parameters. Times are milliseconds since the Unix epoch.

    ``threshold`` is t of the t-of-n re-encryption; ``quorum`` the number of node signatures a
    commit QC or a sharing decision needs; ``freshness_window_ms`` how far an access request's
    timestamp may be from its block's time; ``denial_limit`` the denials after which a requester
    is blacklisted. ``domain`` and ``fame_public_key`` are the authority's keys made at network
    creation (both or neither; the module docstring says more). Construction raises
    ``ValueError`` on inconsistent parameters.
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
    domain: DomainKeys | None = None
    fame_public_key: bytes | None = None
    edges: tuple[EdgeInfo, ...] = ()
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
        self._check_authority_keys()
        self._check_edges()
        object.__setattr__(self, "_by_index", {node.index: node for node in self.nodes})
        # Decoded once: every commit QC and access vote is checked against these keys.
        keys = {node.index: node.signer() for node in self.nodes}
        object.__setattr__(self, "_verify_keys", keys)

    def _check_authority_keys(self) -> None:
        """The shape of the authority's keys; their points are checked by ledger.authority_keys."""
        if (self.domain is None) != (self.fame_public_key is None):
            raise ValueError("domain and fame_public_key come together: give both or neither")
        if self.domain is None:
            return
        for name, kind in AUTHORITY_FIELDS:
            if not kind.check(getattr(self, name)):
                raise ValueError(f"Genesis.{name} must be {kind.name}")
        n, domain = len(self.nodes), self.domain
        if domain.epoch != 0:
            raise ValueError(f"domain.epoch is {domain.epoch}; a genesis deals epoch 0")
        # One t for both sharing paths: an access decision gathers t approving nodes, and each
        # must be able to contribute its domain share as well as its re-encryption share.
        if domain.threshold != self.threshold:
            raise ValueError(
                f"domain.threshold {domain.threshold} differs from threshold {self.threshold}"
            )
        if len(domain.verification_keys) != n:
            raise ValueError(
                f"domain.verification_keys lists {len(domain.verification_keys)} keys "
                f"for {n} nodes"
            )

    def _check_edges(self) -> None:
        if not isinstance(self.edges, tuple) or not all(
            isinstance(edge, EdgeInfo) for edge in self.edges
        ):
            raise ValueError("edges must be a tuple of EdgeInfo")
        peers = [edge.peer_id for edge in self.edges] + [node.peer_id for node in self.nodes]
        if len(set(peers)) != len(peers):
            raise ValueError("an edge shares its peer id with another edge or a node")
        keys = [edge.verify_key for edge in self.edges] + [n.verify_key for n in self.nodes]
        if len(set(keys)) != len(keys):
            raise ValueError("an edge shares its verify key with another edge or a node")

    @property
    def version(self) -> int:
        """The encoding version: 3 with edges, else 2 with the authority's keys, 1 without."""
        if self.edges:
            return EDGES_VERSION
        return self.VERSION if self.domain is None else AUTHORITY_KEYS_VERSION

    @staticmethod
    def _extra_fields(version: int) -> tuple[tuple[str, Kind[Any]], ...]:
        """What follows the version-1 fields in encoding ``version``."""
        if version == EDGES_VERSION:
            return EDGE_VERSION_FIELDS
        return AUTHORITY_FIELDS if version == AUTHORITY_KEYS_VERSION else ()

    def to_bytes(self) -> bytes:
        version = self.version
        writer = self.write_fields(Writer(self.TAG, version))
        for name, kind in Genesis._extra_fields(version):
            kind.write(writer, getattr(self, name))
        return writer.to_bytes()

    @classmethod
    def from_bytes_with_reader(cls, data: bytes) -> Genesis:
        """Decode either version; raises :class:`DecodeError`."""

        def body(reader: Reader) -> Genesis:
            known = (AUTHORITY_KEYS_VERSION, EDGES_VERSION)
            version = data[1] if len(data) > 1 and data[1] in known else cls.VERSION
            reader.expect_header(cls.TAG, version)
            values = cls.read_fields(reader)
            extra = Genesis._extra_fields(version)
            values.update((name, kind.read(reader)) for name, kind in extra)
            if version == EDGES_VERSION and not values["edges"]:
                # One genesis, one encoding: without edges it must be version 1 or 2.
                raise DecodeError("Genesis: a version-3 genesis must list edges")
            return cls.from_fields(values)

        return parse(data, cls.__name__, body)

    @classmethod
    def from_bytes_by_field(cls, data: bytes) -> Genesis:
        # A genesis is decoded once per process; the reference decoder serves both versions.
        return cls.from_bytes_with_reader(data)

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
        """A genesis with quorum ``floor(n/2)+1`` and threshold = quorum unless given (the
        authority's keys, which depend on the threshold, are added with ``dataclasses.replace``)."""
        default_quorum = cls.default_quorum(len(nodes))
        return cls(
            chain_id=chain_id,
            genesis_time_ms=genesis_time_ms,
            nodes=nodes,
            authority_key=authority_key,
            threshold=threshold if threshold is not None else default_quorum,
            quorum=quorum if quorum is not None else default_quorum,
            domain=None,
            fame_public_key=None,
            edges=(),
            **params,
        )

    @staticmethod
    def default_quorum(n: int) -> int:
        """``floor(n/2) + 1``: the default quorum and threshold of ``n`` nodes."""
        return n // 2 + 1

    @property
    def size(self) -> int:
        return len(self.nodes)

    def edge(self, peer_id: str) -> EdgeInfo | None:
        """The edge node with ``peer_id``, or ``None`` if genesis lists no such edge."""
        return next((edge for edge in self.edges if edge.peer_id == peer_id), None)

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
        if self.domain is not None and self.fame_public_key is not None:
            out["domain"] = {
                "epoch": self.domain.epoch,
                "threshold": self.domain.threshold,
                "public_key": self.domain.public_key.hex(),
                "verification_keys": [key.hex() for key in self.domain.verification_keys],
            }
            out["fame_public_key"] = self.fame_public_key.hex()
        if self.edges:
            out["edges"] = [
                {"peer_id": edge.peer_id, "verify_key": edge.verify_key.hex()}
                for edge in self.edges
            ]
        return out

    @classmethod
    def from_json(cls, obj: Any) -> Genesis:
        """Parse :meth:`to_json` output (a hand-written document may leave out the fields that
        have defaults). Raises :class:`GenesisError`, naming the field, on malformed input."""
        if not isinstance(obj, dict):
            raise GenesisError(f"a genesis is a JSON object, not {_json_type(obj)}")
        names = {name for name, _ in cls.FIELDS} | {name for name, _ in EDGE_VERSION_FIELDS}
        unknown = set(obj) - names
        if unknown:
            raise GenesisError(f"unknown genesis fields: {sorted(unknown)}")
        values: dict[str, Any] = {}
        if "edges" in obj:
            edges = _field(obj, "edges", list, "a list of edge objects")
            values["edges"] = tuple(
                _edge_from_json(entry, f"edges[{i}]") for i, entry in enumerate(edges)
            )
        if "domain" in obj:
            values["domain"] = _domain_from_json(obj["domain"])
        if "fame_public_key" in obj:
            values["fame_public_key"] = _hex_field(
                obj, "fame_public_key", FAME_PUBLIC_KEY_SIZE, "a FAME public key"
            )
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
    return _hex_field(obj, name, 32, "a 32-byte key", where)


def _hex_field(obj: dict[str, Any], name: str, size: int, what: str, where: str = "") -> bytes:
    """``obj[name]`` as ``size`` bytes given in hex; a GenesisError naming the field otherwise."""
    label = f"{where}.{name}" if where else name
    expected = f"{2 * size} hex digits ({what})"
    text = _field(obj, name, str, expected, where)
    return _hex(text, size, f"field {label!r} must be {expected}")


def _hex(text: str, size: int, error: str) -> bytes:
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raw = b""
    if len(raw) != size:
        raise GenesisError(error)
    return raw


def _domain_from_json(entry: Any) -> DomainKeys:
    where = "domain"
    if not isinstance(entry, dict):
        raise GenesisError(f"{where} must be an object, not {_json_type(entry)}")
    unknown = set(entry) - {name for name, _ in DomainKeys.FIELDS}
    if unknown:
        raise GenesisError(f"unknown fields in {where}: {sorted(unknown)}")
    keys = _field(entry, "verification_keys", list, "a list of hex G2 points", where)
    what = f"{2 * G2_POINT_SIZE} hex digits (a compressed G2 point)"
    verification_keys = []
    for position, key in enumerate(keys):
        label = f"{where}.verification_keys[{position}]"
        if not isinstance(key, str):
            raise GenesisError(f"{label} must be {what}, not {_json_type(key)}")
        verification_keys.append(_hex(key, G2_POINT_SIZE, f"{label} must be {what}"))
    try:
        return DomainKeys(
            epoch=_field(entry, "epoch", int, "an integer", where),
            threshold=_field(entry, "threshold", int, "an integer", where),
            public_key=_hex_field(
                entry, "public_key", DOMAIN_PUBLIC_KEY_SIZE, "a domain public key", where
            ),
            verification_keys=tuple(verification_keys),
        )
    except ValueError as exc:
        if isinstance(exc, GenesisError):
            raise
        raise GenesisError(f"{where}: {exc}") from exc


def _node_from_json(entry: Any, where: str) -> NodeInfo:
    return _entry_from_json(
        entry,
        where,
        NodeInfo,
        lambda: NodeInfo(
            index=_field(entry, "index", int, "an integer", where),
            peer_id=_field(entry, "peer_id", str, "a string", where),
            verify_key=_key(entry, "verify_key", where),
            box_key=_key(entry, "box_key", where),
        ),
    )


def _edge_from_json(entry: Any, where: str) -> EdgeInfo:
    return _entry_from_json(
        entry,
        where,
        EdgeInfo,
        lambda: EdgeInfo(
            peer_id=_field(entry, "peer_id", str, "a string", where),
            verify_key=_key(entry, "verify_key", where),
        ),
    )


def _entry_from_json(entry: Any, where: str, cls: type[Encoded], build: Callable[[], T]) -> T:
    """``build()`` the ``cls`` object at ``where`` once ``entry`` is an object naming only
    ``cls`` fields; any error is a GenesisError naming ``where``."""
    if not isinstance(entry, dict):
        raise GenesisError(f"{where} must be an object, not {_json_type(entry)}")
    unknown = set(entry) - {name for name, _ in cls.FIELDS}
    if unknown:
        raise GenesisError(f"unknown fields in {where}: {sorted(unknown)}")
    try:
        return build()
    except GenesisError:
        raise
    except ValueError as exc:
        raise GenesisError(f"{where}: {exc}") from exc
