"""A client session: one node, the pairing group, the chain's genesis and transaction helpers.

Flows (:mod:`client.authority`, :mod:`client.owner`, :mod:`client.requester`) take a
:class:`Session`, so one HTTP connection pool and one fetched genesis serve many calls.
"""

from __future__ import annotations

import time
from typing import Any, TypeVar

from client.errors import ConnectionFailed, IntegrityError, NodeError, WaitTimeout
from client.http import MAX_SERVER_WAIT, NodeClient
from crypto.errors import CryptoError
from crypto.groups import Group
from crypto.hashing import DIGEST_SIZE
from crypto.sealing import BoxPublicKey
from crypto.signing import SigningKey
from crypto.tpre import UserPublicKey
from ledger.genesis import Genesis
from ledger.transactions import PutRecord, Transaction, decode_transaction, tx_id_of

T = TypeVar("T", bound=Transaction)

#: Pause before asking again after an unreachable node or a not-yet-known id.
RETRY_PAUSE = 0.2

#: How long flows wait for a transaction to commit unless told otherwise.
DEFAULT_COMMIT_TIMEOUT = 30.0


def now_ms() -> int:
    """Wall-clock milliseconds since the Unix epoch (what transactions carry)."""
    return time.time_ns() // 1_000_000


class Session:
    """Flows run against ``client`` with ``group``; the genesis is fetched once, on first use."""

    def __init__(self, client: NodeClient, group: Group) -> None:
        self.client = client
        self.group = group
        self._genesis: Genesis | None = None
        self._records: dict[bytes, dict[str, Any]] = {}
        self._puts: dict[bytes, PutRecord] = {}

    def record(self, record_id: bytes) -> dict[str, Any]:
        """The node's answer for a committed record, asked once per session: what a PutRecord
        published (keywords hash, policy, ciphertexts) never changes."""
        known = self._records.get(record_id)
        if known is None:
            known = self._records[record_id] = self.client.record(record_id.hex())
        return known

    def committed_put(self, record_id: bytes) -> PutRecord:
        """The PutRecord that published ``record_id``, as committed (``GET /tx/{tx_id}`` of the
        record's transaction; asked once per session), its id and record id checked.

        Raises :class:`IntegrityError` for an answer that is malformed or is not that record's
        PutRecord.
        """
        known = self._puts.get(record_id)
        if known is not None:
            return known
        try:
            tx_id = bytes.fromhex(str(self.record(record_id)["tx_id"]))
            raw = bytes.fromhex(str(self.client.tx(tx_id.hex())["raw"]))
            tx = decode_transaction(raw)
        except (KeyError, TypeError, ValueError) as exc:  # DecodeError is a ValueError
            raise IntegrityError(f"malformed record transaction answer: {exc!r}") from exc
        if not isinstance(tx, PutRecord) or tx_id_of(raw) != tx_id or tx.record_id != record_id:
            raise IntegrityError(
                f"the node's transaction for record {record_id.hex()[:16]}… is not its PutRecord"
            )
        self._puts[record_id] = tx
        return tx

    def keywords_hash(self, record_id: bytes) -> bytes:
        """A record's keywords hash (:meth:`record`). Raises :class:`IntegrityError` for a
        malformed answer."""
        record = self.record(record_id)
        try:
            value = bytes.fromhex(record["keywords_hash"])
        except (KeyError, TypeError, ValueError) as exc:
            raise IntegrityError(f"malformed record answer: {exc!r}") from exc
        if len(value) != DIGEST_SIZE:
            raise IntegrityError("malformed record answer: keywords hash of the wrong size")
        return value

    @property
    def genesis(self) -> Genesis:
        """The genesis the node serves; raises :class:`IntegrityError` if it does not parse."""
        if self._genesis is None:
            document = self.client.genesis()
            try:
                self._genesis = Genesis.from_json(document)
            except (KeyError, TypeError, ValueError) as exc:
                raise IntegrityError(f"the node serves a malformed genesis: {exc!r}") from exc
        return self._genesis

    @property
    def chain_id(self) -> str:
        return self.genesis.chain_id

    def node_box_keys(self) -> list[BoxPublicKey]:
        """X25519 keys of nodes 1..n, in index order (where grants seal re-key shares)."""
        return [node.box_public_key() for node in self.genesis.nodes]

    def sign(self, tx: T, key: SigningKey) -> T:
        return tx.signed(key, self.chain_id)

    def submit(self, tx: Transaction) -> str:
        """POST a signed transaction; returns its id (hex)."""
        return self.client.submit_tx(tx.to_bytes())

    def wait_committed(self, tx_id: str, timeout: float = DEFAULT_COMMIT_TIMEOUT) -> dict[str, Any]:
        """Wait until ``tx_id`` is in a committed block and return the node's view of it.

        Raises :class:`WaitTimeout` if it is not committed within ``timeout`` seconds (the
        transaction may have been refused when its block was built, or still be pending).
        """
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise WaitTimeout(
                    f"transaction {tx_id[:16]}… not committed within {timeout:g} s "
                    "(refused by the block builder, or the network is stalled)"
                )
            try:
                return self.client.tx(tx_id, wait=min(remaining, MAX_SERVER_WAIT))
            except NodeError as exc:
                if exc.code != "not_found":
                    raise
            except ConnectionFailed:
                if time.monotonic() >= deadline:
                    raise
                # A refused connection fails at once; do not spin while the node restarts.
                time.sleep(RETRY_PAUSE)

    def submit_and_wait(
        self, tx: Transaction, timeout: float = DEFAULT_COMMIT_TIMEOUT
    ) -> dict[str, Any]:
        return self.wait_committed(self.submit(tx), timeout)

    def member_tpre_key(self, member_id: bytes) -> UserPublicKey:
        """The TPRE public key a member published on chain, validated.

        Raises :class:`IntegrityError` if the member published none or an invalid one.
        """
        member = self.client.member(member_id.hex())
        try:
            material = bytes.fromhex(str(member.get("tpre_public_key") or ""))
        except ValueError as exc:
            raise IntegrityError("the node's member answer has a malformed TPRE key") from exc
        if not material:
            raise IntegrityError(
                f"member {member_id.hex()[:16]}… has not published a TPRE key "
                "(run `iomtshare client publish-key` as that member)"
            )
        return validated_tpre_key(self.group, material)


def validated_tpre_key(group: Group, material: bytes) -> UserPublicKey:
    """Decode and check a TPRE public key; raises :class:`IntegrityError`."""
    try:
        key = UserPublicKey.from_bytes(group, material)
        key.validate(group)
    except CryptoError as exc:
        raise IntegrityError(f"invalid TPRE public key: {exc}") from exc
    return key
