"""Shared fixtures: a backend fixture that runs a test on every backend, hypothesis profiles.

Profiles (choose with HYPOTHESIS_PROFILE): "ci" (default, few examples, the
whole suite stays well under 10 minutes on 2 cores), "thorough" (many more).
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

from minilottery.backends import BACKEND_NAMES, get_backend, unavailable_reason

settings.register_profile(
    "ci", max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "thorough", max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(params=BACKEND_NAMES)
def backend(request):
    """Each backend in turn; skipped with the reason where it cannot run here."""
    reason = unavailable_reason(request.param)
    if reason is not None:
        pytest.skip(f"backend {request.param!r} unavailable: {reason}")
    return get_backend(request.param)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
