"""Encrypt_DCT, ReEncrypt_ECL and Decrypt of seed 000, as a KEM-DEM for any size of data.

A device picks a random ``m`` in GT and ``r``, and sends ``C0 = m I0^r``, ``C1 = gamma2^r``,
``C2 = I1^r``, ``C3 = (g0^u1)^r`` with the data sealed by XChaCha20-Poly1305 under
``KDF(m)`` (the paper encrypts a group element; wrapping a key lets a reading or a 100 MB file
go through the same four exponentiations). The edge turns ``C2`` into
``C2' = e(C3, ReKey) / C2 = I0^r e(g0, gamma2)^(r p2)``, after which the ciphertext no longer
depends on the device: ``m = C0' e(g0, C1')^p2 / C2'``. An owner who encrypts straight under
the domain key (:func:`encrypt_to_domain`) produces the same normalized form.

Every ciphertext carries a :class:`~crypto.dual.proof.C1Proof` that its maker knows ``r``,
bound to the record id and owner it is published under (:class:`~crypto.dual.proof.ProofContext`).
Re-encryption leaves ``C0`` and ``C1`` as they are, so the device's proof carries over to the
normalized ciphertext unchanged (the edge does not know ``r`` and need not). Only
:func:`verify_ciphertext` makes a :class:`VerifiedCiphertext`, and threshold decryption
(:mod:`crypto.dual.threshold`) accepts nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass

from crypto import tags
from crypto.aead import open_sealed, seal
from crypto.codec import Reader, Writer, parse
from crypto.dual.keys import DevicePublicKey, DomainSecretKey, ReKey
from crypto.dual.params import DualParams
from crypto.dual.proof import C1_PROOF_BYTES, C1Proof, ProofContext, c1_proof_holds, prove_c1
from crypto.errors import VerificationError
from crypto.groups import G1Element, G2Element, GTElement
from crypto.groups.params import G1_BYTES, G2_BYTES, GT_BYTES
from crypto.kdf import derive_key

DEVICE_CIPHERTEXT_TYPE_TAG = tags.DUAL_DEVICE_CIPHERTEXT
NORMALIZED_CIPHERTEXT_TYPE_TAG = tags.DUAL_NORMALIZED_CIPHERTEXT
# v2: tag moved out of the ledger's range (crypto.tags); v3: the C1 proof after the group elements.
CIPHERTEXT_VERSION = 3

DEM_KEY_LABEL = b"iomtshare/dual/dem-key/v1"
DEM_AD_LABEL = b"iomtshare/dual/dem-ad/v1"


def _associated_data(c0: GTElement, c1: G2Element, associated_data: bytes) -> bytes:
    # C0 and C1 survive re-encryption unchanged, so the body stays bound to them end to end.
    return (
        Writer().blob(DEM_AD_LABEL).blob(bytes(c0)).blob(bytes(c1)).blob(associated_data)
    ).to_bytes()


def _dem_key(m: GTElement) -> bytes:
    return derive_key(DEM_KEY_LABEL, bytes(m))


@dataclass(frozen=True, slots=True)
class DeviceCiphertext:
    """What a device uploads: ``(C0, C1, C2, C3)``, the proof for ``C1`` and the sealed body."""

    c0: GTElement
    c1: G2Element
    c2: GTElement
    c3: G1Element
    proof: C1Proof
    body: bytes

    def to_bytes(self) -> bytes:
        writer = Writer(DEVICE_CIPHERTEXT_TYPE_TAG, CIPHERTEXT_VERSION)
        writer.fixed(bytes(self.c0), GT_BYTES).fixed(bytes(self.c1), G2_BYTES)
        writer.fixed(bytes(self.c2), GT_BYTES).fixed(bytes(self.c3), G1_BYTES)
        writer.fixed(self.proof.to_bytes(), C1_PROOF_BYTES)
        return writer.blob(self.body).to_bytes()

    @classmethod
    def from_bytes(cls, params: DualParams, data: bytes) -> DeviceCiphertext:
        """Decode; raises :class:`~crypto.errors.DecodeError`."""
        grp = params.group

        def body(reader: Reader) -> DeviceCiphertext:
            reader.expect_header(DEVICE_CIPHERTEXT_TYPE_TAG, CIPHERTEXT_VERSION)
            return cls(
                grp.gt_from_bytes(reader.fixed(GT_BYTES)),
                grp.g2_from_bytes(reader.fixed(G2_BYTES)),
                grp.gt_from_bytes(reader.fixed(GT_BYTES)),
                grp.g1_from_bytes(reader.fixed(G1_BYTES)),
                C1Proof.from_bytes(params, reader.fixed(C1_PROOF_BYTES)),
                reader.blob(),
            )

        return parse(data, "device ciphertext", body)


@dataclass(frozen=True, slots=True)
class NormalizedCiphertext:
    """The edge's output ``(C0', C1', C2')``, the proof for ``C1'`` and the body: decryptable
    with the domain key. Not yet checked: :func:`verify_ciphertext` before any threshold use."""

    c0: GTElement
    c1: G2Element
    c2: GTElement
    proof: C1Proof
    body: bytes

    def to_bytes(self) -> bytes:
        writer = Writer(NORMALIZED_CIPHERTEXT_TYPE_TAG, CIPHERTEXT_VERSION)
        writer.fixed(bytes(self.c0), GT_BYTES).fixed(bytes(self.c1), G2_BYTES)
        writer.fixed(bytes(self.c2), GT_BYTES)
        writer.fixed(self.proof.to_bytes(), C1_PROOF_BYTES)
        return writer.blob(self.body).to_bytes()

    @classmethod
    def from_bytes(cls, params: DualParams, data: bytes) -> NormalizedCiphertext:
        """Decode; raises :class:`~crypto.errors.DecodeError`."""
        grp = params.group

        def body(reader: Reader) -> NormalizedCiphertext:
            reader.expect_header(NORMALIZED_CIPHERTEXT_TYPE_TAG, CIPHERTEXT_VERSION)
            return cls(
                grp.gt_from_bytes(reader.fixed(GT_BYTES)),
                grp.g2_from_bytes(reader.fixed(G2_BYTES)),
                grp.gt_from_bytes(reader.fixed(GT_BYTES)),
                C1Proof.from_bytes(params, reader.fixed(C1_PROOF_BYTES)),
                reader.blob(),
            )

        return parse(data, "normalized ciphertext", body)


@dataclass(frozen=True, slots=True)
class VerifiedCiphertext:
    """A normalized ciphertext whose proof held for ``context``.

    Only :func:`verify_ciphertext` makes these; a node answers decryption requests for nothing
    else, and it takes them from records it committed, never from a request.
    """

    ciphertext: NormalizedCiphertext
    context: ProofContext


def verify_ciphertext(
    params: DualParams, ciphertext: NormalizedCiphertext, context: ProofContext
) -> VerifiedCiphertext:
    """Check that ``ciphertext``'s maker knew its ``r`` and bound it to ``context``.

    Raises :class:`~crypto.errors.VerificationError` if the proof does not hold (a mauled or
    copied ``C1``, another record id or owner) or ``C1`` is the identity (``r = 0`` hides
    nothing).
    """
    if ciphertext.c1.is_identity():
        raise VerificationError("ciphertext C1 is the identity")
    if not c1_proof_holds(params, ciphertext.proof, ciphertext.c0, ciphertext.c1, context):
        raise VerificationError("ciphertext's C1 proof does not hold for this record id and owner")
    return VerifiedCiphertext(ciphertext, context)


def encrypt_dct(
    params: DualParams,
    device: DevicePublicKey,
    data: bytes,
    associated_data: bytes = b"",
    *,
    context: ProofContext,
    r: int | None = None,
) -> DeviceCiphertext:
    """Encrypt_DCT: personalized encryption of ``data`` under the device's own key.

    ``context`` names the record the ciphertext will be published as; its proof verifies for
    that record and owner only. ``associated_data`` is authenticated (not encrypted) and must
    be given again to decrypt. ``r`` is for test vectors only; leave it ``None``.
    """
    r = params.random_scalar() if r is None else r
    m = params.group.z_pow(params.random_scalar())
    c0 = m * params.i0**r
    c1 = params.gamma2 * r
    c2 = params.i1**r
    c3 = device.pk1 * r
    proof = prove_c1(params, r, c0, c1, context)
    body = seal(_dem_key(m), data, _associated_data(c0, c1, associated_data))
    return DeviceCiphertext(c0, c1, c2, c3, proof, body)


def encrypt_to_domain(
    params: DualParams,
    domain_key: G2Element,
    data: bytes,
    associated_data: bytes = b"",
    *,
    context: ProofContext,
    r: int | None = None,
) -> NormalizedCiphertext:
    """Encrypt ``data`` straight under the domain key ``gamma2^p2``, with no device and edge.

    ``domain_key`` is :attr:`DomainPublicKey.pk2 <crypto.dual.keys.DomainPublicKey>` or
    :attr:`DomainKeyDealing.public_key <crypto.dual.dealing.DomainKeyDealing>`. The result is
    what ReEncrypt_ECL would have made: ``C2 = I0^r e(g0, gamma2^p2)^r``, computed as one
    pairing ``e(g0^r, gamma1 gamma2^p2)``. ``context`` and ``r`` as for :func:`encrypt_dct`.
    Raises :class:`~crypto.errors.VerificationError` for the identity as domain key.
    """
    if domain_key.is_identity():
        raise VerificationError("domain public key is the identity")
    r = params.random_scalar() if r is None else r
    m = params.group.z_pow(params.random_scalar())
    c0 = m * params.i0**r
    c1 = params.gamma2 * r
    c2 = params.group.pairing(params.g0 * r, params.gamma1 + domain_key)
    proof = prove_c1(params, r, c0, c1, context)
    body = seal(_dem_key(m), data, _associated_data(c0, c1, associated_data))
    return NormalizedCiphertext(c0, c1, c2, proof, body)


def reencrypt_ecl(
    params: DualParams, ciphertext: DeviceCiphertext, rekey: ReKey
) -> NormalizedCiphertext:
    """ReEncrypt_ECL: normalize a device ciphertext to the domain key (one pairing).

    ``C0`` and ``C1`` pass through, so the device's proof (which binds exactly those two and
    the record context) stays valid and is passed on as it is. A wrong ``rekey`` is not
    detected here; the result then fails to decrypt.
    """
    c2 = params.group.pairing(ciphertext.c3, rekey.point) / ciphertext.c2
    return NormalizedCiphertext(ciphertext.c0, ciphertext.c1, c2, ciphertext.proof, ciphertext.body)


def open_with_blinding(
    ciphertext: NormalizedCiphertext, blinding: GTElement, associated_data: bytes = b""
) -> bytes:
    """Finish decryption given ``e(g0, C1')^p2`` (however it was obtained).

    Raises :class:`~crypto.errors.DecryptionError` if the blinding is wrong or anything was
    altered.
    """
    m = ciphertext.c0 * blinding / ciphertext.c2
    return open_sealed(
        _dem_key(m),
        ciphertext.body,
        _associated_data(ciphertext.c0, ciphertext.c1, associated_data),
    )


def decrypt_with_domain_key(
    params: DualParams,
    domain: DomainSecretKey,
    ciphertext: NormalizedCiphertext,
    associated_data: bytes = b"",
) -> bytes:
    """Decrypt as seed 000 does, with the whole domain secret ``p2`` in one hand.

    The network never does this (``p2`` is dealt to the nodes, see
    :mod:`crypto.dual.threshold`); it serves the authority and the paper's benchmarks.
    Raises :class:`~crypto.errors.DecryptionError`.
    """
    blinding = params.group.pairing(domain.decryption_point(params), ciphertext.c1)
    return open_with_blinding(ciphertext, blinding, associated_data)
