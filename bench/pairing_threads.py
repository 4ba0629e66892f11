"""Whether a pairing releases the GIL, i.e. whether a worker thread could check shares while the
node's event loop runs (issue 17 item 4).

The same number of pairings run in one thread, then split over two threads; a speed-up near 2
means the call releases the GIL (on a machine with two free cores), near 1 or below that it
does not. Measured for pymcl's ``pairing`` and for the precomputed Miller loop the mcl backend
calls through ctypes (which drops the GIL around foreign calls).

Usage: ``python -m bench.pairing_threads [--pairings N]``.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from collections.abc import Callable, Sequence

from crypto.groups import load_group


def speedup(work: Callable[[], object], pairings: int) -> tuple[float, float]:
    """Seconds for ``pairings`` calls of ``work`` in one thread, and split over two threads."""

    def run(count: int) -> None:
        for _ in range(count):
            work()

    started = time.perf_counter()
    run(pairings)
    one = time.perf_counter() - started
    threads = [threading.Thread(target=run, args=(pairings // 2,)) for _ in range(2)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return one, time.perf_counter() - started


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.pairing_threads", description=__doc__)
    parser.add_argument("--pairings", type=int, default=400)
    args = parser.parse_args(argv)
    if args.pairings < 2:
        parser.error("--pairings must be at least 2")
    group = load_group("mcl")
    p, q = group.g1 * group.random_scalar(), group.g2 * group.random_scalar()
    prepared = group.prepare_g2(q)
    cases: list[tuple[str, Callable[[], object]]] = [
        ("pymcl pairing", lambda: group.pairing(p, q)),
        ("precomputed Miller loop via ctypes", lambda: prepared.pairing(p)),
    ]
    for name, work in cases:
        one, two = speedup(work, args.pairings)
        print(
            f"{name}: {args.pairings} in one thread {one * 1e3:.0f} ms, split over two threads "
            f"{two * 1e3:.0f} ms, speed-up {one / two:.2f} (load average {os.getloadavg()[0]:.1f})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
