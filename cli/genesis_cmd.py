"""``iomtshare genesis assemble|add-edge|install|validate|show``: one genesis for many hosts.

Each operator exports its node's public info (``iomtshare keys show --home DIR --json``); one of
them assembles the genesis from every info; each installs the genesis and the infos, which sets
the other nodes as its peers. docs/deployment.md walks through it for 4 hosts.

With ``--authority-dir`` the assembly is also the authority's key ceremony (:mod:`node.ceremony`),
run offline by the authority: it makes the FAME master key and the domain key, deals the domain
key to the nodes and puts the public parts into the genesis; each operator then installs its
node's sealed share with ``genesis install --domain-share``.

``add-edge`` lists an edge (light node, ``iomtshare init --role edge``) by its public info; it
changes the genesis hash, so it is done before any node starts. ``install`` into an edge's home
makes every consensus node its peer.
"""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from cli.common import backend_option, emit, json_option

if TYPE_CHECKING:
    from ledger.genesis import Genesis
    from node.assembly import NodePublicInfo

genesis_file_argument = click.argument(
    "genesis_file", type=click.Path(dir_okay=False, path_type=Path)
)
infos_argument = click.argument(
    "info_files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path)
)


@click.group("genesis")
def genesis() -> None:
    """Assemble, install, validate or show a genesis."""


def _authority_key(ctx: click.Context, param: click.Parameter, value: str | None) -> bytes | None:
    if value is None:
        return None
    try:
        raw = bytes.fromhex(value.strip())
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise click.BadParameter("the authority's verify key is 64 hex digits")
    return raw


def _infos(paths: tuple[Path, ...]) -> list[NodePublicInfo]:
    from node.assembly import NodePublicInfo
    from node.config import ConfigError

    try:
        return [NodePublicInfo.load(path) for path in paths]
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc


def _load(path: Path) -> Genesis:
    from ledger.genesis import Genesis, GenesisError

    try:
        return Genesis.load(path)
    except OSError as exc:
        raise click.ClickException(f"cannot read {path}: {exc.strerror}") from exc
    except GenesisError as exc:
        raise click.ClickException(f"{path} is not a valid genesis: {exc}") from exc


def _summary(value: Genesis) -> dict[str, Any]:
    started = datetime.datetime.fromtimestamp(value.genesis_time_ms / 1000, datetime.UTC)
    domain = value.domain
    # The authority's keys, when the genesis has them (long keys shown by a fingerprint).
    authority_keys = (
        {}
        if domain is None or value.fame_public_key is None
        else {
            "domain_epoch": domain.epoch,
            "domain_public_key_sha256": _short_digest(domain.public_key),
            "fame_public_key_sha256": _short_digest(value.fame_public_key),
        }
    )
    return {
        "chain_id": value.chain_id,
        "genesis_hash": value.hash().hex(),
        "genesis_time": started.isoformat(timespec="seconds"),
        "nodes": value.size,
        "edges": len(value.edges),
        "threshold": value.threshold,
        "quorum": value.quorum,
        "authority_key": value.authority_key.hex(),
        "block_interval_ms": value.block_interval_ms,
        "round_timeout_ms": value.round_timeout_ms,
        "freshness_window_ms": value.freshness_window_ms,
        "denial_limit": value.denial_limit,
        **authority_keys,
    }


def _short_digest(data: bytes) -> str:
    """A 16-hex-digit fingerprint of a long key, for humans comparing two genesis files."""
    import hashlib

    return hashlib.sha256(data).hexdigest()[:16]


@genesis.command("assemble")
@infos_argument
@click.option("--chain-id", required=True, help="The chain's name (every node must agree).")
@click.option(
    "--authority", "authority_key", default=None, callback=_authority_key,
    help="The authority's verify key (hex; `iomtshare authority init` prints it). Needed "
    "unless --authority-dir gives the authority's key.",
)
@click.option(
    "--authority-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
    help="Run the authority's key ceremony (offline): DIR holds authority_key; the FAME master "
    "key and the nodes' sealed domain shares (DIR/domain_shares) are written there, the public "
    "parts into the genesis.",
)
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), default=Path("genesis.json"),
    show_default=True, help="Where to write the genesis.",
)
@click.option("--threshold", type=click.IntRange(1), default=None,
              help="t of the t-of-n re-encryption (default: floor(n/2)+1).")
@click.option("--quorum", type=click.IntRange(1), default=None,
              help="Signatures a commit needs (default: floor(n/2)+1).")
@click.option("--block-interval-ms", type=click.IntRange(1), default=None)
@click.option("--round-timeout-ms", type=click.IntRange(1), default=None)
@click.option("--freshness-window-ms", type=click.IntRange(1), default=None)
@click.option("--denial-limit", type=click.IntRange(1), default=None)
@click.option("--genesis-time-ms", type=click.IntRange(0), default=None,
              help="Chain start time (default: now).")
@click.option("--force", is_flag=True,
              help="Replace an existing --out file (and the --authority-dir keys).")
@backend_option
@json_option
def assemble(
    info_files: tuple[Path, ...],
    chain_id: str,
    authority_key: bytes | None,
    authority_dir: Path | None,
    out: Path,
    threshold: int | None,
    quorum: int | None,
    block_interval_ms: int | None,
    round_timeout_ms: int | None,
    freshness_window_ms: int | None,
    denial_limit: int | None,
    genesis_time_ms: int | None,
    force: bool,
    backend: str | None,
    as_json: bool,
) -> None:
    """Build a genesis from the nodes' info files (INFO_FILES, in node index order)."""
    from node.assembly import assemble_genesis
    from node.config import ConfigError

    if out.exists() and not force:
        raise click.ClickException(f"{out} exists; pass --force to replace it")
    params = {
        name: value
        for name, value in (
            ("block_interval_ms", block_interval_ms),
            ("round_timeout_ms", round_timeout_ms),
            ("freshness_window_ms", freshness_window_ms),
            ("denial_limit", denial_limit),
        )
        if value is not None
    }
    infos = _infos(info_files)
    extra: dict[str, Any] = {}
    try:
        if authority_dir is None:
            if authority_key is None:
                raise click.UsageError(
                    "give the authority's verify key (--authority) or --authority-dir"
                )
            built = assemble_genesis(
                infos, chain_id, authority_key, genesis_time_ms=genesis_time_ms,
                threshold=threshold, quorum=quorum, **params,
            )
        else:
            built = _ceremony(
                infos, chain_id, authority_dir, authority_key, force, backend,
                genesis_time_ms=genesis_time_ms, threshold=threshold, quorum=quorum, **params,
            )
            extra["domain_shares"] = str(authority_dir / "domain_shares")
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    built.save(out)
    emit({"out": str(out), **_summary(built), **extra}, as_json)


def _ceremony(
    infos: list[NodePublicInfo],
    chain_id: str,
    directory: Path,
    authority_key: bytes | None,
    force: bool,
    backend: str | None,
    **params: Any,
) -> Genesis:
    """``assemble --authority-dir``: the genesis with the authority's keys (node.ceremony)."""
    from crypto.groups import load_group
    from node.ceremony import assemble_with_authority, authority_signing_key

    authority = authority_signing_key(directory)
    if authority_key is not None and authority_key != authority.verify_key.raw:
        raise click.ClickException(
            f"--authority is not the verify key of {directory}/authority_key"
        )
    genesis, _ = assemble_with_authority(
        infos, chain_id, directory, load_group(backend), authority=authority, overwrite=force,
        **params,
    )
    return genesis


@genesis.command("install")
@click.option(
    "--home", type=click.Path(path_type=Path, file_okay=False), required=True,
    help="Node home directory.",
)
@genesis_file_argument
@infos_argument
@click.option(
    "--domain-share", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help="This node's sealed share of the genesis domain key (the authority's "
    "domain_shares/node{i}.domain_share); needed once when the genesis deals one.",
)
@click.option("--force", is_flag=True, help="Replace a different genesis already installed.")
@json_option
def install(
    home: Path,
    genesis_file: Path,
    info_files: tuple[Path, ...],
    domain_share: Path | None,
    force: bool,
    as_json: bool,
) -> None:
    """Copy GENESIS_FILE into --home and make the other nodes of INFO_FILES its peers; with
    --domain-share, check this node's share against the genesis and install it too."""
    from node.assembly import install_genesis
    from node.config import ConfigError, load_config
    from node.domain_share import read_sealed_share

    value = _load(genesis_file)
    if _edge_home(home, value):
        _install_edge(home, value, info_files, force, as_json)
        return
    try:
        share = read_sealed_share(domain_share) if domain_share is not None else None
        index = install_genesis(
            home, value, _infos(info_files), overwrite=force, domain_share=share
        )
        peers = load_config(home).peers
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    emit(
        {
            "home": str(home),
            "node_index": index,
            "chain_id": value.chain_id,
            "genesis_hash": value.hash().hex(),
            "peers": list(peers),
            "domain_share": value.domain is not None,
        },
        as_json,
    )


def _edge_home(home: Path, value: Genesis) -> bool:
    """Whether the key of ``home`` is listed as an edge of ``value`` (False if unreadable:
    the consensus install then reports the problem)."""
    from node.config import ConfigError
    from node.provision import NodeKeys

    try:
        return value.edge(NodeKeys.load(home).peer_id) is not None
    except (ConfigError, OSError):
        return False


def _install_edge(
    home: Path, value: Genesis, info_files: tuple[Path, ...], force: bool, as_json: bool
) -> None:
    from node.assembly import install_edge_genesis
    from node.config import ConfigError

    try:
        peers = install_edge_genesis(home, value, _infos(info_files), overwrite=force)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    emit(
        {
            "home": str(home),
            "role": "edge",
            "chain_id": value.chain_id,
            "genesis_hash": value.hash().hex(),
            "peers": list(peers),
        },
        as_json,
    )


@genesis.command("add-edge")
@genesis_file_argument
@infos_argument
@json_option
def add_edge(genesis_file: Path, info_files: tuple[Path, ...], as_json: bool) -> None:
    """List the edge nodes of INFO_FILES (their `keys show --json` output) in GENESIS_FILE,
    rewriting it. This changes the genesis hash: do it before any node runs on the genesis."""
    import dataclasses

    from node.assembly import check_genesis
    from node.config import ConfigError

    value = _load(genesis_file)
    added = tuple(info.edge_entry() for info in _infos(info_files))
    try:
        updated = dataclasses.replace(value, edges=value.edges + added)
        check_genesis(updated)
    except (ValueError, ConfigError) as exc:
        raise click.ClickException(f"cannot add the edges: {exc}") from exc
    updated.save(genesis_file)
    emit(
        {
            "genesis": str(genesis_file),
            "genesis_hash": updated.hash().hex(),
            "edges": [edge.peer_id for edge in updated.edges],
        },
        as_json,
    )


@genesis.command("validate")
@genesis_file_argument
@backend_option
@json_option
def validate(genesis_file: Path, backend: str | None, as_json: bool) -> None:
    """Check a genesis file: every field, the parameters, each node's peer id against its key,
    and the authority's keys (points, and the nodes' verification keys against the domain key).
    Exits 1 with the reason if it is not valid."""
    from crypto.groups import load_group
    from ledger.authority_keys import authority_keys
    from ledger.genesis import GenesisError
    from node.assembly import check_genesis
    from node.config import ConfigError

    value = _load(genesis_file)
    try:
        check_genesis(value)
        authority_keys(value, load_group(backend))
    except (ConfigError, GenesisError) as exc:
        raise click.ClickException(f"{genesis_file} is not a valid genesis: {exc}") from exc
    if as_json:
        emit({"ok": True, **_summary(value)}, True)
    else:
        click.echo(f"ok: {value.chain_id}, {value.size} nodes, hash {value.hash().hex()}")


@genesis.command("show")
@genesis_file_argument
@json_option
def show(genesis_file: Path, as_json: bool) -> None:
    """Print a genesis: chain parameters and the nodes."""
    value = _load(genesis_file)
    nodes = [
        {"index": n.index, "peer_id": n.peer_id, "verify_key": n.verify_key.hex()}
        for n in value.nodes
    ]
    edges = [{"peer_id": e.peer_id, "verify_key": e.verify_key.hex()} for e in value.edges]
    if as_json:
        emit({**_summary(value), "nodes": nodes, "edges": edges}, True)
        return
    emit(_summary(value), False)
    emit(nodes, False, title="nodes")
    if edges:
        emit(edges, False, title="edges")
