"""The edge's conversion of a lightweight upload into the pairing pipeline (DESIGN 3.6).

A sensor cannot do pairings, so its edge node does the heavy half: it accepts the upload
(freshness, replay, alpha, beta), opens it with the patient's ``a_n``, and seals the reading
under the dual key split for the patient: the record body under
``DEK = HKDF(record id, K_pre, K_abe)``, ``K_abe`` behind the record's FAME policy and
``K_pre`` encrypted to the patient's threshold-PRE key, from where grants re-encrypt it.
After this step only the patient's pseudonym links the record to anyone.
"""

from __future__ import annotations

from dataclasses import dataclass

from crypto.abe import DualRecord, FamePublicKey, seal_record
from crypto.dual import DualParams, NormalizedCiphertext, ProofContext, encrypt_to_domain
from crypto.groups import G2Element
from crypto.hashing import digest
from crypto.light.edge import EdgeVerifier
from crypto.light.exchange import Upload
from crypto.light.user import decrypt_upload
from crypto.policy import Policy
from crypto.tpre import OwnerCiphertext, UserPublicKey, encrypt_to_owner

RECORD_ID_TAG = b"iomtshare/light/bridge/record-id/v1"


@dataclass(frozen=True, slots=True)
class ConvertedUpload:
    """A reading re-sealed for the pairing pipeline.

    ``record`` holds the body and the FAME header; ``pre_part`` is ``K_pre`` encrypted to the
    patient (the owner); ``temporary_id`` is the patient's pseudonym.
    """

    record: DualRecord
    pre_part: OwnerCiphertext
    temporary_id: bytes


@dataclass(frozen=True, slots=True)
class DomainSealed:
    """A policy record's two halves: the FAME header with the sealed body (``dual``), and
    ``K_pre`` encrypted to the domain key with its C1 proof (``domain``)."""

    dual: DualRecord
    domain: NormalizedCiphertext


def seal_for_domain(
    params: DualParams,
    fame_public: FamePublicKey,
    domain_key: G2Element,
    policy: Policy,
    context: ProofContext,
    plaintext: bytes,
) -> DomainSealed:
    """Seal ``plaintext`` as a policy record: body under ``HKDF(record id, K_pre, K_abe)``,
    ``K_abe`` behind a FAME header under ``policy``, ``K_pre`` encrypted to ``domain_key``
    with a C1 proof bound to ``context`` (record id, owner, chain), then forgotten.

    The one place both an owner (``client.policy_records``) and an edge converting a sensor
    upload (``node.edge.sensor_ingest``) seal a policy record. The dual record commits the key
    check of its ABE binding (:func:`crypto.abe.dual.seal_record`), which nodes check fetch
    tokens against.
    """
    record_id = context.record_id
    dual, pre_part = seal_record(fame_public, policy, record_id, plaintext)
    domain = encrypt_to_domain(params, domain_key, pre_part, record_id, context=context)
    return DomainSealed(dual, domain)


def record_id_for(upload: Upload) -> bytes:
    """A record id unique to this upload (it commits to every byte of it)."""
    return digest(RECORD_ID_TAG, upload.to_bytes())


def convert_upload(
    edge: EdgeVerifier,
    upload: Upload,
    now: int,
    fame_public: FamePublicKey,
    policy: Policy,
    patient: UserPublicKey,
) -> ConvertedUpload:
    """Accept ``upload`` at ``edge`` and re-seal its reading for ``patient`` under ``policy``.

    Raises what :meth:`EdgeVerifier.accept_upload` raises (stale, replayed, altered, patient not
    served here) and :class:`~crypto.errors.DecryptionError` if the AEAD body does not open.
    """
    verified = edge.accept_upload(upload, now)
    reading = decrypt_upload(edge.patient_key(upload.temporary_id), verified.upload)
    record_id = record_id_for(upload)
    record, pre_part = seal_record(fame_public, policy, record_id, reading)
    sealed_pre = encrypt_to_owner(fame_public.group, patient, pre_part, record_id)
    return ConvertedUpload(record, sealed_pre, upload.temporary_id)
