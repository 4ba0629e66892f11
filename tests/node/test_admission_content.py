"""``POST /tx`` refuses transactions with bad content at once (400), before any block.

A KeyUpdate with random bytes as its TPRE key, a Grant with random sealed shares (overwriting a
valid grant) and a RegisterMember whose member id is not the hash of its key used to be
admitted and committed.
"""

from __future__ import annotations

import dataclasses
import random
from typing import Any

from crypto.signing import SigningKey
from crypto.tpre import Grant as TpreGrant
from crypto.tpre import generate_user_key
from ledger.transactions import Grant, KeyUpdate, MemberRole, RegisterMember, decode_transaction
from tests.node.app_world import AppWorld, Member
from tests.node.lagging_node import StubService, api_client, post_tx
from tests.node.p2p.p2p_testing import trio_test


def resigned(world: AppWorld, raw: bytes, key: SigningKey, **changes: Any) -> bytes:
    tx = dataclasses.replace(decode_transaction(raw), **changes)
    return world.sign(tx, key)


def bad_transactions(world: AppWorld, shared: tuple[Member, Member, bytes]) -> dict[str, bytes]:
    owner, requester, record_id = shared
    grant_raw = world.grant(owner, record_id, requester)
    grant = decode_transaction(grant_raw)
    assert isinstance(grant, Grant)
    tpre = TpreGrant.from_bytes(world.group, grant.sealed_rekey_shares)
    fewer = dataclasses.replace(tpre, sealed_shares=tpre.sealed_shares[:-1])
    stranger = generate_user_key(world.group).public_key()
    key_update = KeyUpdate(
        member_id=requester.member_id,
        new_verify_key=requester.key.verify_key.raw,
        new_box_key=requester.box.public_key.raw,
        public_key_material=random.Random(7).randbytes(192),
        issued_at_ms=world.clock_ms(),
    )
    newcomer = SigningKey.generate()
    register = RegisterMember(
        member_id=requester.member_id,  # somebody else's id
        verify_key=newcomer.verify_key.raw,
        box_key=requester.box.public_key.raw,
        role=int(MemberRole.REQUESTER),
        attributes=(),
        registered_at_ms=world.clock_ms(),
    )
    return {
        "KeyUpdate with a random TPRE key": world.sign(key_update, requester.key),
        "Grant with random sealed shares": resigned(
            world, grant_raw, owner.key,
            sealed_rekey_shares=random.Random(8).randbytes(len(grant.sealed_rekey_shares)),
        ),
        "Grant with a share missing": resigned(
            world, grant_raw, owner.key, sealed_rekey_shares=fewer.to_bytes()
        ),
        "Grant embedding another owner key": resigned(
            world, grant_raw, owner.key,
            sealed_rekey_shares=dataclasses.replace(tpre, owner=stranger).to_bytes(),
        ),
        "RegisterMember with a foreign member id": world.sign(register, world.authority),
    }


EXPECTED = {
    "KeyUpdate with a random TPRE key": "invalid TPRE public key",
    "Grant with random sealed shares": "not a TPRE grant",
    "Grant with a share missing": "3 sealed re-key shares for 4 nodes",
    "Grant embedding another owner key": "owner key",
    "RegisterMember with a foreign member id": "member id is not the hash",
}


@trio_test
async def test_bad_content_is_refused_with_400(
    world: AppWorld, shared: tuple[Member, Member, bytes]
) -> None:
    service = StubService(world.apps[1], 1)
    async with api_client(service) as client:
        for name, raw in bad_transactions(world, shared).items():
            response = await post_tx(client, raw)
            assert response.status_code == 400, name
            error = response.json()["error"]
            assert error["code"] == "invalid_transaction", name
            assert EXPECTED[name] in error["message"], (name, error)
        assert service.submitted == []
        # The same grant with its content intact is admitted.
        owner, requester, record_id = shared
        assert (await post_tx(client, world.grant(owner, record_id, requester))).status_code == 202
        assert len(service.submitted) == 1
