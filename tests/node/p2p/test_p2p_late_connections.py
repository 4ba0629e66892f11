"""libp2p's refused late registration at shutdown is one info line, not a traceback."""

from __future__ import annotations

import logging

import pytest
from libp2p.tools.anyio_service.exceptions import LifecycleError

from node.p2p.late_connections import SWARM_LOGGER, install

ADDCONN = "[ADDCONN_FAIL] add_conn failed for peer %s: %r\n%s"


def test_a_stopped_manager_refusal_becomes_one_line(caplog: pytest.LogCaptureFixture) -> None:
    install()
    install()  # once per process, however often a host starts
    swarm = logging.getLogger(SWARM_LOGGER)
    assert len(swarm.filters) == 1
    with caplog.at_level(logging.INFO):
        swarm.warning(ADDCONN, "12D3KooWpeer", LifecycleError("stopped"), "Traceback ...")
    assert [r.getMessage() for r in caplog.records] == [
        "late connection dropped peer=12D3KooWpeer reason=host stopping"
    ]


def test_other_swarm_warnings_pass(caplog: pytest.LogCaptureFixture) -> None:
    install()
    swarm = logging.getLogger(SWARM_LOGGER)
    with caplog.at_level(logging.INFO):
        swarm.warning(ADDCONN, "12D3KooWpeer", RuntimeError("limit"), "Traceback ...")
        swarm.warning("dial failed %s", "x")
    assert len(caplog.records) == 2
    assert caplog.records[0].getMessage().startswith("[ADDCONN_FAIL]")
