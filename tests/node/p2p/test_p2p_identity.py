"""Node keys, peer ids and the genesis allowlist."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from libp2p.peer.id import ID

from crypto.signing import SigningKey
from node.p2p import (
    P2PConfig,
    P2PError,
    PeerAllowlist,
    PeerRefused,
    parse_peer_id,
    peer_id_of,
)
from node.p2p.identity import libp2p_key_pair


@given(st.binary(min_size=32, max_size=32))
def test_peer_id_of_the_public_key_matches_the_key_pair(seed: bytes) -> None:
    key = SigningKey(seed)
    pair = libp2p_key_pair(key)
    assert pair.public_key.to_bytes() == key.verify_key.raw
    assert ID.from_pubkey(pair.public_key) == peer_id_of(key.verify_key)


def test_peer_ids_round_trip_through_text() -> None:
    peer = peer_id_of(SigningKey(b"\x07" * 32).verify_key)
    text = str(peer)
    assert text.startswith("12D3KooW")
    assert parse_peer_id(text) == peer


@pytest.mark.parametrize(
    "text",
    ["", "not a peer id", "0OIl", "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N"],
)
def test_bad_peer_ids_are_refused(text: str) -> None:
    with pytest.raises(P2PError):
        parse_peer_id(text)


def test_allowlist_membership_and_refusal() -> None:
    keys = [SigningKey(bytes([i]) * 32) for i in range(1, 4)]
    allowlist = PeerAllowlist.from_verify_keys(k.verify_key for k in keys)
    outsider = peer_id_of(SigningKey(b"\x63" * 32).verify_key)
    assert len(allowlist) == 3
    assert all(peer_id_of(k.verify_key) in allowlist for k in keys)
    assert outsider not in allowlist
    allowlist.check(peer_id_of(keys[0].verify_key), "test")
    with pytest.raises(PeerRefused, match="not in genesis"):
        allowlist.check(outsider, "test")


def test_config_from_a_listen_multiaddr() -> None:
    config = P2PConfig.listening_on("/ip4/127.0.0.1/tcp/26656", request_timeout=3.0)
    assert (config.listen_host, config.listen_port, config.request_timeout) == (
        "127.0.0.1",
        26656,
        3.0,
    )
    assert str(config.listen_multiaddr()) == "/ip4/127.0.0.1/tcp/26656"
    assert str(P2PConfig.listening_on("/ip6/::1/tcp/0").listen_multiaddr()) == "/ip6/::1/tcp/0"


@pytest.mark.parametrize(
    "address",
    ["/dns4/example.org/tcp/1", "/ip4/127.0.0.1/udp/1", "/ip4/127.0.0.1/tcp/99999", "/ip4/x/tcp/1"],
)
def test_bad_listen_addresses_are_refused(address: str) -> None:
    with pytest.raises(P2PError):
        P2PConfig.listening_on(address)


def test_bad_limits_are_refused() -> None:
    with pytest.raises(P2PError):
        P2PConfig(request_timeout=0)
    with pytest.raises(P2PError):
        P2PConfig(max_concurrent_inbound=0)
