"""Threshold re-encryption consensus as a pure state machine (no sockets, clocks or disk).

The node runtime builds one :class:`ConsensusNode` per validator with
:meth:`ConsensusNode.create` (config, index, signer, verifier, application, commit payload
and access payload functions), calls :meth:`~ConsensusNode.start`, then feeds it decoded messages
(:func:`decode_message`), clients' items (:class:`Item`, decoded and named by the application)
and due timers with the current time, and carries out the returned :class:`Output`. See
docs/consensus.md.
"""

from consensus.app import (
    AccessPayload,
    Application,
    Authorization,
    BuiltBlock,
    CommitPayload,
    OpenedBlock,
)
from consensus.config import ConsensusConfig, Timeouts, bft_quorum, majority_quorum
from consensus.errors import ConfigError, ConsensusError, InvalidBlock, InvalidMessage
from consensus.evidence import BadShare, Equivocation, Evidence
from consensus.item import Item, ItemDecoder
from consensus.machine import ConsensusNode
from consensus.messages import BlockContent, CommittedBlock, Message, decode_message
from consensus.output import Output, Send, Timer, TimerKind, TraceEvent
from consensus.safety import SafetyState
from consensus.signer import Ed25519Signer, Ed25519Verifier, Signer, Verifier

__all__ = [
    "AccessPayload",
    "Application",
    "Authorization",
    "BadShare",
    "BlockContent",
    "BuiltBlock",
    "CommitPayload",
    "CommittedBlock",
    "ConfigError",
    "ConsensusConfig",
    "ConsensusError",
    "ConsensusNode",
    "Ed25519Signer",
    "Ed25519Verifier",
    "Equivocation",
    "Evidence",
    "InvalidBlock",
    "InvalidMessage",
    "Item",
    "ItemDecoder",
    "Message",
    "OpenedBlock",
    "Output",
    "SafetyState",
    "Send",
    "Signer",
    "Timeouts",
    "Timer",
    "TimerKind",
    "TraceEvent",
    "Verifier",
    "bft_quorum",
    "decode_message",
    "majority_quorum",
]
