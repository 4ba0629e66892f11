"""A deterministic simulated network for the consensus state machine (pure: no clock, no I/O)."""
