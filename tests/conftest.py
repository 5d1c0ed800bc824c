"""Shared fixtures: a backend fixture that runs a test on every backend, hypothesis profiles,
and the strict stand-in CuPy.

Profiles (choose with HYPOTHESIS_PROFILE): "ci" (default, few examples, the
whole suite stays well under 10 minutes on 2 cores), "thorough" (many more).

MINILOTTERY_CUPY_STANDIN=1 puts the stand-in CuPy of tests/cupy_standin on the
path of this process and of every child it starts (before anything imports
cupy), so with MINILOTTERY_BACKEND=cupy the whole suite runs on it. It is never
used without that variable; a real CuPy already imported stops the run.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

STANDIN_VAR = "MINILOTTERY_CUPY_STANDIN"
STANDIN_PATH = Path(__file__).resolve().parent / "cupy_standin"
STANDIN_ACTIVE = os.environ.get(STANDIN_VAR) == "1"


def _install_standin() -> None:
    """Make ``import cupy`` (here and in child processes) find the stand-in."""
    if "cupy" in sys.modules and not getattr(sys.modules["cupy"], "STANDIN", False):
        raise pytest.UsageError(f"{STANDIN_VAR}=1 but a real CuPy is already imported")
    sys.path.insert(0, str(STANDIN_PATH))
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(STANDIN_PATH), os.environ.get("PYTHONPATH")) if p)
    import cupy
    assert cupy.STANDIN, cupy.__file__


if STANDIN_ACTIVE:
    _install_standin()

from minilottery.backends import BACKEND_NAMES, get_backend, unavailable_reason  # noqa: E402
from minilottery.backends import registry as _backend_registry  # noqa: E402


def pytest_report_header(config):
    if STANDIN_ACTIVE:
        return (f"cupy: minilottery's strict stand-in ({STANDIN_PATH}), not a GPU; "
                f"MINILOTTERY_BACKEND={os.environ.get('MINILOTTERY_BACKEND')}")
    return None


_session_counts = []


def pytest_sessionstart(session):
    if STANDIN_ACTIVE:
        import cupy
        counting = cupy.counting()
        _session_counts.append((counting, counting.__enter__()))


def pytest_terminal_summary(terminalreporter):
    """The stand-in pass ends with what crossed in this process over the whole suite."""
    if _session_counts:
        _, counts = _session_counts[0]
        calls = sorted(set(counts.numpy_calls))
        terminalreporter.write_line(
            f"stand-in cupy, whole suite in this process: {counts.device_to_host} transfers "
            f"to the host, {counts.host_to_device} to the device, {counts.synchronize} "
            f"synchronisations, {len(counts.numpy_calls)} NumPy calls on device arrays"
            + (f" ({', '.join(calls)})" if calls else ""))

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


@pytest.fixture
def cupy_standin(monkeypatch):
    """The stand-in cupy module, also in the plain pass: there it is imported for this test
    only, and cupy (with any backend built on it) is forgotten afterwards.

    A CuPy imported before (a real one, by an earlier test on MINILOTTERY_BACKEND=cupy)
    steps aside for the test (its modules and its backend leave sys.modules and the
    backend cache) and is put back afterwards: the test runs on the stand-in whatever
    was imported first."""
    if STANDIN_ACTIVE:
        import cupy
        yield cupy
        return
    monkeypatch.setenv(STANDIN_VAR, "1")
    monkeypatch.syspath_prepend(str(STANDIN_PATH))
    monkeypatch.delitem(_backend_registry._cache, "cupy", raising=False)
    for name in [name for name in sys.modules if name.split(".")[0] in ("cupy", "cupyx")]:
        monkeypatch.delitem(sys.modules, name)  # restored by monkeypatch after the test
    before = set(sys.modules)
    import cupy
    assert getattr(cupy, "STANDIN", False), cupy.__file__
    try:
        yield cupy
    finally:
        for name in set(sys.modules) - before:
            if name.split(".")[0] in ("cupy", "cupyx"):
                del sys.modules[name]
        _backend_registry._cache.pop("cupy", None)
