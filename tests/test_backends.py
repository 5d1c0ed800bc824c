"""The array backends: choosing one, clear errors when CuPy or a GPU is missing, and the
few operations each backend spells its own way, against naive NumPy references."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from minilottery.backends import (
    BACKEND_NAMES,
    ENV_VAR,
    Backend,
    BackendUnavailableError,
    available_backends,
    get_backend,
    unavailable_reason,
)
from minilottery.backends import registry as backend_registry

ROOT = Path(__file__).resolve().parents[1]


# Choosing a backend -----------------------------------------------------------------


def test_numpy_backend():
    backend = get_backend("numpy")
    assert isinstance(backend, Backend)
    assert backend.name == "numpy" and backend.xp is np
    assert get_backend("numpy") is backend
    assert get_backend(backend) is backend
    backend.synchronize()  # a no-op on the CPU, but it must exist


def test_default_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)
    assert ENV_VAR == "MINILOTTERY_BACKEND"
    assert get_backend().name == "numpy"
    monkeypatch.setenv(ENV_VAR, "numpy")
    assert get_backend(None).name == "numpy"
    monkeypatch.setenv(ENV_VAR, "abacus")
    with pytest.raises(ValueError, match="'abacus'"):
        get_backend()
    monkeypatch.setenv(ENV_VAR, "cupy")
    if unavailable_reason("cupy") is None:
        assert get_backend().name == "cupy"
    else:
        with pytest.raises(BackendUnavailableError, match="CuPy"):
            get_backend()
    # an explicit name wins over the environment
    assert get_backend("numpy").name == "numpy"


@pytest.mark.parametrize("name", ["tensorflow", "NumPy", "", "gpu"])
def test_unknown_name_is_named(name):
    with pytest.raises(ValueError) as error:
        get_backend(name)
    assert repr(name) in str(error.value)
    assert "numpy" in str(error.value) and "cupy" in str(error.value)


def test_available_backends_lists_what_works_here():
    names = available_backends()
    assert names[0] == "numpy"
    assert set(names) <= set(BACKEND_NAMES)
    assert ("cupy" in names) == (unavailable_reason("cupy") is None)
    for name in names:
        assert get_backend(name).name == name


def test_unavailable_cupy_says_why_on_this_machine():
    reason = unavailable_reason("cupy")
    if reason is None:
        pytest.skip("CuPy and a GPU are both present here")
    assert "CuPy" in reason
    assert ("not installed" in reason) or ("GPU" in reason)
    with pytest.raises(BackendUnavailableError) as error:
        get_backend("cupy")
    assert str(error.value) == reason
    assert "cupy" not in available_backends()


@pytest.fixture
def fresh_cupy_slot(monkeypatch):
    """No cached CuPy backend, so get_backend("cupy") really tries again."""
    monkeypatch.delitem(backend_registry._cache, "cupy", raising=False)
    return monkeypatch


def test_error_when_cupy_is_not_installed(fresh_cupy_slot):
    fresh_cupy_slot.setitem(sys.modules, "cupy", None)  # makes `import cupy` fail
    with pytest.raises(BackendUnavailableError, match=r"CuPy package.*not installed"):
        get_backend("cupy")
    assert "not installed" in unavailable_reason("cupy")
    assert available_backends() == ["numpy"]


def _fake_cupy(device_count):
    """A stand-in cupy module whose device query returns ``device_count`` or raises it."""
    def get_device_count():
        if isinstance(device_count, Exception):
            raise device_count
        return device_count
    runtime = types.SimpleNamespace(getDeviceCount=get_device_count)
    module = types.ModuleType("cupy")
    module.cuda = types.SimpleNamespace(runtime=runtime)
    return module


@pytest.mark.parametrize("device_count", [0, RuntimeError("cudaErrorNoDevice")])
def test_error_when_cupy_has_no_gpu(fresh_cupy_slot, device_count):
    fresh_cupy_slot.setitem(sys.modules, "cupy", _fake_cupy(device_count))
    with pytest.raises(BackendUnavailableError) as error:
        get_backend("cupy")
    message = str(error.value)
    assert "CuPy is installed" in message and "GPU" in message
    assert "not installed" not in message
    assert "cupy" not in backend_registry._cache


# Importing without CuPy ------------------------------------------------------------------


def _run_python(code: str) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter whose default backend is NumPy: the child must
    not inherit MINILOTTERY_BACKEND=cupy from a stand-in pass of the suite."""
    env = {k: v for k, v in os.environ.items() if k != ENV_VAR}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, cwd=ROOT, env=env)


def test_packages_import_without_cupy():
    """`import cupy` fails in the child; everything must still import and run on NumPy."""
    result = _run_python(
        "import sys; sys.modules['cupy'] = None\n"
        "import minilottery.backends, minilottery.backends.cupy_backend\n"
        "import minilottery, minilottery.nn, minilottery.models, minilottery.train\n"
        "from minilottery.backends import available_backends, get_backend\n"
        "assert available_backends() == ['numpy'], available_backends()\n"
        "assert get_backend().name == 'numpy'\n"
        "print('ok')\n"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_cupy_backend_module_does_not_import_cupy():
    """Importing the module (and everything else) leaves cupy unimported until it is asked for."""
    result = _run_python(
        "import sys\n"
        "import minilottery.backends.cupy_backend\n"
        "import minilottery, minilottery.nn, minilottery.models, minilottery.train\n"
        "from minilottery.backends import get_backend\n"
        "get_backend('numpy')\n"
        "print(sorted(m for m in sys.modules if m == 'cupy' or m.startswith('cupy.')))\n"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_only_cupy_backend_names_cupy_in_an_import():
    pattern = re.compile(r"^\s*(import cupy|from cupy|import cupyx|from cupyx)", re.M)
    sources = [*(ROOT / "minilottery").rglob("*.py"), *(ROOT / "backends").glob("*.py")]
    assert len(sources) > 20
    offenders = [str(path.relative_to(ROOT)) for path in sources
                 if pattern.search(path.read_text()) and path.name != "cupy_backend.py"]
    assert offenders == []


# The operations that differ ---------------------------------------------------------


@pytest.mark.parametrize("shape", [(5, 3), (4, 3, 2, 5)])
def test_channel_sum_sums_every_axis_but_the_channel(backend, shape):
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(shape), rng.standard_normal(shape)
    axes = (0, *range(2, len(shape)))
    got = backend.channel_sum(backend.asarray(a))
    np.testing.assert_allclose(backend.to_numpy(got), a.sum(axis=axes), rtol=1e-12)
    got = backend.channel_sum(backend.asarray(a), backend.asarray(b))
    np.testing.assert_allclose(backend.to_numpy(got), (a * b).sum(axis=axes), rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64, np.bool_])
def test_asarray_to_numpy_round_trip(backend, dtype):
    host = (np.arange(24).reshape(2, 3, 4) % 5).astype(dtype)
    device = backend.asarray(host)
    assert isinstance(device, backend.xp.ndarray)
    back = backend.to_numpy(device)
    assert isinstance(back, np.ndarray)
    assert back.dtype == dtype and back.shape == host.shape
    np.testing.assert_array_equal(back, host)
    converted = backend.asarray(host, dtype=np.float32)
    assert converted.dtype == np.float32
    assert backend.to_numpy(backend.asarray([1.5, 2.5])).tolist() == [1.5, 2.5]
