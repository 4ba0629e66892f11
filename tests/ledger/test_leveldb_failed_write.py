"""A LevelDB write the disk refuses must not make later, acknowledged writes vanish.

LevelDB's log writer drops the bytes of a record it failed to write but counts them as written,
so every record after it lands at the wrong offset and is skipped when the log is replayed at
the next open: writes acknowledged with ``sync=True`` after a full disk were served from memory
and lost on restart (a chaos run's disk node came back 20 committed blocks lower). The disk is
"filled" here with RLIMIT_FSIZE in a child process, which needs no root: the log's append fails
with EFBIG the way it fails with ENOSPC on a full disk.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

resource = pytest.importorskip("resource")

CHILD = textwrap.dedent(
    """
    import json, os, resource, signal, sys
    from ledger.errors import StoreError
    from ledger.leveldb import LevelDBStore

    path = sys.argv[1]
    # Past the limit, write() fails with EFBIG instead of the process being killed.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    unlimited = resource.getrlimit(resource.RLIMIT_FSIZE)
    store = LevelDBStore(path)
    for i in range(20):
        store.write({b"a%03d" % i: os.urandom(100)})
    # Every file may grow only a little more: the next large record cannot be written.
    biggest = max(os.path.getsize(os.path.join(path, f)) for f in os.listdir(path))
    resource.setrlimit(resource.RLIMIT_FSIZE, (biggest + 512, unlimited[1]))
    refused = 0
    try:
        store.write({b"big": os.urandom(200_000)})
    except StoreError:
        refused = 1
    resource.setrlimit(resource.RLIMIT_FSIZE, unlimited)
    acknowledged = 0
    for i in range(50):
        store.write({b"c%03d" % i: os.urandom(100)})
        acknowledged += 1
    store.close()
    store = LevelDBStore(path)
    print(json.dumps({
        "refused": refused,
        "acknowledged": acknowledged,
        "before": sum(1 for _ in store.keys(b"a")),
        "after": sum(1 for _ in store.keys(b"c")),
        "big": store.get(b"big") is not None,
    }))
    """
)


def test_writes_acknowledged_after_a_refused_write_survive_a_reopen(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(tmp_path / "db")],
        capture_output=True, text=True, timeout=120, check=False, cwd=root,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["refused"] == 1, "the write past the file size limit was not refused"
    assert found["acknowledged"] == 50
    assert found["before"] == 20
    assert found["big"] is False
    assert found["after"] == 50, f"{50 - found['after']} acknowledged writes lost on reopen"
