"""Why the edge's :class:`~node.edge.proofs.ProofFetcher` could not fetch a verified item:
typed errors with the HTTP status the edge answers them with."""

from __future__ import annotations

from ledger.inclusion import ProofKind

__all__ = ["HeaderBehind", "ItemNotFound", "ProofError", "ProofRefused", "failure_of", "what_of"]


class ProofError(Exception):
    """Why no verified item could be fetched; ``code`` names the case, ``http_status`` is how
    the edge's HTTP API answers it."""

    code = "unavailable"
    http_status = 503


class ItemNotFound(ProofError):
    """Every node asked said it has no committed item with that id."""

    code = "not_found"
    http_status = 404


class ProofRefused(ProofError):
    """Answers came, but none with a proof that verifies (bad encoding, wrong item, wrong
    path or height)."""

    code = "proof_invalid"
    http_status = 502


class HeaderBehind(ProofError):
    """The proof is for a height this edge has not verified a header of yet."""

    code = "header_behind"
    http_status = 503


def failure_of(kind: ProofKind, item_id: bytes, outcomes: dict[str, str], tip: int) -> ProofError:
    """The error for a fetch no peer answered with a verified proof: a refused proof first,
    then a header this edge lacks, then not found, then the transport failures."""
    what = what_of(kind, item_id)
    seen = set(outcomes.values())
    summary = ", ".join(f"{peer}: {outcome}" for peer, outcome in outcomes.items())
    if "refused" in seen:
        return ProofRefused(f"no verifiable proof of {what} ({summary})")
    if "behind" in seen:
        return HeaderBehind(
            f"the proof of {what} is above this edge's verified headers (tip {tip}); retry"
        )
    if "not_found" in seen:
        return ItemNotFound(f"no consensus node asked has a committed {what} ({summary})")
    return ProofError(f"no consensus node answered for {what} ({summary})")


def what_of(kind: ProofKind, item_id: bytes) -> str:
    return f"{kind.name.lower()} {item_id.hex()}"
