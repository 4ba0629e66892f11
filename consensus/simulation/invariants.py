"""The properties every simulated run must keep, checked from the ledgers it leaves behind.

- agreement: no two honest nodes commit different blocks at one height (so every honest chain
  is a prefix of every longer one);
- exactly once: no item appears twice in a chain;
- every committed block carries a valid commit QC;
- bad shares never enter a block: every approval in a committed block carries a correct share,
  and every approved request's combined result opens for the requester;
- evidence is never held against an honest node;
- a request the honest nodes deny never yields a ciphertext;
- liveness (for runs whose faults end and leave a quorum of honest nodes up): every submitted
  item is committed on every honest node that is up, and decided the way the honest nodes
  decide it.
"""

from __future__ import annotations

from consensus.encoding import ItemKind
from consensus.simulation.fake import decode_block, fake_commit_payload, fake_request
from consensus.simulation.simulator import SimResult


def check_safety(result: SimResult) -> list[str]:
    """Violations of the safety properties (empty when none)."""
    sc = result.scenario
    world = result.world
    problems: list[str] = []
    chains = {i: result.ledgers[i].blocks for i in sc.honest()}
    by_height: dict[int, dict[bytes, list[int]]] = {}
    for i, chain in chains.items():
        for block in chain:
            by_height.setdefault(block.height, {}).setdefault(block.block_hash, []).append(i)
    for height, hashes in sorted(by_height.items()):
        if len(hashes) > 1:
            listing = "; ".join(f"{h.hex()[:8]} on {nodes}" for h, nodes in hashes.items())
            problems.append(f"agreement: height {height} has different blocks: {listing}")
    honest = set(sc.honest())
    for i in honest:
        for evidence in result.evidence[i]:
            if evidence.offender in honest:
                problems.append(f"n{i} holds evidence against honest n{evidence.offender}")
    for i in sc.honest():
        ledger = result.ledgers[i]
        seen: set[bytes] = set()
        for block, content in zip(ledger.blocks, ledger.contents, strict=True):
            payload = fake_commit_payload("sim-chain", block.height, block.round, block.block_hash)
            signers = set(block.signers)
            if len(signers) < sc.quorum or len(signers) != len(block.signers):
                problems.append(f"n{i} h{block.height}: commit QC has too few signers")
            for signer, sig in zip(block.signers, block.signatures, strict=True):
                if not world.verifier.verify(signer, payload, sig):
                    problems.append(f"n{i} h{block.height}: bad commit signature of n{signer}")
            for ident in content.item_ids():
                if ident in seen:
                    problems.append(f"n{i} h{block.height}: item {ident.hex()[:8]} twice")
                seen.add(ident)
            _, _, _, results = decode_block(block.block)
            with_ciphertext = dict(results)
            for decided in content.approved:
                request = fake_request(decided.request)
                body = decided.request.body
                if not request.allowed and decided.request_id in with_ciphertext:
                    problems.append(
                        f"n{i} h{block.height}: denied request {request.nonce} got a ciphertext"
                    )
                result_ct = with_ciphertext.get(decided.request_id)
                if result_ct is None or not world.shares.result_ok(body, result_ct):
                    problems.append(
                        f"n{i} h{block.height}: request {request.nonce} has no usable result"
                    )
                for vote in decided.votes:
                    if not vote.approve or not world.shares.verify(vote.voter, body, vote.share):
                        problems.append(
                            f"n{i} h{block.height}: bad share of n{vote.voter} in a block"
                        )
    return problems


def check_liveness(result: SimResult) -> list[str]:
    """Items not committed (or decided against the honest nodes) on honest nodes still up."""
    sc = result.scenario
    problems: list[str] = []
    for i in sc.honest():
        if i not in result.up_at_end:
            continue
        ledger = result.ledgers[i]
        approved: set[bytes] = set()
        denied: set[bytes] = set()
        for content in ledger.contents:
            approved.update(b.request_id for b in content.approved)
            denied.update(b.request_id for b in content.denied)
        for sub, item in result.submitted:
            ident = item.item_id
            if ident not in ledger.items:
                problems.append(f"n{i}: {sub.kind} {ident.hex()[:8]} never committed")
            elif item.kind is ItemKind.REQUEST:
                expected = approved if sub.allowed else denied
                if ident not in expected:
                    problems.append(f"n{i}: request {ident.hex()[:8]} decided the wrong way")
    if not result.finished and not problems:
        problems.append("run did not finish")
    return problems


def check_all(result: SimResult) -> list[str]:
    return check_safety(result) + check_liveness(result)
