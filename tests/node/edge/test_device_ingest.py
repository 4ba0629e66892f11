"""The edge's device ingest over real crypto, with the proofs and the consensus nodes faked.

A device key, a domain key, a FAME key and an owner TPRE key are made here; the fake proof
fetcher answers the device's RegisterDevice (and RekeyDevice) as if proven, the fake submitter
plays the consensus nodes (a submitted transaction commits at once). An accepted upload comes
out as a PutRecord version 3 signed by the edge, under the epoch of the device's latest ReKey,
that opens byte for byte with the domain secret and a matching attribute key; every refusal is
typed, counted, and submits nothing. The submit protocol's server side is tested the same way.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

import pytest
import trio
from prometheus_client import CollectorRegistry

from client.device_upload import DeviceProfile, make_upload
from client.devices import device_keys
from crypto import aead
from crypto.abe import DualRecord, FameMasterKey, keygen, open_record, recover_abe_part
from crypto.abe import setup as fame_setup
from crypto.dual import (
    DeviceSecretKey,
    DomainSecretKey,
    NormalizedCiphertext,
    decrypt_with_domain_key,
    encrypt_dct,
    rekey_gen,
    setup,
)
from crypto.groups import Group, load_group
from crypto.signing import SigningKey
from crypto.storage import Fragment, StorageCommitment, rebuild
from crypto.tpre import UserSecretKey
from ledger.content import record_context
from ledger.device_upload import MAX_UPLOAD_BYTES, DeviceUpload
from ledger.record_metadata import RecordMetadata
from ledger.transactions import PutRecord, RegisterDevice, RekeyDevice, decode_transaction
from node.edge.device_ingest import DeviceIngest, IngestRefused
from node.edge.proofs import ItemNotFound, Verified, VerifiedTx
from node.edge.submit import (
    EdgeSubmit,
    EdgeSubmitReply,
    SubmitKind,
    SubmitRefused,
    submit_server,
)
from node.http.errors import InvalidInput

CHAIN = "device-ingest-test"
EDGE = "12D3KooWEdgeOne"
READING = b"heart rate 72 bpm\n" * 40


def _verified(tx: Any) -> VerifiedTx:
    return VerifiedTx(tx, tx.tx_id(), Verified(1, bytes(32), 0))


class FakeProofs:
    """Answers the device's transactions as proven; a tx is found once ``committed``."""

    def __init__(self, registration: RegisterDevice | None) -> None:
        self.registration = registration
        self.latest: RegisterDevice | RekeyDevice | None = registration
        self.committed: dict[bytes, Any] = {}

    async def fetch_device(self, device_id: bytes, *, latest_rekey: bool = False) -> VerifiedTx:
        if self.registration is None or device_id != self.registration.device_id:
            raise ItemNotFound("no such device")
        return _verified(self.latest if latest_rekey else self.registration)

    async def fetch_tx(self, tx_id: bytes) -> VerifiedTx:
        if tx_id not in self.committed:
            raise ItemNotFound("not committed")
        return _verified(self.committed[tx_id])


class FakeNodes:
    def __init__(self, proofs: FakeProofs, refuse: SubmitRefused | None = None) -> None:
        self.proofs = proofs
        self.refuse = refuse
        self.submitted: list[PutRecord] = []
        self.fragments: dict[bytes, Sequence[bytes]] = {}

    async def submit_tx(self, raw: bytes) -> bytes:
        if self.refuse is not None:
            raise self.refuse
        tx = decode_transaction(raw)
        assert isinstance(tx, PutRecord)
        self.submitted.append(tx)
        self.proofs.committed[tx.tx_id()] = tx
        return tx.tx_id()

    async def store_fragments(self, record_id: bytes, fragments: Sequence[bytes]) -> int:
        self.fragments[record_id] = fragments
        return len(fragments)


@dataclasses.dataclass
class World:
    group: Group
    device: Any
    domain: DomainSecretKey
    fame: FameMasterKey
    profile: DeviceProfile
    registration: RegisterDevice
    edge_key: SigningKey

    def upload(self, data: bytes = READING) -> DeviceUpload:
        return make_upload(self.group, self.profile, self.device, data, policy="role:doctor")


@pytest.fixture(scope="module")
def world() -> World:
    group = load_group("mcl")
    params = setup(group)
    device = device_keys(group, DeviceSecretKey.generate(params))
    domain = DomainSecretKey.generate(params)
    fame = fame_setup(group)
    owner = secrets.token_bytes(32)
    owner_tpre = UserSecretKey(group, group.random_scalar()).public_key()
    profile = DeviceProfile(
        1, CHAIN, device.device_id.hex(), owner.hex(), owner_tpre.to_bytes().hex(), EDGE,
        fame.public.to_bytes().hex(), 3, 4,
    )
    rekey = rekey_gen(params, device.secret, domain.public_key(params))
    registration = RegisterDevice(
        device.device_id, device.public_key, owner, EDGE, 0, rekey.to_bytes(), 1
    )
    return World(group, device, domain, fame, profile, registration, SigningKey.generate())


def make_ingest(
    world: World, proofs: FakeProofs, nodes: FakeNodes
) -> tuple[DeviceIngest, CollectorRegistry]:
    registry = CollectorRegistry()
    genesis = SimpleNamespace(chain_id=CHAIN, threshold=3, size=4)
    ingest = DeviceIngest(
        genesis, EDGE, world.edge_key, world.group, proofs, nodes, registry  # type: ignore[arg-type]
    )
    return ingest, registry


async def _ingest_until_stored(ingest: DeviceIngest, upload: Any) -> Any:
    refused: IngestRefused | None = None
    async with trio.open_nursery() as nursery:
        await nursery.start(ingest.run)
        try:
            state = await ingest.ingest(upload.device_id, upload.to_bytes())
        except IngestRefused as exc:
            refused = exc
        else:
            with trio.fail_after(30):
                while state.status not in ("stored", "failed"):
                    await trio.sleep(0.01)
                    state = ingest.upload(state.record_id) or state
        nursery.cancel_scope.cancel()
    if refused is not None:
        raise refused
    return state


def opens_to(world: World, put: PutRecord, domain: DomainSecretKey) -> RecordMetadata:
    """The record's metadata, opened as the nodes and a doctor together would."""
    params = setup(world.group)
    normalized = NormalizedCiphertext.from_bytes(params, put.domain_ciphertext)
    pre_part = decrypt_with_domain_key(params, domain, normalized, put.record_id)
    dual = DualRecord.from_bytes(put.abe_ciphertext, world.group)
    key = keygen(world.fame, ["role:doctor"])
    abe_part = recover_abe_part(world.fame.public, key, dual)
    metadata = RecordMetadata.from_bytes(open_record(dual, pre_part, abe_part))
    return metadata


def test_an_upload_is_normalized_signed_submitted_and_its_fragments_stored(world: World) -> None:
    proofs = FakeProofs(world.registration)
    nodes = FakeNodes(proofs)
    ingest, registry = make_ingest(world, proofs, nodes)
    upload = world.upload()
    state = trio.run(_ingest_until_stored, ingest, upload)
    assert (state.status, state.epoch, state.fragments_stored) == ("stored", 0, 4)
    [put] = nodes.submitted
    assert put.tx_id() == state.tx_id
    assert (put.record_id, put.owner, put.device_id) == (
        upload.record_id, upload.owner, upload.device_id
    )
    assert put.to_bytes()[1] == 3
    assert put.domain_epoch == 0
    put.verify_signature(world.edge_key.verify_key, CHAIN)
    metadata = opens_to(world, put, world.domain)
    fragments = nodes.fragments[upload.record_id]
    commitment = StorageCommitment.from_bytes(put.storage_commitments)
    bulk = rebuild(commitment, [Fragment.from_bytes(f) for f in fragments[:3]]).data
    assert aead.open_sealed(metadata.dek, bulk, put.record_id) == READING
    accepted = registry.get_sample_value("iomtshare_edge_device_uploads_accepted_total")
    assert accepted == 1.0


def test_after_a_rotation_the_latest_rekey_puts_the_record_under_the_new_epoch(
    world: World,
) -> None:
    params = setup(world.group)
    proofs = FakeProofs(world.registration)
    new_domain = DomainSecretKey.generate(params)
    rekey = rekey_gen(params, world.device.secret, new_domain.public_key(params))
    proofs.latest = RekeyDevice(world.device.device_id, 1, rekey.to_bytes(), 2)
    nodes = FakeNodes(proofs)
    ingest, _ = make_ingest(world, proofs, nodes)
    state = trio.run(_ingest_until_stored, ingest, world.upload())  # the same device key
    assert (state.status, state.epoch) == ("stored", 1)
    [put] = nodes.submitted
    assert put.domain_epoch == 1
    assert opens_to(world, put, new_domain).size == len(READING)


def _forged_proof(world: World, upload: DeviceUpload) -> DeviceUpload:
    """The device ciphertext re-made with a proof bound to another record id."""
    params = setup(world.group)
    context = record_context(secrets.token_bytes(32), upload.owner, CHAIN)
    public = world.device.secret.public_key(params)
    sealed = encrypt_dct(params, public, b"k" * 32, upload.record_id, context=context)
    return dataclasses.replace(upload, device_ciphertext=sealed.to_bytes())


def _resigned(world: World, upload: DeviceUpload, **changes: Any) -> bytes:
    """``upload`` changed and signed again by its device: only the later checks can refuse it."""
    changed = dataclasses.replace(upload, **changes)
    return changed.signed(setup(world.group), world.device.secret, CHAIN).to_bytes()


REFUSALS = {
    "too_large": lambda w, u: b"\x57" * (MAX_UPLOAD_BYTES + 1),
    "malformed": lambda w, u: b"not an upload",
    "unsigned_upload": lambda w, u: u.version_1_bytes(),
    "bad_device_signature": lambda w, u: dataclasses.replace(u, signature=b"junk").to_bytes(),
    "wrong_owner": lambda w, u: _resigned(w, u, owner=bytes(32)),
    "bad_ciphertext": lambda w, u: _resigned(w, u, device_ciphertext=b"junk"),
    "bad_proof": lambda w, u: _resigned(w, _forged_proof(w, u)),
    "bad_bulk": lambda w, u: _resigned(w, u, bulk=u.bulk + b"!"),
}


@pytest.mark.parametrize("code", sorted(REFUSALS))
def test_a_bad_upload_is_refused_typed_counted_and_not_submitted(world: World, code: str) -> None:
    proofs = FakeProofs(world.registration)
    nodes = FakeNodes(proofs)
    ingest, registry = make_ingest(world, proofs, nodes)
    body = REFUSALS[code](world, world.upload())
    with pytest.raises(IngestRefused) as refused:
        trio.run(_ingest_until_stored, ingest, _Raw(world.device.device_id, body))
    assert refused.value.code == code
    assert nodes.submitted == []
    value = registry.get_sample_value(
        "iomtshare_edge_device_uploads_refused_total", {"reason": code}
    )
    assert value == 1.0
    assert ingest.refused == {code: 1}


#: Fields changed in transit, each of which the device signature must catch.
TAMPERED = {
    "access_limit": lambda u: {"access_limit": 2**32 - 1},
    "policy": lambda u: {"policy": "role:doctor or role:anyone"},
    "bulk": lambda u: {"bulk": u.bulk[:-1] + bytes([u.bulk[-1] ^ 1])},
    "metadata_ciphertext": lambda u: {"metadata_ciphertext": u.metadata_ciphertext + b"!"},
    "keywords_hash": lambda u: {"keywords_hash": bytes(32)},
    "storage_commitment": lambda u: {"storage_commitment": u.storage_commitment[:-1] + b"!"},
    "abe_ciphertext": lambda u: {"abe_ciphertext": u.abe_ciphertext[:-1] + b"!"},
    "created_at_ms": lambda u: {"created_at_ms": u.created_at_ms + 1},
    "record_id": lambda u: {"record_id": secrets.token_bytes(32)},
}


def _refused_unsigned(
    world: World, upload: DeviceUpload
) -> tuple[DeviceIngest, FakeNodes, CollectorRegistry]:
    """Ingest ``upload`` on a fresh edge; it must be refused ``bad_device_signature``, with
    nothing submitted or kept."""
    proofs = FakeProofs(world.registration)
    nodes = FakeNodes(proofs)
    ingest, registry = make_ingest(world, proofs, nodes)
    with pytest.raises(IngestRefused) as refused:
        trio.run(_ingest_until_stored, ingest, upload)
    assert refused.value.code == "bad_device_signature"
    assert nodes.submitted == []
    assert ingest.upload(upload.record_id) is None
    return ingest, nodes, registry


@pytest.mark.parametrize("field", sorted(TAMPERED))
def test_a_field_changed_in_transit_fails_the_device_signature(world: World, field: str) -> None:
    upload = world.upload()
    changed = dataclasses.replace(upload, **TAMPERED[field](upload))
    assert getattr(changed, field) != getattr(upload, field)
    _, _, registry = _refused_unsigned(world, changed)
    value = registry.get_sample_value(
        "iomtshare_edge_device_uploads_refused_total", {"reason": "bad_device_signature"}
    )
    assert value == 1.0


def test_an_upload_built_from_chain_data_alone_is_refused(world: World) -> None:
    """The reviewer's forgery: everything an upload needs but the signature is public (the
    device key, owner, profile). Signed with any key but the device's, it is refused."""
    stranger = device_keys(world.group, DeviceSecretKey.generate(setup(world.group)))
    upload = make_upload(
        world.group, world.profile, dataclasses.replace(world.device, secret=stranger.secret),
        b"FORGED", policy="role:doctor or role:anyone", access_limit=2**32 - 1,
    )
    assert upload.device_id == world.device.device_id
    _refused_unsigned(world, upload)


def test_a_garbage_copy_cannot_take_the_record_id_before_the_real_upload(world: World) -> None:
    upload = world.upload()
    garbage = dataclasses.replace(upload, bulk=b"garbage", access_limit=2**32 - 1)
    ingest, nodes, _ = _refused_unsigned(world, garbage)
    state = trio.run(_ingest_until_stored, ingest, upload)
    assert state.status == "stored"
    [put] = nodes.submitted
    assert (put.record_id, put.access_limit) == (upload.record_id, upload.access_limit)


@dataclasses.dataclass
class _Raw:
    """Stands in for an upload whose bytes are given."""

    device_id: bytes
    body: bytes

    def to_bytes(self) -> bytes:
        return self.body


def test_unknown_and_foreign_devices_and_refusing_nodes(world: World) -> None:
    upload = world.upload()
    cases = [
        (FakeProofs(None), None, "unknown_device"),
        (FakeProofs(dataclasses.replace(world.registration, edge="12D3KooWOther")), None,
         "wrong_edge"),
        (FakeProofs(world.registration), SubmitRefused("invalid", "stale epoch"), "refused"),
        (FakeProofs(world.registration), SubmitRefused("unavailable", "none"), "unavailable"),
        (FakeProofs(world.registration), SubmitRefused("busy", "retry later"), "busy"),
    ]
    for proofs, refuse, code in cases:
        nodes = FakeNodes(proofs, refuse)
        ingest, _ = make_ingest(world, proofs, nodes)
        with pytest.raises(IngestRefused) as refused:
            trio.run(_ingest_until_stored, ingest, upload)
        assert refused.value.code == code, code
        assert nodes.submitted == []
        assert nodes.fragments == {}
    nodes = FakeNodes(FakeProofs(world.registration))
    ingest, _ = make_ingest(world, nodes.proofs, nodes)
    with pytest.raises(IngestRefused) as refused:  # the path names another device
        trio.run(ingest.ingest, bytes(32), upload.to_bytes())
    assert refused.value.code == "malformed"


class _Peer:
    def __init__(self, name: str) -> None:
        self.name = name

    def __str__(self) -> str:
        return self.name


class FakeTarget:
    def __init__(self) -> None:
        # No record committed: fragments go to the upload path, which answers for them
        # (which records an edge may hand over: test_edge_submit).
        self.ledger = SimpleNamespace(record=lambda record_id: None)
        self.txs: list[bytes] = []
        self.fragments: list[tuple[bytes, Sequence[bytes]]] = []

    async def submit_transaction(self, raw: bytes) -> str:
        if raw.endswith(b"stale"):
            raise InvalidInput("refused: stale", "invalid")
        self.txs.append(raw)
        return decode_transaction(raw).tx_id().hex()

    async def store_fragments(self, record_id: bytes, fragments: Sequence[bytes]) -> int:
        self.fragments.append((record_id, fragments))
        return len(fragments)


def test_the_submit_server_takes_device_records_from_genesis_edges_only(world: World) -> None:
    genesis = SimpleNamespace(edges=[SimpleNamespace(peer_id=EDGE)], size=4)
    target = FakeTarget()
    serve = submit_server(genesis, target)  # type: ignore[arg-type]
    put = PutRecord(
        record_id=bytes(32), owner=bytes(32), keywords_hash=bytes(32), policy="role:doctor",
        access_limit=1, metadata_ciphertext=b"m", storage_commitments=b"", abe_ciphertext=b"a",
        domain_epoch=0, domain_ciphertext=b"d", created_at_ms=1, device_id=bytes(range(32)),
    ).signed(world.edge_key, CHAIN)

    def ask(peer: str, request: EdgeSubmit | bytes) -> EdgeSubmitReply:
        payload = request if isinstance(request, bytes) else request.to_bytes()
        return EdgeSubmitReply.from_bytes(trio.run(serve, _Peer(peer), payload))

    tx_request = EdgeSubmit(SubmitKind.TRANSACTION, bytes(32), put.to_bytes(), ())
    assert ask("12D3KooWNode", tx_request).code == "not_edge"
    assert ask(EDGE, b"junk").code == "malformed"
    assert ask(EDGE, EdgeSubmit(7, bytes(32), b"", ())).code == "malformed"
    owners_put = dataclasses.replace(put, device_id=b"")
    not_device = EdgeSubmit(SubmitKind.TRANSACTION, bytes(32), owners_put.to_bytes(), ())
    assert ask(EDGE, not_device).code == "not_device_record"
    five = EdgeSubmit(SubmitKind.FRAGMENTS, bytes(32), b"", (b"a", b"b", b"c", b"d", b"e"))
    assert ask(EDGE, five).code == "bad_fragment"  # more than n, refused before decoding
    assert target.txs == []
    assert target.fragments == []
    accepted = ask(EDGE, tx_request)
    assert (accepted.code, accepted.tx_id) == ("ok", put.tx_id())
    four = EdgeSubmit(SubmitKind.FRAGMENTS, bytes(32), b"", (b"a", b"b", b"c", b"d"))
    assert ask(EDGE, four).stored == 4
    assert target.txs == [put.to_bytes()]
    assert len(target.fragments) == 1
