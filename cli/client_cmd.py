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
    MEMBER_ID,
    backend_option,
    client_errors,
    emit,
    hex_id,
    interrupted,
    json_option,
    node_option,
    note,
    open_session,
    timeout_option,
)

if TYPE_CHECKING:
    from client import MemberKeys
    from client.owner import PutStep
    from client.requester import Decision
    from client.uploads import PendingUpload

member_option = click.option(
    "--member",
    "member_dir",
    envvar="IOMTSHARE_MEMBER",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("member"),
    show_default=True,
    help="The member's key directory (or $IOMTSHARE_MEMBER).",
)

_FILE_OR_RESUME = "give a FILE to put, or --resume RECORD_ID to finish one"

quiet_option = click.option(
    "-q", "--quiet", is_flag=True, help="Print only the id (for shell variables)."
)


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
@click.argument("file", required=False,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@member_option
@node_option
@click.option("--keyword", "keywords", multiple=True, help="Search keyword (repeatable).")
@click.option(
    "--policy", default="", metavar="POLICY",
    help="Share by attributes instead of by grant: any member whose current attributes satisfy "
    "POLICY may ask, e.g. 'role:doctor and 2 of (dept:cardiology, trial:x, site:z)'.",
)
@click.option(
    "--access-limit",
    type=click.IntRange(1, 2**32 - 1),
    default=None,
    help="How many times one requester may be granted this record (delta).  [default: 100]",
)
@click.option("--resume", "resume_id", default=None, metavar="RECORD_ID",
              help="Finish an interrupted put of RECORD_ID (state saved in --member).")
@quiet_option
@timeout_option
@backend_option
@json_option
def put(
    file: Path | None,
    member_dir: Path,
    node_url: str,
    keywords: tuple[str, ...],
    policy: str,
    access_limit: int | None,
    resume_id: str | None,
    quiet: bool,
    timeout: float,
    backend: str | None,
    as_json: bool,
) -> None:
    """Encrypt FILE, publish it as a record and store its fragments on the nodes.

    Without --policy the record is shared by `client grant`; with --policy by attributes: no
    grant is needed (nor accepted), the nodes check each requester's current attributes.
    The record id and what is needed to finish are saved in --member before anything is sent;
    a put stopped by Ctrl-C or an error is finished with `--resume RECORD_ID`.
    """
    from client.errors import ClientError
    from client.owner import DEFAULT_ACCESS_LIMIT, finish_put, prepare_put
    from client.policy_records import PolicyRecordError, parse_policy
    from client.uploads import forget_upload, load_upload, save_upload

    if (file is None) == (resume_id is None):
        raise click.UsageError(_FILE_OR_RESUME)
    if resume_id is not None and (keywords or policy or access_limit is not None):
        raise click.UsageError(
            "--keyword, --policy and --access-limit were fixed by the interrupted put"
        )
    if policy:
        try:  # before any node is asked: the caret points at the problem
            parse_policy(policy)
        except PolicyRecordError as exc:
            raise click.ClickException(str(exc)) from exc
    with open_session(node_url, backend) as session:
        owner = _load(member_dir, backend)
        if resume_id is not None:
            upload = load_upload(member_dir, hex_id(resume_id, "record id"))
            if upload.put.owner != owner.member_id:
                raise click.ClickException(f"{member_dir} is not the owner of this upload")
        elif file is not None:
            try:
                upload = prepare_put(
                    session, owner, file.read_bytes(), name=file.name, keywords=keywords,
                    access_limit=DEFAULT_ACCESS_LIMIT if access_limit is None else access_limit,
                    policy=policy, source=str(file),
                )
            except KeyboardInterrupt:
                interrupted("nothing was sent; the put can simply be run again")
            saved = save_upload(member_dir, upload)
            note(f"record {upload.record_id.hex()}: upload state saved in {saved}")
        else:
            raise click.UsageError(_FILE_OR_RESUME)
        steps: list[PutStep] = []
        try:
            stored = finish_put(session, upload, timeout=timeout, on_step=steps.append)
        except KeyboardInterrupt:
            interrupted(_put_left(upload, steps, member_dir))
        except ClientError as exc:
            hint = _resume_hint(upload, member_dir)
            raise click.ClickException(f"{type(exc).__name__}: {exc}\n{hint}") from exc
        forget_upload(member_dir, upload.record_id)
    if quiet and not as_json:
        click.echo(stored.record_id.hex())
        return
    emit(stored.to_json(), as_json)


def _put_left(upload: PendingUpload, steps: list[PutStep], member_dir: Path) -> str:
    """What an interrupted put leaves behind, and how to finish it."""
    from client.owner import PutStep

    record = upload.record_id.hex()
    if PutStep.COMMITTED in steps:
        state = f"record {record} is committed but its fragments are not all stored"
    elif PutStep.SENT in steps:
        state = f"record {record} was sent (tx {upload.tx_id}) and may commit without its fragments"
    else:
        state = f"record {record} may have been sent (tx {upload.tx_id}) but is not committed yet"
    return f"{state}.\n{_resume_hint(upload, member_dir)}"


def _resume_hint(upload: PendingUpload, member_dir: Path) -> str:
    return (
        "finish it with: iomtshare client put --resume "
        f"{upload.record_id.hex()} --member {member_dir}"
    )


@client.command("grant")
@click.argument("record_id")
@click.argument("grantee", type=MEMBER_ID)
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
    grantee: bytes,
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

    record = hex_id(record_id, "record id")
    with open_session(node_url, backend) as session:
        owner = _load(member_dir, backend)
        result = grant_access(
            session,
            owner,
            record,
            grantee,
            threshold=threshold,
            lifetime_ms=int(days * 86_400_000),
            timeout=timeout,
        )
    emit(result, as_json)


@client.command("revoke")
@click.argument("record_id")
@click.argument("grantee", type=MEMBER_ID)
@member_option
@node_option
@timeout_option
@backend_option
@json_option
def revoke(
    record_id: str,
    grantee: bytes,
    member_dir: Path,
    node_url: str,
    timeout: float,
    backend: str | None,
    as_json: bool,
) -> None:
    """Withdraw GRANTEE's access to RECORD_ID (member id, or its member directory)."""
    from client.owner import revoke_access

    record = hex_id(record_id, "record id")
    with open_session(node_url, backend) as session:
        owner = _load(member_dir, backend)
        emit(revoke_access(session, owner, record, grantee, timeout=timeout), as_json)


@client.command("request")
@click.argument("record_id")
@member_option
@node_option
@click.option("--no-wait", is_flag=True, help="Print the request id and return at once.")
@quiet_option
@timeout_option
@backend_option
@json_option
def request(
    record_id: str,
    member_dir: Path,
    node_url: str,
    no_wait: bool,
    quiet: bool,
    timeout: float,
    backend: str | None,
    as_json: bool,
) -> None:
    """Ask for RECORD_ID (a fresh signed request) and wait for the network's decision.

    The request id is printed on stderr as soon as the request is sent: a granted request
    counts against the record's access limit even if this command is stopped. Exits with
    status 1 if the request is denied.
    """
    from client.policy_records import key_warning
    from client.requester import request_access, wait_decision

    record = hex_id(record_id, "record id")
    with open_session(node_url, backend) as session:
        requester = _load(member_dir, backend)
        problem = key_warning(session, requester, member_dir, record)
        if problem:
            note(f"warning: {problem}")
        request_id = request_access(session, requester, record)
        if no_wait:
            if quiet and not as_json:
                click.echo(request_id)
            else:
                emit({"request_id": request_id, "status": "pending"}, as_json)
            return
        fetch_hint = f"iomtshare client fetch {record.hex()} {request_id} --member {member_dir}"
        note(f"request {request_id} sent; waiting for the decision")
        try:
            decision = wait_decision(session, request_id, timeout)
        except KeyboardInterrupt:
            interrupted(
                f"request {request_id} was sent and may still be granted (counting against "
                f"the record's access limit).\nsee its decision and fetch the data with: "
                f"{fetch_hint}"
            )
    _warn_standing(decision)
    if quiet and not as_json:
        click.echo(request_id)
    else:
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
@click.option(
    "--via-edge", "edge_url", default=None, metavar="URL",
    help="Fetch the bulk data through this edge's HTTP API (it checks the token and relays "
    "the fragments of the consensus nodes); the decision and the record are still read from "
    "--node.",
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
    edge_url: str | None,
    timeout: float,
    backend: str | None,
    as_json: bool,
) -> None:
    """Fetch RECORD_ID granted by REQUEST_ID, decrypt it, check its digest, write --output.

    With --via-edge the signed access token goes to that edge instead of the node; the output
    is the same.

    A policy record also needs the member's attribute key: the latest the authority published
    on chain (`iomtshare authority issue-keys`), else the copy in MEMBER/attribute_key."""
    from client.http import NodeClient
    from client.policy_records import member_attribute_key
    from client.requester import fetch_and_decrypt, wait_decision
    from ledger.keyfiles import write_atomic

    record = hex_id(record_id, "record id")
    hex_id(request_id, "request id")
    try:
        edge = None if edge_url is None else NodeClient(edge_url)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--via-edge") from exc
    with open_session(node_url, backend) as session:
        requester = _load(member_dir, backend)
        decision = wait_decision(session, request_id.lower(), timeout)
        _warn_standing(decision)
        try:
            data, metadata = fetch_and_decrypt(
                session, requester, record, decision,
                lambda: member_attribute_key(session, requester, member_dir),
                via_edge=edge,
            )
        finally:
            if edge is not None:
                edge.close()
    # Decrypted medical data: readable by its owner only, whatever the umask, and never
    # written through a symlink or left half-written.
    write_atomic(output, data, mode=0o600)
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


def _warn_standing(decision: Decision) -> None:
    """On stderr, the node's warning that this member is near or on the blacklist."""
    if decision.warning:
        note(f"warning: {decision.warning}")
