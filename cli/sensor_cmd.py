"""``iomtshare sensor ...``: sensors on the lightweight profile (docs/sensors.md).

The authority runs ``register`` and ``register-user``; a sensor runs ``upload``; a warrant
holder runs ``access``; ``simulate`` is a load generator streaming an ECG-like signal.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from cli.authority_cmd import _authority_key, key_option
from cli.common import (
    MEMBER_ID,
    backend_option,
    client_errors,
    emit,
    hex_id,
    json_option,
    node_option,
    open_session,
    timeout_option,
)

if TYPE_CHECKING:
    import httpx

F = TypeVar("F", bound=Callable[..., Any])

light_home_option = click.option(
    "--light-home", type=click.Path(file_okay=False, path_type=Path), default=None,
    help="The authority's lightweight state (default: DIR/light beside the --key file).",
)


def real_id_option(who: str) -> Callable[[F], F]:
    return click.option(
        "--real-id-file", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
        default=None,
        help=f"File holding the {who}'s real identity (one line; '-' reads stdin). Without it "
        "the identity is asked for with hidden input, or read from stdin when that is not a "
        "terminal; it is never taken on the command line (ps, shell history).",
    )


def read_real_id(path: Path | None, who: str) -> str:
    """The real identity from ``path``, stdin, or a hidden prompt; one non-empty line."""
    try:
        if path is not None and str(path) != "-":
            text = path.read_text(encoding="utf-8")
        elif path is None and sys.stdin.isatty():
            text = click.prompt(f"The {who}'s real identity", hide_input=True)
        else:
            text = sys.stdin.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise click.UsageError(f"cannot read the {who}'s real identity: {exc}") from exc
    real_id = text.strip()
    if not real_id or "\n" in real_id:
        raise click.UsageError(f"the {who}'s real identity must be one non-empty line")
    return real_id


def _light_home(light_home: Path | None, key_file: Path) -> Path:
    from client.sensors import LIGHT_DIR

    return light_home if light_home is not None else key_file.parent / LIGHT_DIR


@click.group("sensor")
def sensor() -> None:
    """Sensors on the lightweight profile: register, register-user, upload, access, simulate."""


@sensor.command("register")
@real_id_option("patient")
@click.option("--owner", type=MEMBER_ID, required=True,
              help="The patient's member (its pseudonym on chain): an id or member dir.")
@click.option("--edge-info", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              required=True, help="The edge's `iomtshare keys show --home EDGE --json` output.")
@click.option("--edge-url", required=True, help="The edge's HTTP URL (goes into the profile).")
@click.option("--policy", required=True, help="Access policy of the records made from readings.")
@click.option("--user", "users", multiple=True,
              help="Pseudonym (hex) of a user whose warrant the edge honours (repeatable).")
@click.option("--profile-out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Directory for the sensor's profile (its a_n, mode 0600, and the edge URL).")
@click.option("--grant-out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="File for the edge's grant (sealed to its box key); put it in "
              "EDGE_HOME/sensors/grants/ as *.grant.")
@key_option
@light_home_option
@node_option
@timeout_option
@backend_option
@json_option
def register(
    real_id_file: Path | None, owner: bytes, edge_info: Path, edge_url: str, policy: str,
    users: tuple[str, ...], profile_out: Path, grant_out: Path, key_file: Path,
    light_home: Path | None, node_url: str, timeout: float, backend: str | None, as_json: bool,
) -> None:
    """Register a sensor patient under a temporary identity for member --owner and an edge.

    Puts a device on chain for the member and the edge (so the edge may submit the member's
    records), writes the sensor's profile and the edge's sealed grant. The real identity
    (see --real-id-file) stays sealed in the light home; nothing written for the sensor or
    the edge names it."""
    from client.sensors import EdgeTarget, register_sensor, save_profile
    from ledger.keyfiles import write_atomic

    real_id = read_real_id(real_id_file, "patient")
    members = [hex_id(user, "user pseudonym") for user in users]
    key = _authority_key(key_file)
    with client_errors():
        target = EdgeTarget.load(edge_info)
    with open_session(node_url, backend) as session:
        made = register_sensor(
            session, key, _light_home(light_home, key_file), real_id=real_id, owner=owner,
            edge=target, policy=policy, users=members, timeout=timeout,
        )
        save_profile(profile_out, made.key, edge_url)
        write_atomic(grant_out, made.sealed_grant, mode=0o600)
    emit({"temporary_id": made.temporary_id.hex(), "profile": str(profile_out),
          "grant": str(grant_out), **made.device}, as_json)


@sensor.command("register-user")
@real_id_option("user")
@click.option("--valid-days", type=click.FloatRange(min=0, min_open=True), default=30.0,
              show_default=True, help="How long the warrant is honoured.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              required=True, help="Directory for `credential` (0600) and the warrant record.")
@key_option
@light_home_option
@json_option
def register_user(
    real_id_file: Path | None, valid_days: float, out_dir: Path, key_file: Path,
    light_home: Path | None, as_json: bool,
) -> None:
    """Issue a user a warrant: the credential for the user, the warrant record for edges
    (copy it into EDGE_HOME/sensors/warrants/). The user's real identity (see
    --real-id-file) is never written."""
    from client.sensors import CREDENTIAL_FILE
    from client.sensors import register_user as issue
    from ledger.keyfiles import write_atomic

    real_id = read_real_id(real_id_file, "user")
    key = _authority_key(key_file)
    expiry = int(time.time() + valid_days * 86400)
    with client_errors():
        credential, warrant = issue(_light_home(light_home, key_file), key, real_id, expiry)
    out_dir.mkdir(parents=True, exist_ok=True)
    warrant_path = out_dir / f"{credential.user.hex()}.warrant"
    write_atomic(out_dir / CREDENTIAL_FILE, credential.to_bytes(), mode=0o600)
    write_atomic(warrant_path, warrant.to_bytes())
    emit({"user": credential.user.hex(), "expiry": expiry,
          "credential": str(out_dir / CREDENTIAL_FILE), "warrant": str(warrant_path)}, as_json)


def _http() -> httpx.Client:
    import httpx

    return httpx.Client(timeout=60.0)


@sensor.command("upload")
@click.option("--profile", "profile_dir", type=click.Path(file_okay=False, path_type=Path),
              required=True, help="The sensor's profile directory.")
@click.option("--edge", "edge_url", default=None, help="Edge URL (default: the profile's).")
@click.option("--reading", default=None, help="The reading as text (instead of FILE).")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                required=False)
@json_option
def upload(
    profile_dir: Path, edge_url: str | None, reading: str | None, file: Path | None,
    as_json: bool,
) -> None:
    """Encrypt one reading (FILE or --reading) and upload it to the edge."""
    from client.sensors import load_profile, make_upload, post_upload

    if (reading is None) == (file is None):
        raise click.UsageError("give either FILE or --reading")
    data = reading.encode() if reading is not None else file.read_bytes()  # type: ignore[union-attr]
    with client_errors():
        profile = load_profile(profile_dir)
        url = edge_url or profile.edge_url
        with _http() as http:
            answer = post_upload(http, url, make_upload(profile, data))
    emit(answer, as_json)


@sensor.command("access")
@click.option("--credential", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              required=True, help="The user's credential file (from register-user).")
@click.option("--patient", required=True, help="The patient's temporary identity (hex).")
@click.option("--edge", "edge_url", required=True, help="The edge's HTTP URL.")
@click.option("--after", default="", help="List ids after this record id (hex): the `next` of "
              "the previous page.")
@click.option("--limit", type=click.IntRange(min=1), default=None,
              help="At most this many ids (the edge caps a page at 100, its default).")
@json_option
def access(
    credential: Path, patient: str, edge_url: str, after: str, limit: int | None, as_json: bool,
) -> None:
    """Prove a warrant to the edge and list one page of the records it submitted for the
    patient (`next` in the answer: pass it as --after for the following page)."""
    from client.sensors import SensorError, post_access
    from crypto.errors import CryptoError
    from crypto.light import UserCredential

    ptid = hex_id(patient, "temporary identity")
    start = hex_id(after, "record id") if after else b""
    with client_errors():
        try:
            held = UserCredential.from_bytes(credential.read_bytes())
        except CryptoError as exc:
            raise SensorError(f"{credential} is not a user credential: {exc}") from exc
        with _http() as http:
            answer = post_access(http, edge_url, held, ptid, after=start, limit=limit)
    emit(answer, as_json)


@sensor.command("simulate")
@click.option("--edge", "edge_url", required=True, help="The edge's HTTP URL.")
@click.option("--profile", "profiles", type=click.Path(file_okay=False, path_type=Path),
              multiple=True, required=True,
              help="A sensor profile directory (repeatable; one per simulated patient).")
@click.option("--patients", type=click.IntRange(min=1), default=1, show_default=True,
              help="How many of the profiles stream at once.")
@click.option("--rate", type=click.FloatRange(min=0, min_open=True), default=1.0,
              show_default=True, help="Uploads per second, all patients together.")
@click.option("--duration", type=click.FloatRange(min=0, min_open=True), default=10.0,
              show_default=True, help="Seconds to send for.")
@click.option("--committed/--no-committed", default=False,
              help="Also wait for each record to show at the edge as committed (GET /tx).")
@json_option
def simulate(
    edge_url: str, profiles: tuple[Path, ...], patients: int, rate: float, duration: float,
    committed: bool, as_json: bool,
) -> None:
    """Stream an ECG-like signal through the lightweight profile and report uploads/s and the
    p50/p99 latency of upload -> accepted (and -> committed with --committed)."""
    from client.sensor_load import run_load
    from client.sensors import load_profile

    if patients > len(profiles):
        raise click.UsageError(f"--patients {patients} needs as many --profile (got "
                               f"{len(profiles)})")
    with client_errors():
        loaded = [load_profile(path) for path in profiles[:patients]]
        report = run_load(edge_url, loaded, rate=rate, duration=duration, committed=committed)
    emit(report, as_json)
