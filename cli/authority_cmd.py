"""``iomtshare authority ...``: the offline authority key, member registration, attributes,
lifting a blacklisting, members' attribute keys (published on chain), dealing the domain key
again (``rotate-domain-key``), and devices with their ReKeys (``register-device``,
``rekey-device``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from cli.common import (
    MEMBER_ID,
    backend_option,
    client_errors,
    emit,
    json_option,
    node_option,
    open_session,
    timeout_option,
)

if TYPE_CHECKING:
    from client.session import Session
    from crypto.signing import SigningKey

key_option = click.option(
    "--key",
    "key_file",
    envvar="IOMTSHARE_AUTHORITY_KEY",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="The authority key file (a testnet's is DIR/authority/authority_key).",
)


def _authority_key(path: Path) -> SigningKey:
    from crypto.signing import SigningKey
    from ledger.keyfiles import KeyFileError, load_secret

    try:
        return SigningKey(load_secret(path))
    except KeyFileError as exc:
        raise click.ClickException(str(exc)) from exc


#: Where the authority directory keeps the FAME master key (node.ceremony writes it there).
FAME_MASTER_KEY_FILE = "fame_master_key"

authority_dir_option = click.option(
    "--authority-dir", type=click.Path(file_okay=False, path_type=Path),
    envvar="IOMTSHARE_AUTHORITY_DIR", default=None,
    help="The authority directory holding fame_master_key (default: the --key file's "
    "directory, as in a testnet's DIR/authority).",
)


def _issue_and_publish(
    session: Session, key: SigningKey, authority_dir: Path, member_id: bytes, timeout: float
) -> tuple[Any, dict[str, Any]]:
    """Issue ``member_id``'s attribute key for its current attributes and publish it on chain;
    returns the issued key and the publication's answer."""
    from client.attribute_keys import issue_attribute_key, publish_attribute_key
    from node.ceremony import load_fame_master
    from node.config import ConfigError

    try:
        master = load_fame_master(authority_dir, session.group)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    issued = issue_attribute_key(session, key, master, member_id)
    return issued, publish_attribute_key(session, key, issued, timeout=timeout)


@click.group("authority")
def authority() -> None:
    """Authority commands: init, register, attributes, issue-keys, unblacklist,
    rotate-domain-key, register-device, rekey-device."""


@authority.command("init")
@click.option(
    "--key", "key_file", type=click.Path(dir_okay=False, path_type=Path), required=True,
    help="Where to write the new authority key (mode 0600).",
)
@click.option("--force", is_flag=True, help="Replace an existing key file.")
@json_option
def init(key_file: Path, force: bool, as_json: bool) -> None:
    """Create an authority key; its public key goes into a genesis."""
    from crypto.signing import SigningKey
    from ledger.keyfiles import save_secret

    if key_file.exists() and not force:
        raise click.ClickException(f"{key_file} exists; pass --force to replace it")
    key = SigningKey.generate()
    save_secret(key_file, key.seed())
    emit({"key_file": str(key_file), "verify_key": key.verify_key.hex()}, as_json)


@authority.command("register")
@click.argument("member_file", type=click.Path(exists=True, path_type=Path))
@key_option
@node_option
@click.option(
    "--role", type=click.Choice(["owner", "requester", "device", "edge"]), default=None,
    help="Role to register (default: the one the member asked for).",
)
@click.option("--attr", "attributes", multiple=True, help="Initial attribute (repeatable).")
@timeout_option
@backend_option
@json_option
def register(
    member_file: Path,
    key_file: Path,
    node_url: str,
    role: str | None,
    attributes: tuple[str, ...],
    timeout: float,
    backend: str | None,
    as_json: bool,
) -> None:
    """Register the member described by MEMBER_FILE (its member.json or directory)."""
    from client import MemberPublic
    from client.authority import register_member
    from client.keystore import parse_role

    key = _authority_key(key_file)
    with client_errors():
        member = MemberPublic.load(member_file)
    with open_session(node_url, backend) as session:
        result = register_member(
            session,
            key,
            member,
            role=parse_role(role) if role else None,
            attributes=attributes,
            timeout=timeout,
        )
    emit(result, as_json)


@authority.command("attributes")
@click.argument("member", type=MEMBER_ID)
@key_option
@node_option
@click.option("--attr", "attributes", multiple=True,
              help="The new attribute set, replacing the old one (repeatable).")
@click.option("--clear", is_flag=True, help="Remove every attribute (instead of --attr).")
@click.option("--reason", default="", help="Why the attributes change (kept on chain).")
@authority_dir_option
@timeout_option
@backend_option
@json_option
def attributes(
    member: bytes,
    key_file: Path,
    node_url: str,
    attributes: tuple[str, ...],
    clear: bool,
    reason: str,
    authority_dir: Path | None,
    timeout: float,
    backend: str | None,
    as_json: bool,
) -> None:
    """Replace MEMBER's attributes (member id or member directory); appended to its
    attribute-change chain. Give the new set with --attr, or --clear to remove them all.

    When the authority's FAME master key is at hand (AUTHORITY_DIR/fame_master_key, by default
    next to the --key file), MEMBER's attribute key is issued again for the new attributes and
    published on chain once the change commits, so the member's client fetches the new key
    from any node; otherwise run `iomtshare authority issue-keys MEMBER` where it is."""
    from client.attribute_keys import AttributeKeyError
    from client.authority import change_attributes

    if clear == bool(attributes):
        # An empty set wipes every attribute: never the result of a forgotten option.
        raise click.UsageError(
            "give the new attributes with --attr (repeatable), or --clear to remove them all"
            if not clear
            else "--clear removes every attribute; it cannot be given with --attr"
        )
    key = _authority_key(key_file)
    directory = authority_dir if authority_dir is not None else key_file.parent
    with open_session(node_url, backend) as session:
        result = change_attributes(
            session, key, member, attributes, reason=reason, timeout=timeout
        )
        if (directory / FAME_MASTER_KEY_FILE).exists():
            try:
                issued, published = _issue_and_publish(session, key, directory, member, timeout)
                result["attribute_key"] = (
                    f"reissued for link {issued.attribute_seq}, published in block "
                    f"{published.get('height')}"
                )
            except AttributeKeyError as exc:
                result["attribute_key"] = f"not reissued: {exc}"
        else:
            result["attribute_key"] = (
                f"not reissued: no {FAME_MASTER_KEY_FILE} in {directory} "
                "(run `iomtshare authority issue-keys MEMBER` where it is)"
            )
    emit(result, as_json)


@authority.command("unblacklist")
@click.argument("member", type=MEMBER_ID)
@key_option
@node_option
@click.option(
    "--reason", required=True,
    help="Why the blacklisting is lifted (kept on chain, in the transaction).",
)
@timeout_option
@backend_option
@json_option
def unblacklist(
    member: bytes,
    key_file: Path,
    node_url: str,
    reason: str,
    timeout: float,
    backend: str | None,
    as_json: bool,
) -> None:
    """Lift MEMBER's blacklisting (member id or member directory): its denial count starts
    again from zero, and the unblacklisting goes on the sharing-audit chain
    (`iomtshare explore audit --requester MEMBER` shows it)."""
    from client.authority import unblacklist_member

    if not reason.strip():
        raise click.UsageError("--reason must say why the blacklisting is lifted")
    key = _authority_key(key_file)
    with open_session(node_url, backend) as session:
        result = unblacklist_member(session, key, member, reason=reason, timeout=timeout)
    emit(result, as_json)


@authority.command("issue-keys")
@click.argument("member")
@click.option(
    "--authority-dir", type=click.Path(file_okay=False, path_type=Path),
    envvar="IOMTSHARE_AUTHORITY_DIR", required=True,
    help="The authority directory with authority_key and fame_master_key (a testnet's is "
    "DIR/authority).",
)
@node_option
@click.option(
    "--out", type=click.Path(path_type=Path), default=None,
    help="Also keep a copy here (default: MEMBER/attribute_key for a member directory, else "
    "none).",
)
@timeout_option
@backend_option
@json_option
def issue_keys(
    member: str,
    authority_dir: Path,
    node_url: str,
    out: Path | None,
    timeout: float,
    backend: str | None,
    as_json: bool,
) -> None:
    """Issue MEMBER's attribute key for its current on-chain attributes (member id or member
    directory), sealed to the member's box key, and publish it on chain: the member's client
    fetches it from any node (GET /members/{id}/attribute-key). `authority attributes` does
    this by itself when the FAME master key is at hand; otherwise issue again after every
    attribute change."""
    from cli.common import member_id_of
    from client.keystore import save_issued_key
    from node.ceremony import authority_signing_key
    from node.config import ConfigError

    member_id = member_id_of(member)
    if out is None:
        given = Path(member).expanduser()
        directory = given.parent if given.is_file() else given
        out = directory / "attribute_key" if directory.is_dir() else None
    with open_session(node_url, backend) as session:
        try:
            key = authority_signing_key(authority_dir)
        except ConfigError as exc:
            raise click.ClickException(str(exc)) from exc
        issued, published = _issue_and_publish(session, key, authority_dir, member_id, timeout)
        written = save_issued_key(out, issued) if out is not None else None
    emit(
        {
            "member_id": member_id.hex(),
            "attributes": list(issued.attributes),
            "attribute_seq": issued.attribute_seq,
            "tx_id": published["tx_id"],
            "height": published.get("height"),
            "out": str(written) if written is not None else None,
        },
        as_json,
    )


@authority.command("rotate-domain-key")
@key_option
@node_option
@click.option(
    "--threshold", type=click.IntRange(1, 1024), default=None,
    help="t of the new epoch (default: the current epoch's; at least the network's).",
)
@click.option("--reason", default="", help="Why the key is dealt again (kept on chain).")
@timeout_option
@backend_option
@json_option
def rotate_domain_key(
    key_file: Path,
    node_url: str,
    threshold: int | None,
    reason: str,
    timeout: float,
    backend: str | None,
    as_json: bool,
) -> None:
    """Deal the domain key again as a new epoch (seed 000's ReKeyUpdate).

    A fresh domain key is made here, its p2 dealt t-of-n to the genesis nodes, and an
    authority-signed transaction carries the new public key, every VK_i and each node's share
    sealed to its box key; the secret itself is never written. Every node keeps every epoch's
    share, so records put before the rotation keep their epoch and stay readable; new records
    must use the new epoch. The sealed shares stay on chain: a node's box key that leaks later
    opens its shares of every epoch (docs/attribute-sharing.md). Registered devices keep their
    ReKeys of earlier epochs; give each its ReKey of the new epoch with `authority
    rekey-device`, since an edge can submit a device's records only under the current epoch."""
    from client.authority import rotate_domain_key as rotate

    key = _authority_key(key_file)
    with open_session(node_url, backend) as session:
        try:
            result = rotate(session, key, threshold=threshold, reason=reason, timeout=timeout)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from exc
    emit(result, as_json)


device_key_option = click.option(
    "--device-key", "device_key", type=click.Path(exists=True, path_type=Path), required=True,
    help="The device's secret key: a directory from `iomtshare device keygen` or its "
    "device_secret_key file.",
)


def _device_key(session: Session, path: Path) -> Any:
    from client.devices import DeviceKeyError, load_device_key

    try:
        return load_device_key(session.group, path)
    except DeviceKeyError as exc:
        raise click.ClickException(str(exc)) from exc


@authority.command("register-device")
@device_key_option
@click.option("--owner", type=MEMBER_ID, required=True,
              help="The member (patient) whose data the device measures: an id or member dir.")
@click.option("--edge", "edge", required=True,
              help="Peer id of the genesis edge that submits the device's records.")
@key_option
@node_option
@timeout_option
@backend_option
@json_option
def register_device(
    device_key: Path,
    owner: bytes,
    edge: str,
    key_file: Path,
    node_url: str,
    timeout: float,
    backend: str | None,
    as_json: bool,
) -> None:
    """Put a device on chain: its public key, its owner, its edge, and its ReKey to the
    current domain epoch, made here from the device secret (seed 000's ReKeyGen).

    The ReKey is public on chain: it only turns the device's ciphertexts into ciphertexts
    under the domain key, which t of the n nodes together can open. The node refuses an owner
    that is not registered, an edge the genesis does not list, and a device already on chain."""
    from client.devices import register_device as register

    key = _authority_key(key_file)
    with open_session(node_url, backend) as session:
        device = _device_key(session, device_key)
        result = register(session, key, device, owner, edge, timeout=timeout)
    emit(result, as_json)


@authority.command("rekey-device")
@device_key_option
@key_option
@node_option
@timeout_option
@backend_option
@json_option
def rekey_device(
    device_key: Path, key_file: Path, node_url: str, timeout: float, backend: str | None,
    as_json: bool,
) -> None:
    """Give a registered device its ReKey to the current domain epoch (after
    rotate-domain-key; seed 000's ReKeyUpdate for one device). Its ReKeys of earlier epochs
    stay on chain."""
    from client.devices import rekey_device as rekey

    key = _authority_key(key_file)
    with open_session(node_url, backend) as session:
        device = _device_key(session, device_key)
        result = rekey(session, key, device, timeout=timeout)
    emit(result, as_json)
