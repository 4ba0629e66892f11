"""The domain epoch the edge seals sensor records under, following the authority's rotations.

Nodes refuse a PutRecord under any domain epoch but the current one, and after
``authority rotate-domain-key`` that is no longer the genesis'. :class:`DomainEpochs` keeps the
current epoch and key: it asks a node for the rotation that dealt the current epoch (proof kind
``DOMAIN_ROTATION``, :meth:`~node.edge.proofs.ProofFetcher.fetch_rotation`), which comes proven
committed against the edge's own headers, and checks it as a client does
(:mod:`ledger.domain_rotation`: signed by the genesis authority, ``VK_i`` on one polynomial
through the public key). A not-found from every node means the genesis epoch is current. That a
rotation is the *latest* is the node's word; the epoch never goes back, and a node that
withholds a rotation only gets the record refused, after which the edge asks again.

The epoch is asked for at most every :data:`REFRESH_SECONDS`, and at once when the nodes refuse
a submission (``current(force=True)``). Before sealing, :meth:`DomainEpochs.check_device` makes
sure the sensor's on-chain device has a ReKey for the epoch (the ledger refuses a device record
otherwise) and raises :class:`DeviceNotRekeyed` when the authority has not rekeyed it yet.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from crypto.groups import Group
from ledger.domain_rotation import RotationRejected, checked_rotation, domain_public_key
from ledger.genesis import Genesis
from ledger.transactions import RegisterDevice, RekeyDevice
from node.edge.proofs import ItemNotFound, ProofError, VerifiedTx
from node.edge.sensor_ingest import NetworkKeys

logger = logging.getLogger("iomtshare.node.edge.sensors")

#: How often the edge asks for the current epoch when nothing was refused.
REFRESH_SECONDS = 60.0


class EpochProofs(Protocol):
    """What :class:`DomainEpochs` asks of a :class:`~node.edge.proofs.ProofFetcher`."""

    async def fetch_rotation(self) -> VerifiedTx: ...

    async def fetch_device(self, device_id: bytes, *, latest_rekey: bool = False) -> VerifiedTx: ...


class DeviceNotRekeyed(Exception):
    """The sensor's device has no ReKey on chain for the epoch records must use."""


@dataclass(frozen=True, slots=True)
class Follow:
    """Where rotations are learnt (``proofs``) and what they are checked against."""

    proofs: EpochProofs
    genesis: Genesis
    group: Group


class DomainEpochs:
    """The current domain epoch and key, starting from ``genesis_keys``; without ``follow``
    the genesis epoch for good (an edge without nodes, as in unit tests)."""

    def __init__(
        self, genesis_keys: NetworkKeys, follow: Follow | None = None, *,
        refresh_seconds: float = REFRESH_SECONDS, clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.follow = follow
        self.keys = genesis_keys
        self._refresh, self._clock = refresh_seconds, clock
        self._next: float | None = None
        #: The highest epoch each device was seen rekeyed for.
        self._rekeyed: dict[bytes, int] = {}

    async def current(self, *, force: bool = False) -> NetworkKeys:
        """The epoch and key to seal under, asked for again when ``force`` or when the last ask
        is :data:`REFRESH_SECONDS` old. A failed ask keeps the known epoch (logged)."""
        now = self._clock()
        follow = self.follow
        if follow is None or not (force or self._next is None or now >= self._next):
            return self.keys
        self._next = now + self._refresh
        try:
            proven = await follow.proofs.fetch_rotation()
            rotation = checked_rotation(follow.genesis, proven.transaction)
            public = domain_public_key(rotation.domain, follow.group)
        except ItemNotFound:
            return self.keys  # no rotation committed: the genesis epoch (or one known already)
        except (ProofError, RotationRejected) as exc:
            logger.warning("domain epoch not refreshed: %s", exc)
            return self.keys
        if rotation.domain.epoch > self.keys.epoch:
            logger.info("sensor records now sealed under domain epoch %d", rotation.domain.epoch)
            self.keys = NetworkKeys(self.keys.fame, rotation.domain.epoch, public)
        return self.keys

    async def check_device(self, device_id: bytes, epoch: int) -> None:
        """Raise :class:`DeviceNotRekeyed` unless the device's latest ReKey on chain is for
        ``epoch`` or later; :class:`~node.edge.proofs.ProofError` if no node proves it."""
        if self.follow is None or self._rekeyed.get(device_id, -1) >= epoch:
            return
        latest = (await self.follow.proofs.fetch_device(device_id, latest_rekey=True)).transaction
        assert isinstance(latest, (RegisterDevice, RekeyDevice))  # fetch_device checked it
        self._rekeyed[device_id] = latest.domain_epoch
        if latest.domain_epoch < epoch:
            raise DeviceNotRekeyed(
                f"device {device_id.hex()} has a ReKey for domain epoch {latest.domain_epoch} at "
                f"most, records must use epoch {epoch}: the authority must run "
                "`authority rekey-device` for it"
            )
