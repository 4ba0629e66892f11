"""A seeded discrete-event network for consensus nodes.

Seeded :class:`random.Random` objects drive every choice (link delays, jitter, loss, duplication,
Byzantine splits), and events at equal times are ordered by insertion, so a scenario replays
exactly (with fake crypto; real share proofs are randomised, though the schedule is not).
Nothing here reads a clock or touches a socket: simulated time is a float in the event queue.
"""

from __future__ import annotations

import functools
import heapq
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from consensus.encoding import ItemKind
from consensus.evidence import Evidence
from consensus.item import Item
from consensus.machine import ConsensusNode
from consensus.messages import Message, decode_message
from consensus.output import Output, Send, Timer, TraceEvent
from consensus.pool import ItemPool
from consensus.signer import Signer, Verifier
from consensus.simulation.byzantine import Adversary
from consensus.simulation.fake import (
    FakeLedger,
    FakeRequest,
    FakeShares,
    FakeSigner,
    FakeVerifier,
    ShareScheme,
    SimApp,
    fake_access_payload,
    fake_commit_payload,
    sim_item,
)
from consensus.simulation.scenario import CrashOn, Envelope, Scenario, Submit
from consensus.simulation.trace import format_trace, run_summary


class SimNode(Protocol):
    """What the simulator drives: a :class:`ConsensusNode`, or a test's stand-in for one."""

    height: int
    pool: ItemPool

    def start(self, now: float) -> Output: ...

    def on_message(self, msg: Message | Item, now: float) -> Output: ...

    def on_timer(self, timer: Timer, now: float) -> Output: ...


NodeFactory = Callable[..., SimNode]


@dataclass(frozen=True, slots=True)
class _Deliver:
    dst: int
    payload: Message | bytes


@dataclass(frozen=True, slots=True)
class _Fire:
    node: int
    epoch: int
    timer: Timer


@dataclass(frozen=True, slots=True)
class _SubmitAt:
    index: int


@dataclass(frozen=True, slots=True)
class _Crash:
    node: int


@dataclass(frozen=True, slots=True)
class _Boot:
    node: int
    after_trigger: bool = False


@dataclass(frozen=True, slots=True)
class _Check:
    """Look whether the run is done (at the moments faults end)."""


_Event = _Deliver | _Fire | _SubmitAt | _Crash | _Boot | _Check


@dataclass(slots=True)
class World:
    """The crypto a run uses: signatures and shares, fake or real."""

    signers: dict[int, Signer]
    verifier: Verifier
    shares: ShareScheme


def fake_world(n: int) -> World:
    return World({i: FakeSigner(i) for i in range(1, n + 1)}, FakeVerifier(), FakeShares())


@dataclass
class SimResult:
    """Everything a run leaves behind, for invariant checks and debugging."""

    scenario: Scenario
    world: World
    ledgers: dict[int, FakeLedger]
    trace: list[TraceEvent]
    evidence: dict[int, list[Evidence]]
    submitted: list[tuple[Submit, Item]]
    up_at_end: set[int]
    end_time: float
    messages: int
    finished: bool
    commit_times: dict[tuple[int, int], float] = field(default_factory=dict)

    def format_trace(self, limit: int | None = 400) -> str:
        return format_trace(self.trace, limit)

    def summary(self) -> str:
        return run_summary(
            self.scenario,
            self.trace,
            self.ledgers,
            finished=self.finished,
            end_time=self.end_time,
            messages=self.messages,
        )


class Simulation:
    """Runs one scenario to completion (every item committed everywhere) or ``max_time``."""

    def __init__(
        self,
        scenario: Scenario,
        node_factory: NodeFactory = ConsensusNode.create,
        world: World | None = None,
    ) -> None:
        self.scenario = scenario
        self.config = scenario.config()
        self.world = world or fake_world(scenario.n)
        self.rng = random.Random(scenario.seed)
        # Apart from self.rng, so that the other choices of a seed stay what they were.
        self._idle_rng = random.Random(f"{scenario.seed}/idle")
        self._factory = node_factory
        self._queue: list[tuple[float, int, _Event]] = []
        self._seq = 0
        self.now = 0.0
        n = scenario.n
        self.ledgers = {i: FakeLedger() for i in range(1, n + 1)}
        self.nodes: dict[int, SimNode | None] = {i: None for i in range(1, n + 1)}
        self._epoch = dict.fromkeys(range(1, n + 1), 0)
        self._adversaries: dict[int, Adversary] = {}
        self._base_delay = {
            (a, b): self.rng.uniform(scenario.link.min_delay, scenario.link.max_delay)
            for a in range(1, n + 1)
            for b in range(1, n + 1)
        }
        self.trace: list[TraceEvent] = []
        self.evidence: dict[int, list[Evidence]] = {i: [] for i in range(1, n + 1)}
        self.submitted: list[tuple[Submit, Item]] = []
        self.messages = 0
        self.commit_times: dict[tuple[int, int], float] = {}
        self._proposers: set[tuple[int, int]] = set()
        self._fired: set[int] = set()
        self._pending_restarts = 0

    # -- event queue ---------------------------------------------------------------------

    def _push(self, at: float, event: _Event) -> None:
        self._seq += 1
        heapq.heappush(self._queue, (at, self._seq, event))

    def run(self) -> SimResult:
        sc = self.scenario
        for i in range(1, sc.n + 1):
            self._push(0.0, _Boot(i))
        for k, sub in enumerate(sc.workload):
            self._push(sub.at, _SubmitAt(k))
        for crash in sc.crashes:
            self._push(crash.at, _Crash(crash.node))
            if crash.restart is not None:
                self._push(crash.restart, _Boot(crash.node))
                self._push(crash.restart, _Check())
        self._push(sc.settle_at, _Check())
        finished = False
        while self._queue:
            at, _, event = heapq.heappop(self._queue)
            if at > sc.max_time:
                break
            self.now = at
            if self._handle(event) and self._done():
                finished = True
                break
        up = {i for i, node in self.nodes.items() if node is not None}
        return SimResult(
            sc,
            self.world,
            self.ledgers,
            self.trace,
            self.evidence,
            self.submitted,
            up,
            self.now,
            self.messages,
            finished,
            self.commit_times,
        )

    def _handle(self, event: _Event) -> bool:
        """Process one event; True when something may have been committed."""
        if isinstance(event, _Deliver):
            node = self.nodes[event.dst]
            if node is None:
                return False
            payload = event.payload
            msg = decode_message(payload) if isinstance(payload, bytes) else payload
            changed = self._apply(event.dst, node.on_message(msg, self.now))
            return self._maybe_idle(event.dst, node) or changed
        if isinstance(event, _Fire):
            node = self.nodes[event.node]
            if node is None or event.epoch != self._epoch[event.node]:
                return False
            return self._apply(event.node, node.on_timer(event.timer, self.now))
        if isinstance(event, _SubmitAt):
            return self._submit(event.index)
        if isinstance(event, _Crash):
            self.nodes[event.node] = None
            self._epoch[event.node] += 1
            self.trace.append(TraceEvent(self.now, event.node, 0, 0, "crash"))
            return False
        if isinstance(event, _Check):
            return True
        if event.after_trigger:
            self._pending_restarts -= 1
        return self._boot(event.node)

    def _maybe_idle(self, i: int, node: SimNode) -> bool:
        """After half the deliveries (seeded), the node finds itself idle: it checks one
        share ahead (:meth:`ConsensusNode.on_idle`); otherwise shares wait for the blocks
        that need them, as on a busy node."""
        on_idle = getattr(node, "on_idle", None)
        if on_idle is None or not getattr(node, "idle_work", False):
            return False
        if self._idle_rng.random() < 0.5:
            return False
        return self._apply(i, on_idle(self.now))

    # -- nodes ---------------------------------------------------------------------------

    def _boot(self, i: int) -> bool:
        sc = self.scenario
        self._epoch[i] += 1
        app = SimApp(i, self.ledgers[i], self.world.shares)
        node = self._factory(
            self.config,
            i,
            self.world.signers[i],
            self.world.verifier,
            app,
            fake_commit_payload,
            fake_access_payload,
        )
        self.nodes[i] = node
        if i in sc.byzantine:
            self._adversaries[i] = Adversary(
                self.config,
                i,
                sc.byzantine[i],
                self.world.signers[i],
                app,
                random.Random(f"{sc.seed}/adversary/{i}"),
                fake_commit_payload,
                fake_access_payload,
                node.pool.request,
                functools.partial(self.world.shares.share, i),
            )
        self.trace.append(TraceEvent(self.now, i, node.height, 0, "boot"))
        return self._apply(i, node.start(self.now))

    def _submit(self, k: int) -> bool:
        sub = self.scenario.workload[k]
        if sub.kind == "request":
            body = FakeRequest(k, sub.allowed, sub.threshold).to_bytes()
            item = sim_item(ItemKind.REQUEST, body)
        else:
            item = sim_item(ItemKind.TX, b"tx:%d" % k)
        self.submitted.append((sub, item))
        n = self.scenario.n
        # A client whose node is down retries at the next one (which decoded its item at the
        # edge, as a node's API does).
        for step in range(n):
            target = (sub.node - 1 + step) % n + 1
            node = self.nodes[target]
            if node is not None:
                return self._apply(target, node.on_message(item, self.now))
        return False

    def _apply(self, i: int, out: Output) -> bool:
        adversary = self._adversaries.get(i)
        if adversary is not None:
            out = adversary.rewrite(out)
        for event in out.trace:
            if event.kind == "claim":
                self._proposers.add((i, event.height))
        trigger = self._crash_trigger(i, out)
        for send in out.sends:
            self._transmit(i, send, partial=trigger is not None)
        if trigger is not None:
            self.trace.extend(out.trace)
            self._crash_now(i, trigger)
            return bool(out.commits)
        epoch = self._epoch[i]
        for timer in out.timers:
            self._push(timer.deadline, _Fire(i, epoch, timer))
        self.trace.extend(out.trace)
        self.evidence[i].extend(out.evidence)
        for block in out.commits:
            self.commit_times[(i, block.height)] = self.now
        return bool(out.commits)

    def _crash_trigger(self, i: int, out: Output) -> CrashOn | None:
        for k, crash in enumerate(self.scenario.crash_on):
            if k in self._fired:
                continue
            for event in out.trace:
                hit = event.kind == crash.trigger or (
                    crash.trigger == f"leader-{event.kind}"
                    and (i, event.height) in self._proposers
                )
                if hit:
                    self._fired.add(k)
                    return crash
        return None

    def _crash_now(self, i: int, crash: CrashOn) -> None:
        self.nodes[i] = None
        self._epoch[i] += 1
        self.trace.append(TraceEvent(self.now, i, 0, 0, "crash", f"on {crash.trigger}"))
        if crash.restart_after is not None:
            self._pending_restarts += 1
            self._push(self.now + crash.restart_after, _Boot(i, after_trigger=True))
            self._push(self.now + crash.restart_after, _Check())

    def _transmit(self, src: int, send: Send, partial: bool = False) -> None:
        sc = self.scenario
        dsts = [send.to] if send.to is not None else range(1, sc.n + 1)
        unsettled = self.now < sc.settle_at
        payload: Message | bytes = send.message
        if sc.wire_bytes:
            payload = send.message.to_bytes()
        for dst in dsts:
            if dst == src or (partial and self.rng.random() < 0.5):
                continue
            self.messages += 1
            if sc.drop is not None and sc.drop(Envelope(src, dst, self.now, send.message)):
                continue
            if any(p.separates(src, dst, self.now) for p in sc.partitions):
                continue
            if unsettled and sc.link.loss and self.rng.random() < sc.link.loss:
                continue
            delay = self._base_delay[(src, dst)] + self.rng.uniform(0.0, sc.link.jitter)
            self._push(self.now + delay, _Deliver(dst, payload))
            if unsettled and sc.link.duplicate and self.rng.random() < sc.link.duplicate:
                again = delay + self.rng.uniform(0.0, 2 * sc.link.jitter)
                self._push(self.now + again, _Deliver(dst, payload))

    def _done(self) -> bool:
        """Every submitted item committed on every honest node that is up, faults over."""
        sc = self.scenario
        if self.now < sc.settle_at or len(self.submitted) < len(sc.workload):
            return False
        if any(c.restart is not None and c.restart > self.now for c in sc.crashes):
            return False
        if self._pending_restarts:
            return False
        wanted = {item.item_id for _, item in self.submitted}
        for i in sc.honest():
            if self.nodes[i] is not None and not wanted <= self.ledgers[i].items:
                return False
        return True


def run(
    scenario: Scenario,
    node_factory: NodeFactory = ConsensusNode.create,
    world: World | None = None,
) -> SimResult:
    """Run ``scenario`` (see :class:`Simulation`)."""
    return Simulation(scenario, node_factory, world).run()


__all__ = ["SimNode", "SimResult", "Simulation", "World", "fake_world", "run"]
