"""A member's local key store: one directory per member, written like a node home.

Layout::

    MEMBER/member_key    32-byte Ed25519 seed: signs the member's transactions and data requests
    MEMBER/box_key       32-byte X25519 secret (registered on chain; reserved for sealed replies)
    MEMBER/tpre_key      the threshold-PRE secret (crypto.tpre UserSecretKey canonical bytes)
    MEMBER/member.json   the public half: member id, keys, TPRE public key, suggested role
    MEMBER/attribute_key the FAME attribute key the authority issued for the member's current
                         attributes, sealed to box_key and signed (client.attribute_keys)

Secret files are mode 0600 and replaced atomically (:mod:`ledger.keyfiles`, as in node homes);
``member.json`` is what a member hands the authority to be registered. Errors are
:class:`KeyStoreError`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from client.attribute_keys import AttributeKeyError, IssuedAttributeKey
from client.errors import KeyStoreError
from crypto.abe import FameSecretKey
from crypto.errors import DecodeError
from crypto.groups import Group
from crypto.sealing import BoxSecretKey
from crypto.signing import SigningKey
from crypto.tpre import UserPublicKey, UserSecretKey, generate_user_key
from ledger.keyfiles import KeyFileError, load_secret, save_secret, write_atomic
from ledger.transactions import MemberRole, member_id_for

SIGNING_KEY_FILE = "member_key"
BOX_KEY_FILE = "box_key"
TPRE_KEY_FILE = "tpre_key"
ATTRIBUTE_KEY_FILE = "attribute_key"
PUBLIC_FILE = "member.json"
MEMBER_FILE_VERSION = 1

ROLE_NAMES: dict[str, MemberRole] = {role.name.lower(): role for role in MemberRole}


def parse_role(name: str) -> MemberRole:
    """``owner``/``requester``/``device``/``edge`` -> :class:`MemberRole`; raises ValueError."""
    try:
        return ROLE_NAMES[name.strip().lower()]
    except KeyError as exc:
        raise ValueError(f"unknown role {name!r}; choose one of {', '.join(ROLE_NAMES)}") from exc


@dataclass(frozen=True, slots=True)
class MemberPublic:
    """What everyone may know about a member (the content of ``member.json``)."""

    member_id: bytes
    verify_key: bytes
    box_key: bytes
    tpre_public_key: bytes
    role: MemberRole

    def to_json(self) -> dict[str, Any]:
        return {
            "version": MEMBER_FILE_VERSION,
            "member_id": self.member_id.hex(),
            "verify_key": self.verify_key.hex(),
            "box_key": self.box_key.hex(),
            "tpre_public_key": self.tpre_public_key.hex(),
            "role": self.role.name.lower(),
        }

    @classmethod
    def from_json(cls, document: Any) -> MemberPublic:
        """Parse :meth:`to_json`; raises :class:`KeyStoreError` on anything malformed."""
        try:
            if document["version"] != MEMBER_FILE_VERSION:
                raise KeyStoreError(f"member file version {document['version']!r} unsupported")
            public = cls(
                member_id=bytes.fromhex(document["member_id"]),
                verify_key=bytes.fromhex(document["verify_key"]),
                box_key=bytes.fromhex(document["box_key"]),
                tpre_public_key=bytes.fromhex(document["tpre_public_key"]),
                role=parse_role(document["role"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise KeyStoreError(f"malformed member file: {exc!r}") from exc
        if len(public.verify_key) != 32 or len(public.box_key) != 32:
            raise KeyStoreError("member file: keys must be 32 bytes")
        if public.member_id != member_id_for(public.verify_key):
            raise KeyStoreError("member file: member id does not match its verify key")
        return public

    @classmethod
    def load(cls, path: str | Path) -> MemberPublic:
        target = Path(path)
        if target.is_dir():
            target = target / PUBLIC_FILE
        try:
            document = json.loads(target.read_text(encoding="utf-8"))
        except OSError as exc:
            raise KeyStoreError(f"cannot read {target}: {exc.strerror}") from exc
        except json.JSONDecodeError as exc:
            raise KeyStoreError(f"{target} is not valid JSON: {exc}") from exc
        return cls.from_json(document)


class MemberKeys:
    """A member's three secrets. The repr shows only the member id."""

    __slots__ = ("box_key", "role", "signing_key", "tpre_secret")

    def __init__(
        self,
        signing_key: SigningKey,
        box_key: BoxSecretKey,
        tpre_secret: UserSecretKey,
        role: MemberRole = MemberRole.OWNER,
    ) -> None:
        self.signing_key = signing_key
        self.box_key = box_key
        self.tpre_secret = tpre_secret
        self.role = role

    @classmethod
    def generate(cls, group: Group, role: MemberRole = MemberRole.OWNER) -> MemberKeys:
        return cls(SigningKey.generate(), BoxSecretKey.generate(), generate_user_key(group), role)

    @property
    def member_id(self) -> bytes:
        return member_id_for(self.signing_key.verify_key)

    @property
    def tpre_public_key(self) -> UserPublicKey:
        return self.tpre_secret.public_key()

    def public(self) -> MemberPublic:
        return MemberPublic(
            member_id=self.member_id,
            verify_key=self.signing_key.verify_key.raw,
            box_key=self.box_key.public_key.raw,
            tpre_public_key=self.tpre_public_key.to_bytes(),
            role=self.role,
        )

    def __repr__(self) -> str:
        return f"MemberKeys(member_id={self.member_id.hex()[:16]}…)"


def save_member(directory: str | Path, keys: MemberKeys, *, overwrite: bool = False) -> Path:
    """Write ``keys`` into ``directory``; refuses to replace existing keys unless ``overwrite``.

    Returns the path of ``member.json``. Raises :class:`KeyStoreError`.
    """
    root = Path(directory)
    if (root / SIGNING_KEY_FILE).exists() and not overwrite:
        raise KeyStoreError(f"{root} already holds member keys; refusing to overwrite")
    try:
        save_secret(root / SIGNING_KEY_FILE, keys.signing_key.seed())
        save_secret(root / BOX_KEY_FILE, keys.box_key.secret_bytes())
        write_atomic(root / TPRE_KEY_FILE, keys.tpre_secret.to_bytes(), mode=0o600)
        text = json.dumps(keys.public().to_json(), indent=2) + "\n"
        write_atomic(root / PUBLIC_FILE, text.encode())
    except (OSError, KeyFileError) as exc:
        raise KeyStoreError(f"cannot write member keys to {root}: {exc}") from exc
    return root / PUBLIC_FILE


def load_member(directory: str | Path, group: Group) -> MemberKeys:
    """Read the keys written by :func:`save_member`; raises :class:`KeyStoreError`."""
    root = Path(directory)
    public = MemberPublic.load(root)
    try:
        signing = SigningKey(load_secret(root / SIGNING_KEY_FILE))
        box = BoxSecretKey(load_secret(root / BOX_KEY_FILE))
        tpre = UserSecretKey.from_bytes(group, (root / TPRE_KEY_FILE).read_bytes())
    except KeyFileError as exc:
        raise KeyStoreError(str(exc)) from exc
    except OSError as exc:
        raise KeyStoreError(f"cannot read {root / TPRE_KEY_FILE}: {exc.strerror}") from exc
    except DecodeError as exc:
        raise KeyStoreError(f"{root}: malformed key file: {exc}") from exc
    keys = MemberKeys(signing, box, tpre, public.role)
    if keys.public() != public:
        raise KeyStoreError(f"{root}: member.json does not match the key files")
    return keys


def save_issued_key(path: str | Path, issued: IssuedAttributeKey) -> Path:
    """Write an issued attribute key to ``path`` (a member directory means its
    ``attribute_key``), mode 0600, replacing any. Returns the file's path.

    The authority writes it without opening it (it has no box secret); the member's client
    checks it when it loads it. Raises :class:`KeyStoreError`.
    """
    target = Path(path)
    if target.is_dir():
        target = target / ATTRIBUTE_KEY_FILE
    try:
        write_atomic(target, issued.to_bytes(), mode=0o600)
    except OSError as exc:
        raise KeyStoreError(f"cannot write {target}: {exc}") from exc
    return target


def load_attribute_key(
    directory: str | Path, keys: MemberKeys, group: Group
) -> tuple[IssuedAttributeKey, FameSecretKey]:
    """The member's issued attribute key and the FAME key inside it.

    Checks that it is this member's and opens with its box key; the authority's signature is
    checked with :meth:`IssuedAttributeKey.verify` by a caller that knows the genesis. Raises
    :class:`KeyStoreError` if there is none or it is malformed, and
    :class:`~client.attribute_keys.AttributeKeyError` if it is another member's or does not open.
    """
    path = Path(directory) / ATTRIBUTE_KEY_FILE
    try:
        issued = IssuedAttributeKey.from_bytes(path.read_bytes())
    except FileNotFoundError as exc:
        raise KeyStoreError(
            f"no attribute key in {Path(directory)}: the authority issues one "
            "(`iomtshare authority issue-keys`)"
        ) from exc
    except OSError as exc:
        raise KeyStoreError(f"cannot read {path}: {exc.strerror}") from exc
    except DecodeError as exc:
        raise KeyStoreError(f"{path} is not an issued attribute key: {exc}") from exc
    if issued.member_id != keys.member_id:
        raise AttributeKeyError(
            f"{path} was issued to member {issued.member_id.hex()[:16]}…, not to "
            f"{keys.member_id.hex()[:16]}…"
        )
    return issued, issued.open(keys.box_key, group)
