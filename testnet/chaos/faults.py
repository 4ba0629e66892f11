"""Process and disk faults on the node processes of a chaos run.

:class:`NodeProcesses` starts each node (``iomtshare node start --home``, wrapped in
``ip netns exec`` when the node has its own namespace), signals it (SIGKILL, SIGTERM,
SIGSTOP/SIGCONT) and restarts it, and remembers which exits it caused: any other exit is a node
that died on its own, the first thing a chaos run looks for. A node's wall clock can be shifted
through ``IOMTSHARE_TEST_CLOCK_SKEW_MS`` (honoured by :func:`node.home.wall_ms`, test only).

:class:`DataDisk` mounts a tmpfs on one node's data directory so that the disk can be filled on
demand: "full" shrinks the filesystem to what it already holds, "free" gives the room back.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from node.home import TEST_CLOCK_SKEW_ENV
from testnet.launcher import LOG_FILE, PID_FILE, log_tail, node_command
from testnet.layout import Network

#: The environment variable a node reads its test-only clock shift from (milliseconds).
CLOCK_SKEW_ENV = TEST_CLOCK_SKEW_ENV
#: Seconds a SIGTERMed node gets to shut down before it is SIGKILLed.
TERM_GRACE_S = 10.0
#: Room on the data tmpfs while the disk is not "full".
ROOMY_BYTES = 256 * 1024 * 1024


class FaultError(Exception):
    """A fault could not be applied (a node that should be running is not, a failed mount)."""


@dataclass(frozen=True, slots=True)
class NodeExit:
    """A node process that ended: caused by the harness (``expected``) or on its own."""

    node: int
    code: int
    at_s: float
    expected: bool
    cause: str
    log_tail: str

    def to_json(self) -> dict[str, Any]:
        return {
            "node": self.node,
            "code": self.code,
            "at_s": round(self.at_s, 3),
            "expected": self.expected,
            "cause": self.cause,
            "log_tail": None if self.expected else self.log_tail,
        }


class NodeProcesses:
    """The node processes of ``network``; ``prefix(i)`` is what node i's command runs under
    (``[]`` on loopback, ``ip netns exec NS`` in a namespace); ``clock()`` the run's time."""

    def __init__(
        self,
        network: Network,
        prefix: Callable[[int], list[str]],
        clock: Callable[[], float],
        skews_ms: dict[int, int] | None = None,
    ) -> None:
        self._network = network
        self._prefix = prefix
        self._clock = clock
        self.base_skews_ms = dict(skews_ms or {})
        self.skews_ms = dict(self.base_skews_ms)
        self._running: dict[int, subprocess.Popen[bytes]] = {}
        self._paused: set[int] = set()
        self._causes: dict[int, str] = {}
        #: A cause for a node's exit that the harness provoked without signalling (a full disk).
        self.excuses: dict[int, str] = {}
        self.exits: list[NodeExit] = []
        self.starts = 0

    def home(self, node: int) -> Path:
        return self._network.directory / self._network.node(node).home

    def is_running(self, node: int) -> bool:
        return node in self._running

    def pid(self, node: int) -> int | None:
        process = self._running.get(node)
        return None if process is None else process.pid

    def start(self, node: int, skew_ms: int | None = None) -> None:
        """Start ``node`` (its wall clock ``skew_ms`` off, else its base skew)."""
        if node in self._running:
            raise FaultError(f"node {node} is already running")
        skew = self.base_skews_ms.get(node, 0) if skew_ms is None else skew_ms
        self.skews_ms[node] = skew
        home = self.home(node)
        env = {**os.environ, "PYTHONUNBUFFERED": "1", CLOCK_SKEW_ENV: str(skew)}
        with open(home / LOG_FILE, "ab") as log:
            log.write(f"--- chaos: start at {self._clock():.3f} s, clock skew {skew} ms\n".encode())
            log.flush()
            process = subprocess.Popen(
                [*self._prefix(node), *node_command(home)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                env=env,
            )
        self._running[node] = process
        self._causes.pop(node, None)
        (home / PID_FILE).write_text(f"{process.pid}\n")
        self.starts += 1

    def kill(self, node: int) -> None:
        """SIGKILL and reap ``node``."""
        process = self._take(node, "SIGKILL")
        self._signal(process, signal.SIGKILL)
        self._reap(node, process)

    def term(self, node: int, grace_s: float = TERM_GRACE_S) -> bool:
        """SIGTERM ``node`` and wait for it; SIGKILL after ``grace_s``. True if it stopped
        within the grace period."""
        process = self._take(node, "SIGTERM")
        self._signal(process, signal.SIGTERM)
        try:
            process.wait(grace_s)
            clean = True
        except subprocess.TimeoutExpired:
            self._causes[node] = "SIGTERM, then SIGKILL after the grace period"
            self._signal(process, signal.SIGKILL)
            clean = False
        self._reap(node, process)
        return clean

    def pause(self, node: int) -> None:
        self._signal(self._get(node), signal.SIGSTOP)
        self._paused.add(node)

    def resume(self, node: int) -> None:
        if node in self._paused:
            self._paused.discard(node)
            process = self._running.get(node)
            if process is not None:
                self._signal(process, signal.SIGCONT)

    def check(self) -> list[NodeExit]:
        """Record and return the exits nobody asked for since the last call."""
        found = []
        for node, process in list(self._running.items()):
            code = process.poll()
            if code is None:
                continue
            del self._running[node]
            cause = self.excuses.get(node, "on its own")
            found.append(self._exit(node, code, expected=False, cause=cause))
        self.exits.extend(found)
        return found

    def stop_all(self, grace_s: float = TERM_GRACE_S) -> None:
        """Resume the paused, SIGTERM every running node, SIGKILL what outlives ``grace_s``."""
        self.check()
        for node in list(self._paused):
            self.resume(node)
        for node in sorted(self._running):
            self.term(node, grace_s)

    # -- internals ---------------------------------------------------------------------------

    def _get(self, node: int) -> subprocess.Popen[bytes]:
        self.check()
        process = self._running.get(node)
        if process is None:
            raise FaultError(f"node {node} is not running")
        return process

    def _take(self, node: int, cause: str) -> subprocess.Popen[bytes]:
        process = self._get(node)
        self._causes[node] = cause
        if node in self._paused:
            # A stopped process ignores SIGTERM until it runs again.
            self.resume(node)
        return process

    def _signal(self, process: subprocess.Popen[bytes], signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signum)

    def _reap(self, node: int, process: subprocess.Popen[bytes]) -> None:
        code = process.wait()
        self._running.pop(node, None)
        (self.home(node) / PID_FILE).unlink(missing_ok=True)
        self.exits.append(self._exit(node, code, expected=True, cause=self._causes[node]))

    def _exit(self, node: int, code: int, *, expected: bool, cause: str) -> NodeExit:
        tail = "" if expected else log_tail(self.home(node) / LOG_FILE)
        return NodeExit(node, code, self._clock(), expected, cause, tail)


class DataDisk:
    """A tmpfs on ``path`` (a node's data directory, empty before the node first starts)."""

    def __init__(self, path: Path, roomy_bytes: int = ROOMY_BYTES) -> None:
        self.path = path
        self.roomy_bytes = roomy_bytes
        self.mounted = False

    def mount(self) -> str | None:
        """Mount the tmpfs; returns why it could not (not root, no tmpfs), else ``None``."""
        self.path.mkdir(parents=True, exist_ok=True)
        if any(self.path.iterdir()):
            return f"{self.path} is not empty"
        failed = self._mount("-t", "tmpfs", "-o", f"size={self.roomy_bytes},mode=0700", "tmpfs")
        if failed is None:
            self.mounted = True
        return failed

    def fill(self) -> int:
        """Shrink the filesystem to what it holds (rounded up to whole pages); returns the
        bytes it holds. Raises :class:`FaultError`."""
        failure = None
        # The node writes on while this measures, and a size under what the filesystem
        # holds is refused: measure again, with a little more slack each time.
        for slack in (0, 16, 64, 256):
            stats = os.statvfs(self.path)
            used = (stats.f_blocks - stats.f_bfree) * stats.f_frsize
            size = max(used, stats.f_frsize) + slack * stats.f_frsize
            failure = self._mount("-o", f"remount,size={size}")
            if failure is None:
                return used
        raise FaultError(f"cannot shrink the tmpfs to what it holds: {failure}")

    def free(self) -> None:
        self._must(self._mount("-o", f"remount,size={self.roomy_bytes}"))

    def unmount(self) -> None:
        if self.mounted:
            self._must(run_command(["umount", str(self.path)]))
            self.mounted = False

    def _mount(self, *args: str) -> str | None:
        return run_command(["mount", *args, str(self.path)])

    @staticmethod
    def _must(failure: str | None) -> None:
        if failure is not None:
            raise FaultError(failure)


def run_command(command: list[str]) -> str | None:
    """Run ``command``; ``None`` if it succeeded, else what it said."""
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{' '.join(command)}: {exc}"
    if done.returncode != 0:
        return f"{' '.join(command)}: {(done.stderr or done.stdout).strip()}"
    return None
