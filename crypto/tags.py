"""The one registry of type tags: the byte that starts every canonical encoding in the project.

:mod:`crypto.codec` promises that an encoding can never be mistaken for another type's. That holds
only if no two types anywhere in the project share a tag, so every tag is registered here with the
type that owns it, and a package's encodings take their tag constants from this module. It sits at
the bottom of the dependency graph (it imports nothing), so crypto, ledger, consensus and node
can all use it; owners are named by dotted path and never imported here.

Registering a tag that is taken, or one outside its owner's range, raises :class:`TagError` while
this module is imported, so a clash cannot reach a running node. ``tests/crypto/test_tags.py``
also checks that every tag bound anywhere in the product packages comes from this registry.

Each package draws new tags from its own range:

==========  ======================  ================================================
range       package                 used
==========  ======================  ================================================
0x10-0x1F   crypto.tpre             threshold proxy re-encryption
0x20-0x2F   crypto.dual             dual-key (device/domain) encryption
0x30-0x37   crypto.policy           access policies
0x38-0x3F   crypto.storage          erasure coding and storage commitments
0x40-0x6F   ledger                  transactions, blocks, records
0x70-0x7F   crypto.light            lightweight authentication (warrants, exchange)
0x80-0x8F   crypto.abe              FAME attribute-based encryption
0x90-0x97   node.edge               the edge's protocols (device submissions)
0xC0-0xCF   consensus               consensus messages and state
0xD0-0xDF   consensus.simulation    simulator stand-ins
0xE0-0xE7   node.wire               node-to-node wire formats
0xE8-0xEF   node.p2p                request/response envelopes
0xF0-0xF0   ledger.record_metadata  a record's metadata (owners, devices and edges seal it)
0xF1-0xFF   client                  client-side records (the client library)
==========  ======================  ================================================

History: until encoding version 2 of their types, policy (0x50-0x51), dual (0x52-0x5F), storage
(0x58-0x5D) and abe (0x60-0x65) tags sat inside the ledger's range and the p2p envelopes
(0x70-0x71) inside crypto.light's; they were renumbered into the ranges above. Record metadata
kept its tag 0xF0 (and so its bytes) when it moved from the client library to the ledger
package, where edges can seal it too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence


class TagError(ValueError):
    """A type tag was registered twice, outside its owner's range, or for an unknown package."""


#: ``(package, tags)`` for every package that owns tags; a package's owners are the dotted names
#: under it, and a nested package (``consensus.simulation``) has its own range.
RANGES: tuple[tuple[str, range], ...] = (
    ("crypto.tpre", range(0x10, 0x20)),
    ("crypto.dual", range(0x20, 0x30)),
    ("crypto.policy", range(0x30, 0x38)),
    ("crypto.storage", range(0x38, 0x40)),
    ("ledger", range(0x40, 0x70)),
    ("crypto.light", range(0x70, 0x80)),
    ("crypto.abe", range(0x80, 0x90)),
    ("node.edge", range(0x90, 0x98)),
    ("consensus", range(0xC0, 0xD0)),
    ("consensus.simulation", range(0xD0, 0xE0)),
    ("node.wire", range(0xE0, 0xE8)),
    ("node.p2p", range(0xE8, 0xF0)),
    ("ledger.record_metadata", range(0xF0, 0xF1)),
    ("client", range(0xF1, 0x100)),
)


class TagRegistry:
    """Which type owns each tag; refuses a second owner for a tag and a tag outside its range."""

    def __init__(self, ranges: Sequence[tuple[str, range]]) -> None:
        """Raises :class:`TagError` if two ranges overlap or a range leaves 0-255."""
        taken: dict[int, str] = {}
        for package, tags in ranges:
            if tags.step != 1 or tags.start < 0 or tags.stop > 0x100:
                raise TagError(f"range of {package} must be consecutive bytes, got {tags}")
            for tag in tags:
                if tag in taken:
                    raise TagError(
                        f"ranges of {taken[tag]} and {package} overlap at {tag:#04x}"
                    )
                taken[tag] = package
        # Longest package first, so a nested package's range wins over its parent's.
        self._ranges = sorted(ranges, key=lambda entry: -len(entry[0]))
        self._owners: dict[int, str] = {}

    def package_of(self, name: str) -> str | None:
        """The package whose range covers the dotted ``name`` (a module or a type), if any."""
        for package, _ in self._ranges:
            if name == package or name.startswith(package + "."):
                return package
        return None

    def register(self, tag: int, owner: str) -> int:
        """Give ``tag`` to ``owner`` (``package.module.Type``) and return it.

        Raises :class:`TagError` if the tag is taken, the owner already has a tag, or the tag
        is outside the range of the owner's package.
        """
        package = self.package_of(owner)
        if package is None:
            raise TagError(f"{owner} is in no package that owns a tag range")
        tags = dict(self._ranges)[package]
        if tag not in tags:
            raise TagError(
                f"type tag {tag:#04x} of {owner} is outside the range of {package} "
                f"({tags.start:#04x}-{tags.stop - 1:#04x})"
            )
        if tag in self._owners:
            raise TagError(
                f"type tag {tag:#04x} of {owner} is already the tag of {self._owners[tag]}"
            )
        if owner in self._owners.values():
            raise TagError(f"{owner} already has a type tag")
        self._owners[tag] = owner
        return tag

    def owner(self, tag: int) -> str:
        """The type that owns ``tag``; raises :class:`TagError` if nobody does."""
        try:
            return self._owners[tag]
        except KeyError:
            raise TagError(f"type tag {tag:#04x} is not registered") from None

    def entries(self) -> Mapping[int, str]:
        """Every registered tag and its owner, in tag order."""
        return dict(sorted(self._owners.items()))


REGISTRY = TagRegistry(RANGES)
_tag = REGISTRY.register

# crypto.tpre
TPRE_PUBLIC_KEY = _tag(0x10, "crypto.tpre.keys.UserPublicKey")
TPRE_OWNER_CIPHERTEXT = _tag(0x11, "crypto.tpre.ciphertext.OwnerCiphertext")
TPRE_GRANT = _tag(0x12, "crypto.tpre.grant.Grant")
TPRE_REKEY_SHARE = _tag(0x13, "crypto.tpre.grant.ReKeyShare")
TPRE_REENCRYPTION_SHARE = _tag(0x14, "crypto.tpre.share.ReEncryptionShare")
TPRE_REENCRYPTED_CIPHERTEXT = _tag(0x15, "crypto.tpre.combine.ReEncryptedCiphertext")
TPRE_SECRET_KEY = _tag(0x16, "crypto.tpre.keys.UserSecretKey")

# crypto.dual
DUAL_DEVICE_PUBLIC_KEY = _tag(0x20, "crypto.dual.keys.DevicePublicKey")
DUAL_DOMAIN_PUBLIC_KEY = _tag(0x21, "crypto.dual.keys.DomainPublicKey")
DUAL_REKEY = _tag(0x22, "crypto.dual.keys.ReKey")
DUAL_DEVICE_CIPHERTEXT = _tag(0x23, "crypto.dual.ciphertext.DeviceCiphertext")
DUAL_NORMALIZED_CIPHERTEXT = _tag(0x24, "crypto.dual.ciphertext.NormalizedCiphertext")
DUAL_DEALING = _tag(0x25, "crypto.dual.dealing.DomainKeyDealing")
DUAL_DOMAIN_SHARE = _tag(0x26, "crypto.dual.dealing.DomainKeyShare")
DUAL_DECRYPTION_SHARE = _tag(0x27, "crypto.dual.threshold.DecryptionShare")
DUAL_DEVICE_SECRET_KEY = _tag(0x28, "crypto.dual.keys.DeviceSecretKey")
DUAL_DOMAIN_SECRET_KEY = _tag(0x29, "crypto.dual.keys.DomainSecretKey")
DUAL_C1_PROOF = _tag(0x2A, "crypto.dual.proof.C1Proof")
DUAL_SEALED_DOMAIN_SHARE = _tag(0x2B, "crypto.dual.dealing.SealedDomainShare")
DUAL_DEVICE_SIGNATURE = _tag(0x2C, "crypto.dual.device_signature.DeviceSignature")

# crypto.policy
POLICY = _tag(0x30, "crypto.policy.ast.Policy")
POLICY_HASH_TREE = _tag(0x31, "crypto.policy.hash_tree.AttributeHashTree")

# crypto.storage
STORAGE_COMMITMENT = _tag(0x38, "crypto.storage.erasure.StorageCommitment")
STORAGE_FRAGMENT = _tag(0x39, "crypto.storage.erasure.Fragment")
STORAGE_PEDERSEN_COMMITMENT = _tag(0x3A, "crypto.storage.pedersen.PedersenCommitment")
STORAGE_PEDERSEN_FRAGMENT = _tag(0x3B, "crypto.storage.pedersen.PedersenFragment")

# ledger
LEDGER_NODE_INFO = _tag(0x40, "ledger.genesis.NodeInfo")
LEDGER_GENESIS = _tag(0x41, "ledger.genesis.Genesis")
LEDGER_COMMIT_SIG = _tag(0x42, "ledger.qc.CommitSignature")
LEDGER_COMMIT_QC = _tag(0x43, "ledger.qc.CommitQC")
LEDGER_ELECTION_QC = _tag(0x44, "ledger.block.ElectionQC")
LEDGER_ELECTION_SIG = _tag(0x45, "ledger.block.ElectionSignature")
LEDGER_DOMAIN_KEYS = _tag(0x46, "ledger.genesis.DomainKeys")
LEDGER_EDGE_INFO = _tag(0x47, "ledger.genesis.EdgeInfo")
LEDGER_REGISTER_MEMBER = _tag(0x48, "ledger.transactions.RegisterMember")
LEDGER_ATTRIBUTE_CHANGE = _tag(0x49, "ledger.transactions.AttributeChange")
LEDGER_PUT_RECORD = _tag(0x4A, "ledger.transactions.PutRecord")
LEDGER_GRANT = _tag(0x4B, "ledger.transactions.Grant")
LEDGER_REVOKE = _tag(0x4C, "ledger.transactions.Revoke")
LEDGER_ACCESS_REQUEST = _tag(0x4D, "ledger.transactions.AccessRequest")
LEDGER_KEY_UPDATE = _tag(0x4E, "ledger.transactions.KeyUpdate")
LEDGER_UNBLACKLIST = _tag(0x4F, "ledger.transactions.Unblacklist")
LEDGER_ACCESS_VOTE = _tag(0x50, "ledger.qc.AccessVote")
LEDGER_SHARING_RESULT = _tag(0x51, "ledger.block.SharingResult")
LEDGER_PUBLISH_ATTRIBUTE_KEY = _tag(0x52, "ledger.transactions.PublishAttributeKey")
LEDGER_ROTATE_DOMAIN_KEY = _tag(0x53, "ledger.transactions.RotateDomainKey")
LEDGER_BLOCK_HEADER = _tag(0x54, "ledger.block.BlockHeader")
LEDGER_BLOCK = _tag(0x55, "ledger.block.Block")
LEDGER_ACCESS_TOKEN = _tag(0x56, "ledger.access_token.AccessToken")
LEDGER_DEVICE_UPLOAD = _tag(0x57, "ledger.device_upload.DeviceUpload")
LEDGER_MEMBER = _tag(0x58, "ledger.records.Member")
LEDGER_RECORD_ENTRY = _tag(0x59, "ledger.records.RecordEntry")
LEDGER_GRANT_ENTRY = _tag(0x5A, "ledger.records.GrantEntry")
LEDGER_ATTRIBUTE_RECORD = _tag(0x5B, "ledger.records.AttributeRecord")
LEDGER_AUDIT_RECORD = _tag(0x5C, "ledger.records.AuditRecord")
LEDGER_HEAD = _tag(0x5D, "ledger.records.Head")
LEDGER_TX_LOCATION = _tag(0x5E, "ledger.records.Location")
LEDGER_REVOCATION = _tag(0x5F, "ledger.records.Revocation")
LEDGER_COUNTER = _tag(0x60, "ledger.records.Counter")
LEDGER_BLACKLIST = _tag(0x61, "ledger.records.BlacklistEntry")
LEDGER_STORED_FRAGMENT = _tag(0x62, "ledger.fragments.StoredFragment")
LEDGER_ATTRIBUTE_KEY_ENTRY = _tag(0x63, "ledger.authority_state.AttributeKeyEntry")
LEDGER_DOMAIN_EPOCH = _tag(0x64, "ledger.authority_state.DomainEpoch")
LEDGER_CERTIFIED_HEADER = _tag(0x65, "ledger.header_chain.CertifiedHeader")
LEDGER_HEADER_BATCH = _tag(0x66, "ledger.header_chain.HeaderBatch")
LEDGER_HEADER_REQUEST = _tag(0x67, "ledger.header_chain.HeaderRequest")
LEDGER_REGISTER_DEVICE = _tag(0x68, "ledger.transactions.RegisterDevice")
LEDGER_REKEY_DEVICE = _tag(0x69, "ledger.transactions.RekeyDevice")
LEDGER_DEVICE_ENTRY = _tag(0x6A, "ledger.devices.DeviceEntry")
LEDGER_DEVICE_REKEY = _tag(0x6B, "ledger.devices.DeviceRekey")
LEDGER_TX_INCLUSION = _tag(0x6C, "ledger.inclusion.TxInclusion")
LEDGER_RESULT_INCLUSION = _tag(0x6D, "ledger.inclusion.ResultInclusion")
LEDGER_PROOF_REQUEST = _tag(0x6E, "ledger.inclusion.ProofRequest")
LEDGER_PROOF_NOT_FOUND = _tag(0x6F, "ledger.inclusion.ProofNotFound")

# crypto.light
LIGHT_AUTHORITY_PUBLIC = _tag(0x70, "crypto.light.messages.AuthorityPublic")
LIGHT_WARRANT_RECORD = _tag(0x71, "crypto.light.messages.WarrantRecord")
LIGHT_USER_CREDENTIAL = _tag(0x72, "crypto.light.messages.UserCredential")
LIGHT_PATIENT_REGISTRATION = _tag(0x73, "crypto.light.messages.PatientRegistration")
LIGHT_PATIENT_RECORD = _tag(0x74, "crypto.light.messages.PatientRecord")
LIGHT_PATIENT_KEY_GRANT = _tag(0x75, "crypto.light.messages.PatientKeyGrant")
LIGHT_PATIENT_KEY = _tag(0x76, "crypto.light.messages.PatientKey")
LIGHT_SENSOR_GRANT = _tag(0x77, "crypto.light.provision.SensorGrant")
LIGHT_UPLOAD = _tag(0x78, "crypto.light.exchange.Upload")
LIGHT_ACCESS_REQUEST = _tag(0x79, "crypto.light.exchange.AccessRequest")
LIGHT_KEY_REQUEST = _tag(0x7A, "crypto.light.exchange.KeyRequest")
LIGHT_KEY_RESPONSE = _tag(0x7B, "crypto.light.exchange.KeyResponse")
LIGHT_PATIENT_ENTRY = _tag(0x7C, "crypto.light.provision.PatientEntry")

# crypto.abe
ABE_PUBLIC_KEY = _tag(0x80, "crypto.abe.keys.FamePublicKey")
ABE_MASTER_KEY = _tag(0x81, "crypto.abe.keys.FameMasterKey")
ABE_SECRET_KEY = _tag(0x82, "crypto.abe.keys.FameSecretKey")
ABE_CIPHERTEXT = _tag(0x83, "crypto.abe.ciphertext.FameCiphertext")
ABE_ENVELOPE = _tag(0x84, "crypto.abe.envelope.FameEnvelope")
ABE_DUAL_RECORD = _tag(0x85, "crypto.abe.dual.DualRecord")

# node.edge
EDGE_SUBMIT = _tag(0x90, "node.edge.submit.EdgeSubmit")
EDGE_SUBMIT_REPLY = _tag(0x91, "node.edge.submit.EdgeSubmitReply")
EDGE_PENDING_UPLOAD = _tag(0x92, "node.edge.pending_uploads.PendingUpload")

# consensus
CONSENSUS_SUBMISSION = _tag(0xC0, "consensus.messages.Submission")
CONSENSUS_AUTH_VOTE = _tag(0xC1, "consensus.votes.AuthVote")
CONSENSUS_BUNDLE = _tag(0xC2, "consensus.votes.Bundle")
CONSENSUS_CLAIM = _tag(0xC3, "consensus.messages.LeaderClaim")
# 0xC4 was consensus.votes.ElectionVote and 0xC5 consensus.messages.Proposal until claim
# version 3 (the claim carries the block, the prepare vote is the election vote); left unused.
CONSENSUS_PREPARE_VOTE = _tag(0xC6, "consensus.votes.PrepareVote")
CONSENSUS_COMMIT_VOTE = _tag(0xC7, "consensus.votes.CommitVote")
CONSENSUS_SYNC_REQUEST = _tag(0xC8, "consensus.messages.SyncRequest")
CONSENSUS_COMMITTED_BLOCK = _tag(0xC9, "consensus.messages.CommittedBlock")
CONSENSUS_SYNC_REPLY = _tag(0xCA, "consensus.messages.SyncReply")
# 0xCB was consensus.messages.BlockContent, encoded until consensus version 2; left unused.
CONSENSUS_EQUIVOCATION = _tag(0xCC, "consensus.evidence.Equivocation")
CONSENSUS_BAD_SHARE = _tag(0xCD, "consensus.evidence.BadShare")
CONSENSUS_SAFETY_STATE = _tag(0xCE, "consensus.safety.SafetyState")

# consensus.simulation
SIMULATION_FAKE_REQUEST = _tag(0xD0, "consensus.simulation.fake.FakeRequest")
SIMULATION_FAKE_BLOCK = _tag(0xD1, "consensus.simulation.fake.encode_block")

# node.wire
# 0xE1 (node.wire.BlockEvidence) and 0xE4 (node.wire.ShareList) filled a block's opaque
# election field and its results' share lists until ledger Block version 2, which holds the
# election QC (ledger.block.ElectionQC) and each vote with its share once; left unused.
NODE_FRAGMENT_PUT = _tag(0xE2, "node.wire.FragmentPut")
NODE_FRAGMENT_GET = _tag(0xE3, "node.wire.FragmentGet")
NODE_FRAME_BATCH = _tag(0xE5, "node.wire.FrameBatch")

# node.p2p
P2P_REQUEST_ENVELOPE = _tag(0xE8, "node.p2p.envelope.RequestEnvelope")
P2P_RESPONSE_ENVELOPE = _tag(0xE9, "node.p2p.envelope.ResponseEnvelope")

# client
RECORD_METADATA = _tag(0xF0, "ledger.record_metadata.RecordMetadata")
CLIENT_ATTRIBUTE_KEY = _tag(0xF1, "client.attribute_keys.IssuedAttributeKey")
