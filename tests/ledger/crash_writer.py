"""Writer process for the crash test: applies a deterministic workload to a LevelDB ledger.

Run as ``python -m tests.ledger.crash_writer DB_PATH LAST_HEIGHT``. It opens (or resumes) the
ledger and applies blocks up to LAST_HEIGHT, printing each height once its write has returned, so
the parent knows which blocks are durable when it SIGKILLs the process.
"""

from __future__ import annotations

import sys

from ledger.block import SharingResult
from ledger.ledger import Ledger
from ledger.testing import ChainFixture, derived
from ledger.transactions import AccessRequest, MemberRole, Transaction

OWNERS = ["o0", "o1", "o2"]
REQUESTERS = ["q0", "q1", "q2", "q3"]


def fixture() -> ChainFixture:
    return ChainFixture(nodes=4, seed=b"crash", denial_limit=1_000)


def request_at(fx: ChainFixture, height: int) -> AccessRequest:
    requester = REQUESTERS[height % len(REQUESTERS)]
    nonce = derived(fx.seed, "crash-nonce", height)[:16]
    return fx.request(requester, f"r{height - 1}", at_ms=fx.time_at(height), nonce=nonce)


def workload(fx: ChainFixture, height: int) -> tuple[list[Transaction], list[SharingResult]]:
    """The transactions and results of block ``height``; the same on every run."""
    fx.restart_issue_times(height * 1_000)
    if height == 1:
        owners = [fx.register(o) for o in OWNERS]
        requesters = [fx.register(q, role=MemberRole.REQUESTER) for q in REQUESTERS]
        return [*owners, *requesters, *(fx.publish_key(m) for m in OWNERS + REQUESTERS)], []
    owner = OWNERS[height % len(OWNERS)]
    requester = REQUESTERS[height % len(REQUESTERS)]
    txs: list[Transaction] = [
        fx.put_record(owner, f"r{height}", keywords=f"k{height % 4}", payload=bytes(200)),
        fx.change_attributes(requester, (f"shift:{height}",)),
    ]
    results: list[SharingResult] = []
    if height >= 3:
        previous_owner = OWNERS[(height - 1) % len(OWNERS)]
        txs.append(fx.grant(previous_owner, f"r{height - 1}", requester))
        txs.append(request_at(fx, height))
    if height >= 4:
        results.append(fx.result(request_at(fx, height - 1), granted=height % 2 == 0))
    return txs, results


def main(path: str, last_height: int) -> None:
    fx = fixture()
    with Ledger.open(path, fx.genesis) as ledger:
        for height in range(ledger.height + 1, last_height + 1):
            txs, results = workload(fx, height)
            fx.commit(ledger, txs, results)
            print(height, flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
