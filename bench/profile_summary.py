"""Where a node's time goes: a summary of a py-spy profile in its "raw" (collapsed stack) form.

``py-spy record --pid PID --format raw -o FILE`` samples a running node (only threads that are
running, not idle ones, unless ``--idle``) and writes one line per distinct stack:
``frame;frame;...;frame COUNT``, outermost frame first, each frame ``function (file:line)``.
:func:`summarize` reads such a file and reports the share of samples

* by category: the first rule of :data:`CATEGORIES` that matches any frame of a stack, from the
  innermost frame out, so a pairing inside share verification inside the consensus loop counts
  as pairings;
* by function, "self" (the innermost frame), and "inclusive" (anywhere in the stack) for this
  project's own functions (crypto, ledger, consensus, node, client), since the frames that
  start every stack (click, trio's run loop) would fill that list otherwise.

Usage: ``python -m bench.profile_summary FILE [--top N] [--json OUT]``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: (category, pattern on one frame), tried in this order on each frame from the innermost out;
#: the first category whose pattern matches a frame names the stack.
CATEGORIES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern))
    for name, pattern in (
        ("pairings and GT/G2 arithmetic", r"crypto/groups/|pymcl|mcl_"),
        ("Ed25519 signatures, hashing", r"crypto/signing\.py|nacl/|crypto/hashing\.py|hashlib"),
        ("LevelDB reads and writes", r"ledger/leveldb\.py|plyvel"),
        ("ledger encode/decode", r"ledger/(encoding|decoders|fastread|fasthash)\.py|crypto/codec"),
        ("ledger state transition and checks",
         r"ledger/(transition|block_check|header_check|ledger|qc|merkle|block)\.py"),
        ("consensus state machine", r"/consensus/"),
        ("libp2p, noise, yamux, pubsub", r"libp2p/|noise|yamux|multiaddr|pubsub"),
        ("HTTP (hypercorn, starlette)", r"hypercorn|starlette|h11|anyio"),
        ("node (wiring, shares, items)", r"/node/"),
        ("trio scheduler and I/O", r"trio/|selectors|epoll"),
    )
)
OTHER = "other"
_PROJECT = re.compile(
    r"\((?:.*/)?(?:crypto|ledger|consensus|node|client)/(?:[^/]+/)*[^/]+\.py(?::\d+)?\)$"
)


@dataclass(frozen=True, slots=True)
class Profile:
    """Sample counts of one profile."""

    total: int
    categories: Counter[str]
    self_time: Counter[str]
    inclusive: Counter[str]


def _frames(stack: str) -> list[str]:
    return [frame for frame in stack.split(";") if frame]


def _short(frame: str) -> str:
    """``function (path:line)`` -> ``function (last two path parts)``: lines differ per sample
    point, and the same function should add up."""
    match = re.match(r"(.*) \((.*?)(?::\d+)?\)$", frame)
    if match is None:
        return frame
    function, path = match.groups()
    tail = "/".join(Path(path).parts[-2:])
    return f"{function} ({tail})"


def category(frames: list[str]) -> str:
    for frame in reversed(frames):
        for name, pattern in CATEGORIES:
            if pattern.search(frame):
                return name
    return OTHER


def parse(text: str) -> Profile:
    """Read py-spy's raw output; raises ``ValueError`` on a line that is not ``stack count``."""
    categories: Counter[str] = Counter()
    self_time: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    # A frame's text may hold a line break (py-spy writes names as it finds them), so a line
    # without a count is continued by the next one.
    partial, first = "", 0
    for number, line in enumerate(text.splitlines(), 1):
        if not partial and not line.strip():
            continue
        first = first or number
        line = partial + line
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            partial = line + "\n"
            continue
        partial, first = "", 0
        count = int(count_text)
        frames = _frames(stack)
        total += count
        categories[category(frames)] += count
        if frames:
            self_time[_short(frames[-1])] += count
        for name in {_short(frame) for frame in frames if _PROJECT.search(frame)}:
            inclusive[name] += count
    if partial:
        raise ValueError(f"line {first} is not 'stack count': {partial[:80]!r}")
    return Profile(total, categories, self_time, inclusive)


def summarize(profile: Profile, top: int = 15) -> dict[str, Any]:
    """Shares (percent of samples) by category and the ``top`` functions, self and inclusive."""

    def shares(counter: Counter[str], limit: int | None) -> dict[str, float]:
        return {
            name: 100.0 * count / profile.total for name, count in counter.most_common(limit)
        }

    if not profile.total:
        return {"samples": 0, "categories": {}, "self": {}, "inclusive": {}}
    return {
        "samples": profile.total,
        "categories": shares(profile.categories, None),
        "self": shares(profile.self_time, top),
        "inclusive": shares(profile.inclusive, top),
    }


def _table(title: str, rows: dict[str, float]) -> str:
    lines = [title]
    lines += [f"  {share:5.1f}%  {name}" for name, share in rows.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", type=Path)
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    try:
        summary = summarize(parse(args.file.read_text()), args.top)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{summary['samples']} samples")
    print(_table("by category:", summary["categories"]))
    print(_table("self time, top functions:", summary["self"]))
    print(_table("inclusive time, top functions:", summary["inclusive"]))
    if args.json is not None:
        args.json.write_text(json.dumps(summary, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
