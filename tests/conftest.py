"""Test-wide settings: hypothesis profiles and the pairing backends every crypto test runs on."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

# Pairing arithmetic makes single examples slow; deadlines would only measure machine load.
settings.register_profile(
    "default",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "ci",
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile("ci" if os.environ.get("CI") else "default")
