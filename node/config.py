"""A node's home directory: ``config.toml``, ``genesis.json``, key files and ``data/``.

Layout (DESIGN 6)::

    HOME/config.toml     listen addresses, peers, HTTP port, log level (this module's NodeConfig)
    HOME/genesis.json    the chain's genesis (ledger.genesis.Genesis)
    HOME/node_key        32-byte Ed25519 seed: libp2p identity and consensus signing key
    HOME/box_key         32-byte X25519 secret: opens sealed re-key and domain-key shares
    HOME/data/           LevelDB ledger and stored fragments

Key files are read and written by :mod:`ledger.keyfiles` (raw bytes, mode 0600, replaced
atomically), which the client library's key store shares.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ledger.keyfiles import write_atomic

CONFIG_FILE = "config.toml"
GENESIS_FILE = "genesis.json"
NODE_KEY_FILE = "node_key"
BOX_KEY_FILE = "box_key"
DATA_DIR = "data"
CONFIG_VERSION = 1


class ConfigError(Exception):
    """A missing, unreadable or invalid home directory, config file or key file."""


@dataclass(frozen=True)
class NodeConfig:
    """What ``config.toml`` holds.

    ``p2p_listen`` is a multiaddr such as ``/ip4/127.0.0.1/tcp/26656``; ``peers`` are full
    multiaddrs of the other genesis nodes including ``/p2p/<peer id>``.
    """

    p2p_listen: str
    http_host: str = "127.0.0.1"
    http_port: int = 26657
    peers: tuple[str, ...] = ()
    log_level: str = "info"
    pairing_backend: str = "mcl"
    extra: dict[str, Any] = field(default_factory=dict)

    def to_toml(self) -> str:
        lines = [
            f"version = {CONFIG_VERSION}",
            f"p2p_listen = {_toml_string(self.p2p_listen)}",
            f"http_host = {_toml_string(self.http_host)}",
            f"http_port = {int(self.http_port)}",
            "peers = [" + ", ".join(_toml_string(p) for p in self.peers) + "]",
            f"log_level = {_toml_string(self.log_level)}",
            f"pairing_backend = {_toml_string(self.pairing_backend)}",
        ]
        for key, value in sorted(self.extra.items()):
            lines.append(f"{key} = {_toml_value(value)}")
        return "\n".join(lines) + "\n"

    @classmethod
    def from_toml(cls, text: str) -> NodeConfig:
        try:
            doc = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config.toml is not valid TOML: {exc}") from exc
        if doc.pop("version", None) != CONFIG_VERSION:
            raise ConfigError(f"config.toml must say version = {CONFIG_VERSION}")
        try:
            p2p_listen = _expect(doc.pop("p2p_listen"), str, "p2p_listen")
        except KeyError as exc:
            raise ConfigError("config.toml lacks p2p_listen") from exc
        peers = _expect(doc.pop("peers", []), list, "peers")
        port = _expect(doc.pop("http_port", 26657), int, "http_port")
        if not 0 <= port <= 65535:
            raise ConfigError(f"http_port {port} is out of range")
        return cls(
            p2p_listen=p2p_listen,
            http_host=_expect(doc.pop("http_host", "127.0.0.1"), str, "http_host"),
            http_port=port,
            peers=tuple(_expect(p, str, "peers[]") for p in peers),
            log_level=_expect(doc.pop("log_level", "info"), str, "log_level"),
            pairing_backend=_expect(doc.pop("pairing_backend", "mcl"), str, "pairing_backend"),
            extra=doc,
        )


def _expect(value: Any, kind: type, name: str) -> Any:
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ConfigError(f"config.toml: {name} must be a {kind.__name__}")
    return value


def _toml_string(value: str) -> str:
    """A TOML basic string: quotes, backslashes and control characters escaped."""
    out = []
    for ch in value:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise ConfigError(f"cannot write {type(value).__name__} to config.toml")


def save_config(home: Path, config: NodeConfig) -> None:
    home.mkdir(parents=True, exist_ok=True)
    write_atomic(home / CONFIG_FILE, config.to_toml().encode())


def load_config(home: Path) -> NodeConfig:
    path = home / CONFIG_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
    return NodeConfig.from_toml(text)

