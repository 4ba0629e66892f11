"""A node's home directory: ``config.toml``, ``genesis.json``, key files and ``data/``.

Layout (DESIGN 6)::

    HOME/config.toml     listen addresses, peers, HTTP port, log level (this module's NodeConfig)
    HOME/genesis.json    the chain's genesis (ledger.genesis.Genesis)
    HOME/node_key        32-byte Ed25519 seed: libp2p identity and consensus signing key
    HOME/box_key         32-byte X25519 secret: opens sealed re-key and domain-key shares
    HOME/data/           LevelDB ledger and stored fragments

Key files are read and written by :mod:`ledger.keyfiles` (raw bytes, mode 0600, replaced
atomically), which the client library's key store shares.

Addresses: a node listens on ``p2p_listen`` and tells other operators to dial it at
``p2p_advertise`` (its external address: another IP, a DNS name or port behind NAT); without one
it is dialled where it listens. :func:`check_addresses` refuses a config whose addresses cannot
work before the node starts.
"""

from __future__ import annotations

import ipaddress
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import multiaddr  # type: ignore[import-untyped]  # ships without type hints

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

    ``p2p_listen`` is a multiaddr such as ``/ip4/127.0.0.1/tcp/26656``; ``p2p_advertise`` the
    address other nodes dial (``/ip4|ip6|dns|dns4|dns6/HOST/tcp/PORT``; ``None``: the listen
    address); ``peers`` are full multiaddrs of the other genesis nodes including
    ``/p2p/<peer id>``. Construction checks types only: :func:`check_addresses` checks the rest.
    """

    p2p_listen: str
    http_host: str = "127.0.0.1"
    http_port: int = 26657
    peers: tuple[str, ...] = ()
    log_level: str = "info"
    pairing_backend: str = "mcl"
    extra: dict[str, Any] = field(default_factory=dict)
    p2p_advertise: str | None = None

    def to_toml(self) -> str:
        lines = [
            f"version = {CONFIG_VERSION}",
            f"p2p_listen = {_toml_string(self.p2p_listen)}",
            *(
                [f"p2p_advertise = {_toml_string(self.p2p_advertise)}"]
                if self.p2p_advertise is not None
                else []
            ),
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
        advertise = doc.pop("p2p_advertise", None)
        if advertise is not None:
            _expect(advertise, str, "p2p_advertise")
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
            p2p_advertise=advertise,
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


# -- addresses ------------------------------------------------------------------------------------

_IP = ("ip4", "ip6")
_DIALABLE = ("ip4", "ip6", "dns", "dns4", "dns6")


def _parts(address: str, what: str, first: tuple[str, ...], with_peer: bool) -> list[str]:
    """The protocol values of ``/FIRST/HOST/tcp/PORT[/p2p/ID]``; raises ConfigError."""
    shape = f"/{'|'.join(first)}/HOST/tcp/PORT" + ("/p2p/PEER_ID" if with_peer else "")
    try:
        parsed = multiaddr.Multiaddr(address)
        names = [protocol.name for protocol in parsed.protocols()]
        values = [parsed.value_for_protocol(name) for name in names]
    except Exception as exc:  # the multiaddr library raises several unrelated types
        raise ConfigError(f"{what} {address!r} is not a multiaddr {shape}") from exc
    want = 3 if with_peer else 2
    if (
        len(names) != want
        or names[0] not in first
        or names[1] != "tcp"
        or (with_peer and names[2] != "p2p")
    ):
        raise ConfigError(f"{what} {address!r} is not of the form {shape}")
    return [str(v) for v in values]


def listen_endpoint(address: str) -> tuple[str, int]:
    """Host and port of a ``/ip4|ip6/HOST/tcp/PORT`` listen multiaddr; raises ConfigError."""
    host, port = _parts(address, "p2p_listen", _IP, with_peer=False)
    return host, int(port)


def check_advertise(address: str) -> str:
    """``address`` if it is ``/ip4|ip6|dns|dns4|dns6/HOST/tcp/PORT`` with a port that can be
    dialled; raises ConfigError."""
    _, port = _parts(address, "p2p_advertise", _DIALABLE, with_peer=False)
    if int(port) == 0:
        raise ConfigError(f"p2p_advertise {address!r} names port 0, which cannot be dialled")
    return address


def check_peer(address: str) -> str:
    """The peer id of a peer multiaddr ``/ip4|ip6|dns*/HOST/tcp/PORT/p2p/PEER_ID``; raises
    ConfigError (a typo here would otherwise only show as a failed dial, again and again)."""
    return _parts(address, "peer", _DIALABLE, with_peer=True)[2]


def check_addresses(config: NodeConfig) -> None:
    """Raise ConfigError if the listen address, advertised address or a peer is malformed."""
    listen_endpoint(config.p2p_listen)
    if config.p2p_advertise is not None:
        check_advertise(config.p2p_advertise)
    for peer in config.peers:
        check_peer(peer)


def advertised_address(config: NodeConfig, peer_id: str) -> str:
    """Where other nodes dial this one: ``p2p_advertise`` (else the listen address) with
    ``/p2p/<peer_id>``. Raises ConfigError when there is no such address: listening on every
    interface (0.0.0.0, ::) or on port 0 says nothing about where the node can be reached."""
    if config.p2p_advertise is not None:
        return f"{check_advertise(config.p2p_advertise)}/p2p/{peer_id}"
    host, port = listen_endpoint(config.p2p_listen)
    if ipaddress.ip_address(host).is_unspecified or port == 0:
        raise ConfigError(
            f"p2p_listen {config.p2p_listen} is not an address other hosts can dial; "
            "set p2p_advertise (init --p2p-advertise) to the address they should use"
        )
    return f"{config.p2p_listen}/p2p/{peer_id}"


def advertise_multiaddr(text: str, default_port: int) -> str:
    """An operator's ``--p2p-advertise``: a multiaddr, or ``HOST``, ``HOST:PORT``,
    ``[IPv6]:PORT`` (HOST an IP address or a DNS name; PORT defaults to ``default_port``).
    Returns the multiaddr; raises ConfigError."""
    if text.startswith("/"):
        return check_advertise(text)
    host, port = text, str(default_port)
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest:
            if not rest.startswith(":"):
                raise ConfigError(f"p2p advertise address {text!r} is not [IPv6]:PORT")
            port = rest[1:]
    elif text.count(":") == 1:
        host, port = text.split(":")
    if not port.isdigit() or not 0 < int(port) <= 65535:
        raise ConfigError(f"p2p advertise address {text!r} has no valid port")
    try:
        family = "ip6" if ipaddress.ip_address(host).version == 6 else "ip4"
    except ValueError:
        family = "dns"
    return check_advertise(f"/{family}/{host}/tcp/{int(port)}")
