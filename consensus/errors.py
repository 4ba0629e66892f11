"""Typed errors of the consensus package."""

from __future__ import annotations


class ConsensusError(Exception):
    """Base class of every error raised by :mod:`consensus`."""


class ConfigError(ConsensusError, ValueError):
    """A consensus configuration that cannot work (bad quorum, threshold or validator set)."""


class InvalidMessage(ConsensusError):
    """A peer's message that is malformed, wrongly signed or breaks a protocol rule."""


class InvalidBlock(ConsensusError):
    """A proposed or synced block that the application or the consensus checks reject."""
