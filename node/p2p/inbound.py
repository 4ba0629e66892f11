"""Who may have how many inbound requests in flight at once.

Every request protocol of a host draws from one pool of slots. Validators share the whole
pool; a light peer (admitted by the allowlist but not a validator, such as a genesis edge) may
hold only a few slots at once, so it cannot keep the validators' own requests (fragment put and
get) answered "busy". A slot is taken before the request frame is read and given back when the
request is answered or dropped.
"""

from __future__ import annotations

from collections.abc import Container

from libp2p.peer.id import ID


class InboundSlots:
    """Counts in-flight inbound requests, in total and per light peer."""

    def __init__(self, total: int, per_light_peer: int, validators: Container[ID]) -> None:
        self._free = total
        self._per_light_peer = per_light_peer
        self._validators = validators
        self._held: dict[ID, int] = {}

    def take(self, peer: ID) -> str | None:
        """Take a slot for ``peer``; ``None`` when taken, else why not (``busy`` when the pool is
        empty, ``peer-busy`` when a light peer already holds its share)."""
        held = self._held.get(peer, 0)
        if peer not in self._validators and held >= self._per_light_peer:
            return "peer-busy"
        if self._free == 0:
            return "busy"
        self._free -= 1
        self._held[peer] = held + 1
        return None

    def give_back(self, peer: ID) -> None:
        """Return a slot :meth:`take` gave ``peer``."""
        self._free += 1
        held = self._held.pop(peer) - 1
        if held:
            self._held[peer] = held
