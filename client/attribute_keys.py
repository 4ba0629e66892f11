"""Members' attribute keys: FAME secret keys for their current attributes, issued by the authority.

The authority, holding the FAME master key offline, asks a node for the member's latest link of
the attribute-change chain (``GET /members/{id}/attributes``) and its registered box key
(``GET /members/{id}``), makes a FAME key for exactly those attributes, seals it to the member's
box key and signs the result: an :class:`IssuedAttributeKey`. It names the chain link it was made
for, so a key made before an attribute change is recognisably stale; the authority issues a new
one after each change (the node-side check of the latest attributes is what denies a revoked
attribute; a new key is what stops the member decrypting new records with the old set).

The authority publishes the issued key on chain (:func:`publish_attribute_key`, an
authority-signed :class:`~ledger.transactions.PublishAttributeKey`, refused unless it names the
member's current chain link), and any node serves the latest one
(``GET /members/{id}/attribute-key``): the member's client fetches and checks its own with
:func:`fetch_attribute_key` and opens it with its box key when it decrypts a policy record. The
sealed key is public on chain, like the sealed re-key shares of a grant: only the member's box
key opens it. A copy may also be kept in the member's key store (``MEMBER/attribute_key``,
:mod:`client.keystore`).

The authority should ask a node it trusts (its own): the attributes come from that node's
answer, which is not proved against a block header here.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from client.errors import ClientError, IntegrityError, NodeError
from client.session import DEFAULT_COMMIT_TIMEOUT, Session, now_ms
from crypto import tags
from crypto.abe import FameMasterKey, FameSecretKey, keygen
from crypto.codec import Reader, Writer, parse
from crypto.errors import CryptoError, DecodeError
from crypto.groups import Group
from crypto.hashing import DIGEST_SIZE, digest
from crypto.policy import PolicyError
from crypto.sealing import BoxPublicKey, BoxSecretKey
from crypto.signing import SigningKey, VerifyKey
from ledger.transactions import PublishAttributeKey

ISSUED_KEY_TYPE_TAG = tags.CLIENT_ATTRIBUTE_KEY
ISSUED_KEY_VERSION = 1
SIGNING_TAG = b"iomtshare/client/attribute-key/v1"
SIGNATURE_SIZE = 64
MAX_ATTRIBUTES = 4096
MAX_SEALED_KEY = 4 * 1024 * 1024


class AttributeKeyError(ClientError):
    """An attribute key cannot be issued or opened: no FAME key in the genesis, a master key of
    another network, an attribute name FAME refuses, or an issued key that is not this
    member's, not signed by the authority or does not open."""


class NoPublishedKey(AttributeKeyError):
    """No attribute key is published on chain for the member (yet)."""


@dataclass(frozen=True, slots=True)
class IssuedAttributeKey:
    """A member's FAME key sealed to its box key, for one link of its attribute chain.

    ``attribute_seq`` and ``attribute_head`` are the sequence number and hash of the chain link
    whose ``attributes`` the key carries; ``signature`` is the authority's Ed25519 signature over
    everything else (:meth:`signing_payload`), bound to the chain.
    """

    chain_id: str
    member_id: bytes
    attribute_seq: int
    attribute_head: bytes
    attributes: tuple[str, ...]
    sealed_key: bytes
    signature: bytes = b""

    def __post_init__(self) -> None:
        if len(self.member_id) != DIGEST_SIZE or len(self.attribute_head) != DIGEST_SIZE:
            raise DecodeError(f"issued attribute key: ids are {DIGEST_SIZE} bytes")
        if not 0 <= self.attribute_seq < 1 << 32:
            raise DecodeError("issued attribute key: attribute_seq out of range")
        if list(self.attributes) != sorted(set(self.attributes)):
            raise DecodeError("issued attribute key: attributes are not sorted and distinct")
        if len(self.signature) not in (0, SIGNATURE_SIZE):
            raise DecodeError(f"issued attribute key: a signature is {SIGNATURE_SIZE} bytes")

    def _write_body(self, writer: Writer) -> Writer:
        writer.text(self.chain_id).fixed(self.member_id, DIGEST_SIZE).u32(self.attribute_seq)
        writer.fixed(self.attribute_head, DIGEST_SIZE)
        writer.seq(self.attributes, lambda w, name: w.text(name))
        return writer.blob(self.sealed_key)

    def signing_payload(self) -> bytes:
        return digest(SIGNING_TAG, self._write_body(Writer()).to_bytes())

    def signed(self, authority: SigningKey) -> IssuedAttributeKey:
        return replace(self, signature=authority.sign(self.signing_payload()))

    def verify(self, authority: VerifyKey) -> None:
        """Raise :class:`AttributeKeyError` unless ``authority`` signed this key."""
        try:
            authority.verify(self.signing_payload(), self.signature)
        except (CryptoError, ValueError) as exc:
            raise AttributeKeyError("the attribute key is not signed by the authority") from exc

    def to_bytes(self) -> bytes:
        writer = self._write_body(Writer(ISSUED_KEY_TYPE_TAG, ISSUED_KEY_VERSION))
        return writer.fixed(self.signature, SIGNATURE_SIZE).to_bytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> IssuedAttributeKey:
        """Decode :meth:`to_bytes` (a signed key); raises :class:`DecodeError`."""

        def body(reader: Reader) -> IssuedAttributeKey:
            reader.expect_header(ISSUED_KEY_TYPE_TAG, ISSUED_KEY_VERSION)
            chain_id = reader.text()
            member_id = reader.fixed(DIGEST_SIZE)
            seq = reader.u32()
            head = reader.fixed(DIGEST_SIZE)
            attributes = tuple(reader.seq(lambda r: r.text(256), MAX_ATTRIBUTES))
            sealed = reader.blob(MAX_SEALED_KEY)
            signature = reader.fixed(SIGNATURE_SIZE)
            return cls(chain_id, member_id, seq, head, attributes, sealed, signature)

        return parse(data, "issued attribute key", body)

    def open(self, box_key: BoxSecretKey, group: Group) -> FameSecretKey:
        """The FAME key inside; raises :class:`AttributeKeyError` if it does not open with
        ``box_key`` or carries other attributes than the issued file names."""
        try:
            key = FameSecretKey.from_bytes(box_key.unseal(self.sealed_key), group)
        except CryptoError as exc:
            raise AttributeKeyError(f"the attribute key does not open: {exc}") from exc
        if key.attributes != frozenset(self.attributes):
            raise AttributeKeyError("the attribute key carries other attributes than it names")
        return key

    def __repr__(self) -> str:
        return (
            f"IssuedAttributeKey(member_id={self.member_id.hex()[:16]}…, "
            f"seq={self.attribute_seq}, attributes={list(self.attributes)})"
        )


def _hex(value: Any, size: int, what: str) -> bytes:
    try:
        raw = bytes.fromhex(str(value))
    except ValueError:
        raw = b""
    if len(raw) != size:
        raise IntegrityError(f"the node's member answer has a malformed {what}")
    return raw


def issue_attribute_key(
    session: Session, authority: SigningKey, master: FameMasterKey, member_id: bytes
) -> IssuedAttributeKey:
    """A signed key for ``member_id``'s current attributes, sealed to its box key.

    Raises :class:`IntegrityError` if ``authority`` is not the genesis authority or the node's
    answers are malformed or disagree, :class:`AttributeKeyError` if the genesis has no FAME key,
    ``master`` is not its master key, or an attribute is not a valid policy attribute name, and
    the client's errors for an unknown member or an unreachable node.
    """
    genesis = session.genesis
    if authority.verify_key.raw != genesis.authority_key:
        raise IntegrityError("this key is not the authority named in the node's genesis")
    if genesis.fame_public_key is None:
        raise AttributeKeyError(
            "the network's genesis has no FAME public key (it was assembled without the "
            "authority's key ceremony)"
        )
    if master.public.to_bytes() != genesis.fame_public_key:
        raise AttributeKeyError("this FAME master key is not the one of the network's genesis")
    member = session.client.member(member_id.hex())
    history = session.client.attributes(member_id.hex())
    if not history:
        raise IntegrityError("the node's attribute history of the member is empty")
    latest = max(history, key=lambda link: int(link.get("seq", -1)))
    try:
        attributes = tuple(sorted({str(a) for a in latest["attributes"]}))
        seq = int(latest["seq"])
        current = tuple(sorted({str(a) for a in member["attributes"]}))
    except (KeyError, TypeError, ValueError) as exc:
        raise IntegrityError(f"malformed attribute answer from the node: {exc!r}") from exc
    if attributes != current:
        raise IntegrityError("the node's member and attribute-history answers disagree")
    head = _hex(latest.get("hash"), DIGEST_SIZE, "attribute-chain hash")
    box = BoxPublicKey(_hex(member.get("box_key"), 32, "box key"))
    try:
        key = keygen(master, attributes)
    except PolicyError as exc:
        raise AttributeKeyError(f"cannot make an attribute key: {exc}") from exc
    issued = IssuedAttributeKey(
        genesis.chain_id, member_id, seq, head, attributes, box.seal(key.to_bytes())
    )
    return issued.signed(authority)


def publish_attribute_key(
    session: Session,
    authority: SigningKey,
    issued: IssuedAttributeKey,
    *,
    wait: bool = True,
    timeout: float = DEFAULT_COMMIT_TIMEOUT,
) -> dict[str, Any]:
    """Publish ``issued`` on chain (authority-signed) and by default wait for its commit.

    Returns ``{"tx_id", "member_id", "attribute_seq"}`` (and ``height`` when waited for). The
    node refuses it if the member's attributes changed since the key was made (issue it again).
    """
    tx = PublishAttributeKey(
        member_id=issued.member_id,
        attribute_seq=issued.attribute_seq,
        attribute_head=issued.attribute_head,
        issued_key=issued.to_bytes(),
        issued_at_ms=now_ms(),
    )
    tx_id = session.submit(session.sign(tx, authority))
    out: dict[str, Any] = {
        "tx_id": tx_id, "member_id": issued.member_id.hex(), "attribute_seq": issued.attribute_seq
    }
    if wait:
        out["height"] = session.wait_committed(tx_id, timeout).get("height")
    return out


def fetch_attribute_key(session: Session, member_id: bytes) -> IssuedAttributeKey:
    """The latest attribute key published for ``member_id``, as a node serves it, checked: signed
    by the genesis authority, for this chain and member, and naming the chain link the ledger
    stored it under. Open it with :meth:`IssuedAttributeKey.open`.

    Raises :class:`NoPublishedKey` if none is published, :class:`AttributeKeyError` if the key
    fails a check, and the client's errors for an unreachable node.
    """
    try:
        answer = session.client.attribute_key(member_id.hex())
    except NodeError as exc:
        if exc.status == 404:
            raise NoPublishedKey(
                f"no attribute key is published for member {member_id.hex()[:16]}…: the "
                "authority issues one (`iomtshare authority issue-keys`)"
            ) from exc
        raise
    try:
        issued = IssuedAttributeKey.from_bytes(bytes.fromhex(str(answer["issued_key"])))
        stored_under = (int(answer["attribute_seq"]), bytes.fromhex(str(answer["attribute_head"])))
    except (KeyError, TypeError, ValueError, DecodeError) as exc:
        raise AttributeKeyError(f"the node's attribute key answer is malformed: {exc}") from exc
    issued.verify(VerifyKey(session.genesis.authority_key))
    if issued.chain_id != session.chain_id or issued.member_id != member_id:
        raise AttributeKeyError("the published attribute key is for another chain or member")
    if (issued.attribute_seq, issued.attribute_head) != stored_under:
        raise AttributeKeyError("the published attribute key names another chain link")
    return issued
