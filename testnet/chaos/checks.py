"""What a chaos run checks once every fault is healed.

* the chains agree: every node holds the same block hash at every height (and, once settled,
  the same height);
* every acknowledged request is committed exactly once (none lost, none twice), and no
  transaction appears twice anywhere in the chain;
* ``iomtshare ledger verify`` is clean on every stopped node's ledger;
* no node died on its own;
* no node lost committed blocks when it was started again: it comes back at least at the
  height it had logged as committed (a block is logged only after it is written);
* liveness came back within the bound: a request sent after the heal was decided.

The ``judge_*`` functions are pure (they take what was collected and return a :class:`Check`);
the ``collect_*`` functions ask the nodes or run the verifier.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from client import NodeClient
from testnet.chaos.faults import NodeExit

#: Headers asked per ``GET /blocks`` page (the node's cap).
PAGE = 1000
#: Lost or duplicated ids listed in a report (the counts are always whole).
LISTED = 20


@dataclass(frozen=True, slots=True)
class Check:
    """One post-heal check: its name, whether it held, a line saying why, and the figures."""

    name: str
    ok: bool
    detail: str
    data: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "detail": self.detail, **self.data}


# -- collecting ------------------------------------------------------------------------------


def collect_chain(url: str, timeout: float = 30.0) -> list[tuple[int, str]]:
    """``(height, block hash)`` of every block the node at ``url`` holds, in height order.
    Raises the client's errors."""
    chain: list[tuple[int, str]] = []
    with NodeClient(url, timeout=timeout) as client:
        while True:
            page = client.blocks(start=len(chain) + 1, limit=PAGE)
            chain.extend((int(b["height"]), str(b["hash"])) for b in page)
            if len(page) < PAGE:
                return chain


def collect_tx_counts(url: str, height: int, timeout: float = 30.0) -> Counter[str]:
    """How many times each transaction id occurs in blocks 1..``height`` of the node at
    ``url``. Raises the client's errors."""
    counts: Counter[str] = Counter()
    with NodeClient(url, timeout=timeout) as client:
        for h in range(1, height + 1):
            counts.update(str(t) for t in client.block(h)["tx_ids"])
    return counts


_COMMITTED = re.compile(r"block committed height=(\d+)")
_STARTED = re.compile(r"node started index=\d+ height=(\d+)")


def collect_restarts(log: Path) -> list[tuple[int, int]]:
    """From a node's log, for every start after the first: ``(highest height it had logged
    committed before, height it started at)``. A missing log gives ``[]``."""
    try:
        text = log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    reached, starts, found = 0, 0, []
    for line in text.splitlines():
        committed = _COMMITTED.search(line)
        if committed:
            reached = max(reached, int(committed.group(1)))
            continue
        started = _STARTED.search(line)
        if started:
            height = int(started.group(1))
            if starts:
                found.append((reached, height))
            starts += 1
            reached = max(reached, height)
    return found


def verify_ledger(home: Path, timeout: float = 600.0) -> dict[str, Any]:
    """``iomtshare ledger verify --home HOME --json`` on a stopped node: its JSON answer plus
    ``exit_code`` (0 clean, 1 tampered, 2 bad input)."""
    command = [sys.executable, "-m", "cli", "ledger", "verify", "--home", str(home), "--json"]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                              check=False)
    except subprocess.TimeoutExpired:
        return {"exit_code": None, "error": f"ledger verify ran over {timeout:g} s"}
    try:
        answer: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        answer = {"error": (done.stderr or done.stdout).strip()[-500:]}
    return {"exit_code": done.returncode, **answer}


# -- judging ---------------------------------------------------------------------------------


def judge_chains(
    chains: Mapping[int, Sequence[tuple[int, str]]], unread: Mapping[int, str] | None = None
) -> Check:
    """Divergence: a height where two nodes hold different blocks. Lagging: a node shorter than
    the longest chain once the network was given time to settle. ``unread``: nodes whose chain
    could not be read (and why), which fails the check too."""
    unread = dict(unread or {})
    by_height: dict[int, dict[str, list[int]]] = {}
    for node, chain in chains.items():
        for height, block_hash in chain:
            by_height.setdefault(height, {}).setdefault(block_hash, []).append(node)
    divergent = sorted(h for h, hashes in by_height.items() if len(hashes) > 1)
    heights = {node: len(chain) for node, chain in chains.items()}
    top = max(heights.values(), default=0)
    lagging = sorted(node for node, height in heights.items() if height < top)
    data: dict[str, Any] = {
        "heights": {str(node): height for node, height in sorted(heights.items())},
        "divergent_heights": len(divergent),
        "lagging_nodes": lagging,
        "unread_nodes": {str(node): why for node, why in sorted(unread.items())},
    }
    if divergent:
        first = divergent[0]
        data["first_divergence"] = {
            "height": first,
            "hashes": {h[:16]: nodes for h, nodes in by_height[first].items()},
        }
        return Check("chains agree", False,
                     f"{len(divergent)} height(s) with different blocks, first at {first}", data)
    if unread:
        return Check("chains agree", False,
                     f"node(s) {sorted(unread)} did not answer after the heal", data)
    if lagging:
        return Check("chains agree", False,
                     f"node(s) {lagging} stayed behind height {top} after the heal", data)
    return Check("chains agree", True, f"{len(chains)} nodes, identical {top} blocks", data)


def judge_requests(acknowledged: Iterable[str], counts: Mapping[str, int]) -> Check:
    """Every acknowledged request id committed exactly once; no transaction id twice."""
    acked = list(dict.fromkeys(acknowledged))
    lost = [r for r in acked if counts.get(r, 0) == 0]
    twice = sorted(t for t, c in counts.items() if c > 1)
    data = {
        "acknowledged": len(acked),
        "committed": len(acked) - len(lost),
        "lost": len(lost),
        "duplicated": len(twice),
        "lost_ids": lost[:LISTED],
        "duplicated_ids": twice[:LISTED],
    }
    if lost or twice:
        return Check("acknowledged requests committed exactly once", False,
                     f"{len(lost)} lost, {len(twice)} committed more than once", data)
    return Check("acknowledged requests committed exactly once", True,
                 f"all {len(acked)} committed once", data)


def judge_verify(results: Mapping[int, Mapping[str, Any]]) -> Check:
    """``ledger verify`` exit code 0 on every node."""
    bad = {node: dict(r) for node, r in results.items() if r.get("exit_code") != 0}
    data = {"nodes": {str(n): dict(r) for n, r in sorted(results.items())}}
    if bad:
        return Check("ledger verify clean", False, f"node(s) {sorted(bad)} failed", data)
    return Check("ledger verify clean", True, f"{len(results)} ledgers verified", data)


def judge_exits(exits: Sequence[NodeExit]) -> Check:
    """No exit the harness did not cause, apart from ones it provoked on purpose (a full
    disk), which are listed but do not fail the check."""
    own = [e for e in exits if not e.expected and e.cause == "on its own"]
    excused = [e for e in exits if not e.expected and e.cause != "on its own"]
    data = {
        "died_on_their_own": [e.to_json() for e in own],
        "excused": [e.to_json() for e in excused],
        "harness_caused": sum(1 for e in exits if e.expected),
    }
    if own:
        nodes = sorted({e.node for e in own})
        return Check("no node died on its own", False,
                     f"node(s) {nodes} exited unasked ({len(own)} time(s))", data)
    detail = "none"
    if excused:
        detail += f" ({len(excused)} exit(s) under a provoked fault: {excused[0].cause})"
    return Check("no node died on its own", True, detail, data)


def judge_restarts(restarts: Mapping[int, Sequence[tuple[int, int]]]) -> Check:
    """Every restart came back at least at the height the node had logged as committed."""
    lost = {node: [(before, at) for before, at in pairs if at < before]
            for node, pairs in restarts.items()}
    lost = {node: pairs for node, pairs in lost.items() if pairs}
    data = {
        "restarts": sum(len(pairs) for pairs in restarts.values()),
        "lost": {str(node): [{"committed": b, "started_at": a} for b, a in pairs[:LISTED]]
                 for node, pairs in sorted(lost.items())},
    }
    name = "no committed block lost on restart"
    if lost:
        blocks = sum(b - a for pairs in lost.values() for b, a in pairs)
        return Check(name, False, f"node(s) {sorted(lost)} came back lower ({blocks} block(s) "
                     f"in {sum(len(p) for p in lost.values())} restart(s))", data)
    return Check(name, True, f"{data['restarts']} restarts, none lower", data)


def judge_liveness(seconds: float | None, bound_s: float) -> Check:
    """A request sent after the final heal was decided within ``bound_s`` seconds."""
    data = {"seconds": None if seconds is None else round(seconds, 3), "bound_s": bound_s}
    if seconds is None or seconds > bound_s:
        return Check("liveness back", False, f"no decision within {bound_s:g} s of the heal",
                     data)
    return Check("liveness back", True, f"{seconds:.1f} s after the heal (bound {bound_s:g} s)",
                 data)
