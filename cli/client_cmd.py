"""``iomtshare client ...``: a member's commands (keys, store, grant, revoke, request, fetch).

The member's keys live in a directory (``--member``, default ``./member`` or
``$IOMTSHARE_MEMBER``) written by ``client keygen``; hand its ``member.json`` to the authority
to be registered, then run ``client publish-key`` once.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from cli.common import (
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
    from client import MemberKeys

member_option = click.option(
    "--member",
    "member_dir",
    envvar="IOMTSHARE_MEMBER",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("member"),
    show_default=True,
    help="The member's key directory (or $IOMTSHARE_MEMBER).",
)


def _member_id(value: str) -> bytes:
    """A member id in hex, or a path to a member directory / member.json."""
    path = Path(value)
    if path.exists():
        from client import MemberPublic
        from client.errors import KeyStoreError

        try:
            return MemberPublic.load(path).member_id
        except KeyStoreError as exc:
            raise click.BadParameter(str(exc)) from exc
    return hex_id(value, "member id")


@click.group("client")
def client() -> None:
    """Member commands: keygen, publish-key, put, grant, revoke, request, fetch."""


@client.command("keygen")
@member_option
@click.option(
    "--role",
    type=click.Choice(["owner", "requester", "device", "edge"]),
    default="owner",
    show_default=True,
    help="Role to ask the authority for (it decides).",
)
@click.option("--force", is_flag=True, help="Replace existing keys in the directory.")
@backend_option
@json_option
def keygen(member_dir: Path, role: str, force: bool, backend: str | None, as_json: bool) -> None:
    """Create a member's Ed25519, X25519 and threshold-PRE keys in --member."""
    from client import MemberKeys, save_member
    from client.keystore import parse_role
    from crypto.groups import load_group

    with client_errors():
        keys = MemberKeys.generate(load_group(backend), parse_role(role))
        public_file = save_member(member_dir, keys, overwrite=force)
    emit(
        {"member_id": keys.member_id.hex(), "role": role, "member_file": str(public_file)},
        as_json,
    )
    if not as_json:
        click.echo(f"give {public_file} to the authority, then run `iomtshare client publish-key`")


def _load(member_dir: Path, backend: str | None) -> MemberKeys:
    from client import load_member
    from crypto.groups import load_group

    return load_member(member_dir, load_group(backend))


@client.command("publish-key")
@member_option
@node_option
@timeout_option
@backend_option
@json_option
def publish_key(
    member_dir: Path, node_url: str, timeout: float, backend: str | None, as_json: bool
) -> None:
    """Publish this member's TPRE public key on chain (once, after registration)."""
    from client.member import publish_tpre_key

    with open_session(node_url, backend) as session:
        keys = _load(member_dir, backend)
        emit(publish_tpre_key(session, keys, timeout=timeout), as_json)


@client.command("put")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@member_option
@node_option
@click.option("--keyword", "keywords", multiple=True, help="Search keyword (repeatable).")
@click.option(
    "--access-limit",
    type=click.IntRange(1, 2**32 - 1),
    default=100,
    show_default=True,
    help="How many times one requester may be granted this record (delta).",
)
@timeout_option
@backend_option
@json_option
def put(
    file: Path,
    member_dir: Path,
    node_url: str,
    keywords: tuple[str, ...],
    access_limit: int,
    timeout: float,
    backend: str | None,
    as_json: bool,
) -> None:
    """Encrypt FILE, store its fragments on the nodes and publish it as a record."""
    from client.owner import put_file

    data = file.read_bytes()
    with open_session(node_url, backend) as session:
        owner = _load(member_dir, backend)
        stored = put_file(
            session,
            owner,
            data,
            name=file.name,
            keywords=keywords,
            access_limit=access_limit,
            timeout=timeout,
        )
    emit(stored.to_json(), as_json)


@client.command("grant")
@click.argument("record_id")
@click.argument("grantee")
@member_option
@node_option
@click.option("--threshold", type=click.IntRange(1, 1024), help="t (default: genesis).")
@click.option(
    "--days", type=click.FloatRange(0.001, 36500), default=365.0, show_default=True,
    help="Lifetime of the grant.",
)
@timeout_option
@backend_option
@json_option
def grant(
    record_id: str,
    grantee: str,
    member_dir: Path,
    node_url: str,
    threshold: int | None,
    days: float,
    timeout: float,
    backend: str | None,
    as_json: bool,
) -> None:
    """Grant GRANTEE (member id, or its member directory) access to RECORD_ID."""
    from client.owner import grant_access

    record, member = hex_id(record_id, "record id"), _member_id(grantee)
    with open_session(node_url, backend) as session:
        owner = _load(member_dir, backend)
        result = grant_access(
            session,
            owner,
            record,
            member,
            threshold=threshold,
            lifetime_ms=int(days * 86_400_000),
            timeout=timeout,
        )
    emit(result, as_json)


@client.command("revoke")
@click.argument("record_id")
@click.argument("grantee")
@member_option
@node_option
@timeout_option
@backend_option
@json_option
def revoke(
    record_id: str,
    grantee: str,
    member_dir: Path,
    node_url: str,
    timeout: float,
    backend: str | None,
    as_json: bool,
) -> None:
    """Withdraw GRANTEE's access to RECORD_ID."""
    from client.owner import revoke_access

    record, member = hex_id(record_id, "record id"), _member_id(grantee)
    with open_session(node_url, backend) as session:
        owner = _load(member_dir, backend)
        emit(revoke_access(session, owner, record, member, timeout=timeout), as_json)


@client.command("request")
@click.argument("record_id")
@member_option
@node_option
@click.option("--no-wait", is_flag=True, help="Print the request id and return at once.")
@timeout_option
@backend_option
@json_option
def request(
    record_id: str,
    member_dir: Path,
    node_url: str,
    no_wait: bool,
    timeout: float,
    backend: str | None,
    as_json: bool,
) -> None:
    """Ask for RECORD_ID (a fresh signed request) and wait for the network's decision.

    Exits with status 1 if the request is denied.
    """
    from client.requester import request_access, wait_decision

    record = hex_id(record_id, "record id")
    with open_session(node_url, backend) as session:
        requester = _load(member_dir, backend)
        request_id = request_access(session, requester, record)
        if no_wait:
            emit({"request_id": request_id, "status": "pending"}, as_json)
            return
        decision = wait_decision(session, request_id, timeout)
    emit(decision.to_json(), as_json)
    if decision.status != "granted":
        raise click.ClickException(f"request denied: {decision.reason or 'no reason given'}")


@client.command("fetch")
@click.argument("record_id")
@click.argument("request_id")
@member_option
@node_option
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
    help="Where to write the decrypted file.",
)
@timeout_option
@backend_option
@json_option
def fetch(
    record_id: str,
    request_id: str,
    member_dir: Path,
    node_url: str,
    output: Path,
    timeout: float,
    backend: str | None,
    as_json: bool,
) -> None:
    """Fetch RECORD_ID granted by REQUEST_ID, decrypt it, check its digest, write --output."""
    from client.requester import fetch_and_decrypt, wait_decision

    record = hex_id(record_id, "record id")
    hex_id(request_id, "request id")
    with open_session(node_url, backend) as session:
        requester = _load(member_dir, backend)
        decision = wait_decision(session, request_id.lower(), timeout)
        data, metadata = fetch_and_decrypt(session, requester, record, decision)
    output.write_bytes(data)
    emit(
        {
            "record_id": record.hex(),
            "name": metadata.name,
            "bytes": len(data),
            "file_digest": metadata.file_digest.hex(),
            "output": str(output),
        },
        as_json,
    )
