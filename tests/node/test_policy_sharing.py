"""Policy records through the consensus nodes (issue 13 items 1-4), in memory under real
consensus machines: decided by the policy alone, answered with domain-key decryption shares that
combine to what only the requester turns into K_pre."""

from __future__ import annotations

import dataclasses

import pytest

from consensus.encoding import ItemKind
from consensus.errors import InvalidBlock
from crypto.dual import (
    DecryptionRequest,
    DecryptionShare,
    NormalizedCiphertext,
    requester_decrypt,
    setup,
    verify_ciphertext,
)
from ledger import content
from ledger.content import record_context
from ledger.transactions import (
    AccessRequest,
    AttributeChange,
    MemberRole,
    PutRecord,
    decode_transaction,
    tx_id_of,
)
from node.application import NodeApplication
from tests.node.app_world import AppWorld, Member, make_world
from tests.node.lagging_node import fresh_application
from tests.node.test_application import authorize, decide, problem_of

#: A k-of-n gate: any two of the three.
POLICY = "2 of (role:doctor, dept:cardio, site:x)"
DOCTOR = ("role:doctor", "site:x")


@pytest.fixture(scope="module")
def keyed() -> AppWorld:
    return make_world(authority_keys=True)


@pytest.fixture(scope="module")
def people(keyed: AppWorld) -> tuple[Member, Member, Member]:
    """An owner, a doctor who satisfies POLICY and a nurse who does not; keys published."""
    owner, register_owner = keyed.member(MemberRole.OWNER)
    doctor, register_doctor = keyed.member(MemberRole.REQUESTER, DOCTOR)
    nurse, register_nurse = keyed.member(MemberRole.REQUESTER, ("role:nurse", "site:x"))
    keyed.commit_all([register_owner, register_doctor, register_nurse])
    keyed.commit_all([keyed.publish_key(m) for m in (owner, doctor, nurse)])
    return owner, doctor, nurse


def policy_record(world: AppWorld, owner: Member, access_limit: int = 5) -> tuple[bytes, bytes]:
    record_id, put, k_pre = world.put_policy_record(owner, POLICY, access_limit)
    world.commit_all([put])
    return record_id, k_pre


def opened_k_pre(world: AppWorld, member: Member, request: bytes, combined: bytes) -> bytes:
    """What ``member`` makes of a granted decision's combined value (the requester side)."""
    params = setup(world.group)
    record = world.apps[1].ledger.record(AccessRequest.from_bytes(request).record_id)
    assert record is not None
    ciphertext = verify_ciphertext(
        params,
        NormalizedCiphertext.from_bytes(params, record.domain_ciphertext),
        record_context(record.record_id, record.owner, world.genesis.chain_id),
    )
    x1 = member.tpre.public_key().x1
    asked = DecryptionRequest(params, ciphertext, x1, tx_id_of(request))
    value = world.group.gt_from_bytes(combined)
    return requester_decrypt(params, member.tpre.scalar, asked, value, record.record_id)


def audited(world: AppWorld, member: Member, record_id: bytes) -> list[list[bool]]:
    """Each node's audit-chain decisions on ``member``'s requests for ``record_id``."""
    return [
        [a.granted for a in app.ledger.audit_by_requester(member.member_id)
         if a.record_id == record_id]
        for app in world.apps.values()
    ]


def test_a_member_satisfying_the_policy_opens_k_pre_without_a_grant(
    keyed: AppWorld, people: tuple[Member, Member, Member]
) -> None:
    owner, doctor, _ = people
    record_id, k_pre = policy_record(keyed, owner)
    request = keyed.request(doctor, record_id, attributes=DOCTOR)
    granted, combined = decide(keyed, request, to=2)
    assert granted
    assert opened_k_pre(keyed, doctor, request, combined) == k_pre
    assert all(app.ledger.grant(record_id, doctor.member_id) is None for app in keyed.apps.values())
    assert audited(keyed, doctor, record_id) == [[True]] * len(keyed.apps)


def test_a_member_not_satisfying_it_is_denied_and_audited(
    keyed: AppWorld, people: tuple[Member, Member, Member]
) -> None:
    owner, _, nurse = people
    record_id, _ = policy_record(keyed, owner)
    request = keyed.request(nurse, record_id, attributes=("role:nurse", "site:x"))
    granted, combined = decide(keyed, request)
    assert not granted
    assert combined == b""
    assert "policy" in keyed.apps[1].denial_reasons[tx_id_of(request)]
    assert audited(keyed, nurse, record_id) == [[False]] * len(keyed.apps)


def test_only_the_latest_attributes_count_and_keywords_must_match(
    keyed: AppWorld, people: tuple[Member, Member, Member]
) -> None:
    owner, doctor, _ = people
    record_id, _ = policy_record(keyed, owner)
    app = keyed.apps[3]
    aide, register = keyed.member(MemberRole.REQUESTER, ("role:aide", "site:x"))
    keyed.commit_all([register])
    keyed.commit_all([keyed.publish_key(aide)])
    claimed = keyed.request(aide, record_id, attributes=("role:doctor", "site:x"))
    assert not authorize(app, claimed).approve  # role:doctor is not the aide's on chain
    assert "latest" in app.denial_reasons[tx_id_of(claimed)]
    change = AttributeChange(aide.member_id, 1, ("role:doctor", "site:x"), "qualified", 1)
    keyed.commit_all([keyed.sign(change, keyed.authority)])
    assert authorize(app, keyed.request(aide, record_id, attributes=DOCTOR)).approve
    removed = AttributeChange(aide.member_id, 2, ("site:x",), "left", 2)
    keyed.commit_all([keyed.sign(removed, keyed.authority)])
    stale = keyed.request(aide, record_id, attributes=DOCTOR)
    assert not authorize(app, stale).approve  # the removed attribute no longer counts
    other_keywords = dataclasses.replace(
        AccessRequest.from_bytes(keyed.request(doctor, record_id, attributes=DOCTOR)),
        keywords_hash=b"\x01" * 32,
    )
    raw = keyed.sign(other_keywords, doctor.key)
    assert not authorize(app, raw).approve
    assert "keyword" in app.denial_reasons[tx_id_of(raw)]


def test_the_access_limit_denies_the_next_request(
    keyed: AppWorld, people: tuple[Member, Member, Member]
) -> None:
    owner, doctor, _ = people
    record_id, _ = policy_record(keyed, owner, access_limit=1)
    assert decide(keyed, keyed.request(doctor, record_id, attributes=DOCTOR))[0]
    second = keyed.request(doctor, record_id, attributes=DOCTOR)
    assert not decide(keyed, second)[0]
    assert "access limit" in keyed.apps[1].denial_reasons[tx_id_of(second)]


def test_a_bad_domain_share_is_not_counted(
    keyed: AppWorld, people: tuple[Member, Member, Member], monkeypatch: pytest.MonkeyPatch
) -> None:
    owner, doctor, _ = people
    record_id, k_pre = policy_record(keyed, owner)
    probe = keyed.request(doctor, record_id, attributes=DOCTOR)
    item = keyed.apps[1].decode_item(ItemKind.REQUEST, probe)
    good = authorize(keyed.apps[2], probe).share
    params = setup(keyed.group)
    parsed = DecryptionShare.from_bytes(params, good)
    forged = dataclasses.replace(parsed, value=parsed.value * parsed.value).to_bytes()
    assert keyed.apps[1].verify_share(item, 2, good)
    assert not keyed.apps[1].verify_share(item, 2, forged)  # wrong proof
    assert not keyed.apps[1].verify_share(item, 3, good)  # node 2's share claimed by node 3

    liar = keyed.apps[2]
    honest_own = liar.shares.domain.own

    def bad_own(*args: object) -> bytes:
        share = DecryptionShare.from_bytes(params, honest_own(*args))  # type: ignore[arg-type]
        return dataclasses.replace(share, value=share.value * share.value).to_bytes()

    monkeypatch.setattr(liar.shares.domain, "own", bad_own)
    request = keyed.request(doctor, record_id, attributes=DOCTOR)
    granted, combined = decide(keyed, request, to=1)
    assert granted  # three honest nodes of four still make t = 3
    assert opened_k_pre(keyed, doctor, request, combined) == k_pre


def lambda_copy(world: AppWorld, victim: bytes, attacker: Member, lam: int) -> tuple[bytes, bytes]:
    """The attacker's PutRecord for a new record whose C1 is the victim record's scaled by
    ``lam`` (with the victim's proof, since the attacker cannot make one without r)."""
    params = setup(world.group)
    record = world.apps[1].ledger.record(victim)
    assert record is not None
    stolen = NormalizedCiphertext.from_bytes(params, record.domain_ciphertext)
    scaled = dataclasses.replace(stolen, c1=stolen.c1 * lam)
    record_id = bytes(range(32))
    parts, _ = world.policy_parts(attacker, record_id, POLICY)
    parts = (parts[0], parts[1], scaled.to_bytes())
    return world.put_record(attacker, 5, POLICY, parts, record_id)


@pytest.mark.parametrize("lam", [1, 7])
def test_a_copied_or_scaled_c1_is_refused_at_admission(
    keyed: AppWorld, people: tuple[Member, Member, Member], lam: int
) -> None:
    owner, doctor, _ = people
    victim, _ = policy_record(keyed, owner)
    _, forged = lambda_copy(keyed, victim, doctor, lam)
    problem = problem_of(keyed.apps[1], forged)
    assert problem is not None
    assert problem.code == "invalid_transaction"
    assert "C1 proof" in problem.message


def test_a_scaled_c1_in_a_proposed_block_is_refused(
    keyed: AppWorld, people: tuple[Member, Member, Member], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A leader that skipped the content check proposes the forged record: followers refuse
    the block when they open it."""
    owner, doctor, _ = people
    victim, _ = policy_record(keyed, owner)
    _, forged = lambda_copy(keyed, victim, doctor, 5)
    leader = keyed.apps[1].ledger
    with monkeypatch.context() as patched:
        patched.setattr(content, "check_put_record", lambda *args: None)
        block = leader.build_block(
            round=0,
            time_ms=keyed.clock_ms(),
            proposer=1,
            transactions=[decode_transaction(forged)],
            last_commit=leader.commit_qc(leader.height),
        )
    follower: NodeApplication = keyed.apps[2]
    with pytest.raises(InvalidBlock, match="C1 proof"):
        follower.open_block(block.height, block.to_bytes())


def test_a_grant_naming_a_policy_record_is_refused(
    keyed: AppWorld, people: tuple[Member, Member, Member]
) -> None:
    owner, doctor, _ = people
    record_id, _ = policy_record(keyed, owner)
    problem = problem_of(keyed.apps[1], keyed.grant(owner, record_id, doctor))
    assert problem is not None
    assert "policy record" in problem.message


def test_a_policy_record_needs_a_network_with_a_domain_key(
    world: AppWorld, shared: tuple[Member, Member, bytes]
) -> None:
    owner = shared[0]
    _, put = world.put_record(owner, policy="role:test")
    problem = problem_of(world.apps[1], put)
    assert problem is not None
    assert "domain key" in problem.message


def test_an_owner_grant_record_carries_no_sharing_ciphertexts(
    keyed: AppWorld, people: tuple[Member, Member, Member]
) -> None:
    owner = people[0]
    record_id = bytes([9]) * 32
    parts, _ = keyed.policy_parts(owner, record_id, POLICY)
    _, put = keyed.put_record(owner, 5, "", parts, record_id)
    problem = problem_of(keyed.apps[1], put)
    assert problem is not None
    assert "without a policy" in problem.message
    assert isinstance(decode_transaction(put), PutRecord)


def test_a_follower_recombines_the_shares_of_a_proposed_decision(
    keyed: AppWorld, people: tuple[Member, Member, Member]
) -> None:
    """A node opening the block of a granted decision recomputes X^p2 from the votes' shares:
    a leader that writes any other combined value has its block refused."""
    owner, doctor, _ = people
    record_id, _ = policy_record(keyed, owner)
    request = keyed.request(doctor, record_id, attributes=DOCTOR)
    assert decide(keyed, request)[0]
    source = keyed.apps[1].ledger
    stored = source.transaction(tx_id_of(request))
    assert stored is not None
    follower = fresh_application(keyed, index=4)
    for height in range(1, stored.height):
        committed = keyed.apps[1].committed_block(height)
        assert committed is not None
        follower.commit(committed)
    block = source.block(stored.height)
    assert block is not None
    honest = block.block.to_bytes()
    follower.open_block(stored.height, honest)
    results = block.block.results
    ours = next(i for i, r in enumerate(results) if r.request_id == tx_id_of(request))
    other = keyed.group.gt_from_bytes(results[ours].combined_ciphertext) ** 2
    changed = dataclasses.replace(results[ours], combined_ciphertext=bytes(other))
    tampered = dataclasses.replace(
        block.block, results=(*results[:ours], changed, *results[ours + 1 :])
    )
    with pytest.raises(InvalidBlock, match="combined ciphertext does not match"):
        follower.open_block(stored.height, tampered.to_bytes())
