"""Cryptography for iomtshare: pairing groups, threshold PRE and symmetric primitives.

Everything in this package is pure: no sockets, no clocks, no disk. Randomness comes from the
operating system's CSPRNG through :mod:`secrets` unless a caller passes its own scalars.
"""
