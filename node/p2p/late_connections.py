"""libp2p's shutdown race, logged as one line instead of a traceback.

Closing the listener first (see ``P2PHost._close_network``) stops new connections, but one
the listener accepted a moment earlier may still be in its Noise handshake. When the handshake
completes the swarm's task manager has already stopped, and libp2p logs the refused
registration as a warning with a ``LifecycleError`` traceback. Nothing is lost (the peer dials
again when we are back), so the record is replaced by one info line of ours.
"""

from __future__ import annotations

import logging

from libp2p.tools.anyio_service.exceptions import LifecycleError

logger = logging.getLogger("iomtshare.node.p2p.host")

#: The libp2p logger that reports a connection it could not register.
SWARM_LOGGER = "libp2p.network.swarm"
_MARK = "[ADDCONN_FAIL]"


class LateConnectionFilter(logging.Filter):
    """Drops the swarm's ``add_conn`` warning when the cause is a stopped task manager."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not (isinstance(record.msg, str) and record.msg.startswith(_MARK)):
            return True
        args = record.args if isinstance(record.args, tuple) else ()
        if not any(isinstance(arg, LifecycleError) for arg in args):
            return True
        peer = args[0] if args else None
        logger.info("late connection dropped peer=%s reason=host stopping", peer)
        return False


def install() -> None:
    """Attach the filter to libp2p's swarm logger once per process."""
    swarm = logging.getLogger(SWARM_LOGGER)
    if not any(isinstance(f, LateConnectionFilter) for f in swarm.filters):
        swarm.addFilter(LateConnectionFilter())
