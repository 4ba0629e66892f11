"""Threshold re-encryption consensus as a pure state machine (no sockets, clocks or disk)."""
