"""``iomtshare ledger ...``: offline tools over a node's LevelDB ledger.

``iomtshare ledger verify`` re-checks a stored ledger (hash chain, commit QCs, indexes and both
sub-chains) against its genesis and names the first bad location. It reads only: it never
creates a database or writes to one, so it is safe on a copy taken from a suspect node. The node
must be stopped first (LevelDB admits one process at a time).

Exit status: 0 the ledger verifies, 1 it does not (tampered or damaged), 2 the input cannot be
used (missing or locked database, unreadable genesis, genesis of another chain).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import click

from ledger import schema
from ledger.errors import IntegrityError, LedgerError, StoreError
from ledger.genesis import Genesis
from ledger.integrity import VerifyReport, read_head, verify_ledger
from ledger.leveldb import LevelDBStore
from node.config import DATA_DIR, GENESIS_FILE

#: Where a node keeps its ledger inside ``HOME/data`` (see node.service).
LEDGER_SUBDIR = "ledger"
#: From this many blocks on, ``--workers auto`` checks blocks in worker processes. Forked
#: workers start in milliseconds; below this a whole verify takes well under half a second.
AUTO_WORKERS_FROM_HEIGHT = 500

EXIT_OK = 0
EXIT_TAMPERED = 1
EXIT_BAD_INPUT = 2


class _BadInput(Exception):
    """The database or genesis given cannot be used; the message says why."""


def _paths(home: Path | None, db: Path | None, genesis: Path | None) -> tuple[Path, Path]:
    if home is not None:
        if db is not None or genesis is not None:
            raise _BadInput("give either --home or --db with --genesis, not both")
        return home / DATA_DIR / LEDGER_SUBDIR, home / GENESIS_FILE
    if db is None or genesis is None:
        raise _BadInput("give --home, or both --db and --genesis")
    return db, genesis


def _load_genesis(path: Path) -> Genesis:
    try:
        return Genesis.load(path)
    except OSError as exc:
        raise _BadInput(f"cannot read genesis {path}: {exc.strerror or exc}") from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise _BadInput(f"genesis {path} is not a valid genesis.json: {exc}") from exc


def _open_store(path: Path) -> LevelDBStore:
    if not path.is_dir():
        raise _BadInput(f"no ledger database at {path}")
    try:
        return LevelDBStore(path, create=False)
    except StoreError as exc:
        raise _BadInput(f"{exc} (is the node still running?)") from exc


def _workers(choice: str, height: int) -> int:
    """``auto``: two worker processes for a long chain when a core is idle, else none (on a
    busy machine the workers only compete with this process)."""
    if choice != "auto":
        return int(choice)
    cores = os.cpu_count() or 1
    if cores < 2 or height < AUTO_WORKERS_FROM_HEIGHT:
        return 1
    try:
        load = os.getloadavg()[0]
    except OSError:  # pragma: no cover - platforms without a load average
        load = 0.0
    return 2 if load <= cores - 1 else 1


def _ok_payload(report: VerifyReport, seconds: float) -> dict[str, Any]:
    return {
        "ok": True,
        "height": report.height,
        "transactions": report.transactions,
        "audit_records": report.audit_records,
        "attribute_records": report.attribute_records,
        "seconds": round(seconds, 3),
        "first_bad": None,
    }


def _bad_payload(exc: IntegrityError, height: int | None) -> dict[str, Any]:
    return {
        "ok": False,
        "height": height,
        "first_bad": {"location": exc.location, "what": exc.what, "height": exc.height},
    }


def _verify(db: Path, genesis_path: Path, workers: str) -> tuple[int, dict[str, Any]]:
    genesis = _load_genesis(genesis_path)
    store = _open_store(db)
    try:
        stored = store.get(schema.GENESIS)
        if stored is not None and stored != genesis.to_bytes():
            raise _BadInput(f"the database at {db} belongs to another genesis than {genesis_path}")
        try:
            height: int | None = read_head(store).height
        except IntegrityError:
            height = None  # verify reports the broken head below
        started = time.perf_counter()
        try:
            report = verify_ledger(store, genesis, workers=_workers(workers, height or 0))
        except IntegrityError as exc:
            return EXIT_TAMPERED, _bad_payload(exc, height)
        return EXIT_OK, _ok_payload(report, time.perf_counter() - started)
    finally:
        store.close()


@click.group("ledger")
def ledger() -> None:
    """Offline tools over a node's ledger (stop the node first)."""


@ledger.command("verify")
@click.option(
    "--home",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Node home: verifies HOME/data/ledger against HOME/genesis.json.",
)
@click.option(
    "--db",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Ledger database directory (with --genesis).",
)
@click.option(
    "--genesis",
    "genesis_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="genesis.json of the chain (with --db).",
)
@click.option(
    "--workers",
    default="auto",
    show_default=True,
    help="Worker processes checking blocks: a number, or auto (2 for long chains on an idle "
    "machine).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")
def verify(
    home: Path | None, db: Path | None, genesis_path: Path | None, workers: str, as_json: bool
) -> None:
    """Re-verify a stored ledger; exit 0 if it holds, 1 if tampered, 2 on bad input."""
    if workers != "auto" and not (workers.isdigit() and 1 <= int(workers) <= 64):
        raise click.BadParameter("a number from 1 to 64, or auto", param_hint="--workers")
    try:
        db_path, genesis_file = _paths(home, db, genesis_path)
        code, payload = _verify(db_path, genesis_file, workers)
    except (_BadInput, LedgerError) as exc:
        if as_json:
            click.echo(json.dumps({"ok": False, "error": str(exc)}))
        else:
            click.echo(f"error: {exc}", err=True)
        raise SystemExit(EXIT_BAD_INPUT) from exc
    if as_json:
        click.echo(json.dumps(payload))
    elif code == EXIT_OK:
        click.echo(
            f"ok: height {payload['height']}, {payload['transactions']} transactions, "
            f"{payload['audit_records']} audit records, {payload['attribute_records']} "
            f"attribute records (verified in {payload['seconds']:.2f} s)"
        )
    else:
        bad = payload["first_bad"]
        click.echo(f"TAMPERED: first bad location {bad['location']}: {bad['what']}")
    if code != EXIT_OK:
        raise SystemExit(code)
