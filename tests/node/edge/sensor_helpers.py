"""A provisioned sensor edge without running nodes: a testnet layout (genesis with the
authority's keys and one edge), a lightweight authority, patients, users and their grants."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path

from prometheus_client import CollectorRegistry

from client.keystore import MemberKeys
from crypto.groups import Group, load_group
from crypto.light import Authority, PatientKey, UserCredential
from crypto.light.curve import random_scalar
from crypto.light.patient import finish_registration, start_registration
from crypto.light.provision import SensorGrant
from crypto.sealing import BoxSecretKey
from crypto.signing import SigningKey
from ledger.keyfiles import load_secret
from ledger.kv import KeyValueStore, MemoryStore
from node.edge.sensor_grants import GRANTS_DIR, SENSORS_DIR, WARRANTS_DIR
from node.edge.sensor_ingest import SensorIngest
from node.edge.sensor_routes import open_ingest
from testnet.layout import Network, create_network

POLICY = "role:doctor"
PATIENT_REAL_ID = "Jane Q. Patient, MRN 0042-7781"
USER_REAL_ID = "Dr. Gregory House, licence 55-1234"


@dataclass
class SensorEdge:
    """An edge home with grants; the authority, a patient's key and a user's credential."""

    network: Network
    group: Group
    authority_key: SigningKey
    authority: Authority
    edge_home: Path
    edge_key: SigningKey
    box_key: BoxSecretKey
    owner: MemberKeys
    patient: PatientKey
    user: UserCredential
    device_id: bytes
    stored_grants: list[bytes] = field(default_factory=list)

    def ingest(self, store: KeyValueStore | None = None,
               registry: CollectorRegistry | None = None) -> SensorIngest:
        return open_ingest(
            self.edge_home, self.network.genesis, self.edge_key, self.box_key, self.group,
            store if store is not None else MemoryStore(),
            registry if registry is not None else CollectorRegistry(),
        )

    def add_patient(self, real_id: str, users: list[bytes], now: int) -> PatientKey:
        """Register a patient for ``self.owner`` and drop its sealed grant into the edge."""
        pending = start_registration(real_id, users, self.authority.public, now)
        patient_grant, record = self.authority.register_patient(pending.message, now)
        key = finish_registration(pending, patient_grant)
        grant = SensorGrant(
            self.network.chain_id, record, key, self.authority.public.public_point,
            self.owner.member_id, self.owner.tpre_public_key.to_bytes(), self.device_id,
            POLICY, now,
        ).signed(self.authority_key)
        sealed = self.box_key.public_key.seal(grant.to_bytes())
        self.stored_grants.append(sealed)
        path = self.edge_home / SENSORS_DIR / GRANTS_DIR / f"{key.temporary_id.hex()}.grant"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(sealed)
        return key


def provision(directory: Path, *, warrant_lifetime: int = 3600) -> SensorEdge:
    network = create_network(directory, 4, edges=1)
    group = load_group("mcl")
    authority_key = SigningKey(load_secret(network.authority_key_path))
    authority = Authority(random_scalar(), authority_key)
    edge_home = network.directory / network.edges[0].home
    now = int(time.time())
    user, warrant = authority.register_user(USER_REAL_ID, now + warrant_lifetime)
    warrants = edge_home / SENSORS_DIR / WARRANTS_DIR
    warrants.mkdir(parents=True)
    (warrants / f"{user.user.hex()}.warrant").write_bytes(warrant.to_bytes())
    made = SensorEdge(
        network, group, authority_key, authority, edge_home,
        SigningKey(load_secret(edge_home / "node_key")),
        BoxSecretKey(load_secret(edge_home / "box_key")),
        MemberKeys.generate(group), PatientKey(bytes(32), 1), user, secrets.token_bytes(32),
    )
    made.patient = made.add_patient(PATIENT_REAL_ID, [user.user], now)
    return made
