"""The strict stand-in CuPy itself: each rule of CuPy it enforces, each thing it counts.

These run in both passes of the suite (the ``cupy_standin`` fixture imports the
stand-in for one test in the plain pass). A rule the stand-in stopped enforcing
would let a host/device mix through CI unseen, so each rule has its test here.
"""

from __future__ import annotations

import copy
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest
from conftest import STANDIN_PATH

from minilottery.backends import BackendUnavailableError, get_backend


def test_device_arrays_are_not_numpy_arrays(cupy_standin):
    x = cupy_standin.arange(6, dtype=np.float32)
    assert isinstance(x, cupy_standin.ndarray) and not isinstance(x, np.ndarray)
    with pytest.raises(TypeError, match="Implicit conversion to a NumPy array"):
        np.asarray(x)
    with pytest.raises(TypeError, match="Implicit conversion"):
        np.zeros(6)[...] = x


@pytest.mark.parametrize("form", ["operator", "reflected", "in place", "function", "ufunc"])
def test_numpy_operands_are_refused(cupy_standin, form):
    x, host = cupy_standin.ones(3), np.ones(3)
    with pytest.raises(TypeError, match="Unsupported type"):
        if form == "operator":
            x + host
        elif form == "reflected":
            host * x
        elif form == "in place":
            x += host
        elif form == "function":
            cupy_standin.maximum(x, host)
        else:
            np.add(x, host)
    # scalars, NumPy's included, are fine
    assert (x * np.float32(2) + 1).dtype == np.float64


def test_an_all_integer_index_is_a_zero_d_view(cupy_standin):
    x = cupy_standin.asarray(np.arange(6.0).reshape(2, 3))
    item = x[1, 2]
    assert isinstance(item, cupy_standin.ndarray) and item.shape == ()
    x[1, 2] = 50.0
    assert float(item) == 50.0  # a view: it follows the array, as on CuPy
    assert isinstance(x.sum(), cupy_standin.ndarray) and x.sum().shape == ()


def test_crossings_to_the_host_are_counted(cupy_standin):
    x = cupy_standin.asarray(np.arange(4.0))
    with cupy_standin.counting() as counts:
        y = x * 2
        y += 1
        assert counts.device_to_host == 0
        float(y.sum()), int(y[0]), bool(y[1] > 0), y[2].item(), y.tolist()
        y.get(), cupy_standin.asnumpy(y), repr(y), f"{y[0]:.1f}"
        cupy_standin.cuda.get_current_stream().synchronize()
        cupy_standin.asarray(np.ones(2))
        np.count_nonzero(y), np.exp(y)
    assert counts.device_to_host == 9
    assert counts.host_to_device == 1  # the asarray of x, before the block, is not counted
    assert counts.synchronize == 1
    assert counts.numpy_calls == ["count_nonzero", "exp"]


def test_names_cupy_lacks_are_missing_here_too(cupy_standin):
    assert not hasattr(cupy_standin, "nanpercentile_of_doom")
    with pytest.raises(AttributeError):
        cupy_standin.histogram_bin_edges  # noqa: B018 (not in the stand-in's list)
    with pytest.raises(AttributeError):
        cupy_standin.ones(2).byteswap  # noqa: B018


def test_random_streams_are_cupys_own(cupy_standin):
    ours = cupy_standin.random.default_rng(7).random(5)
    assert isinstance(ours, cupy_standin.ndarray)
    np.testing.assert_array_equal(ours.get(), cupy_standin.random.default_rng(7).random(5).get())
    assert not np.allclose(ours.get(), np.random.default_rng(7).random(5))


def test_module_cannot_be_pickled_but_arrays_can(cupy_standin):
    with pytest.raises(TypeError, match="module"):
        pickle.dumps(cupy_standin)
    x = cupy_standin.asarray(np.arange(3.0))
    for twin in (pickle.loads(pickle.dumps(x)), copy.deepcopy(x)):
        assert isinstance(twin, cupy_standin.ndarray)
        np.testing.assert_array_equal(twin.get(), x.get())


def test_no_gpu_gives_cupys_error_and_ours(cupy_standin, monkeypatch):
    monkeypatch.setenv("MINILOTTERY_CUPY_STANDIN_DEVICES", "0")
    with pytest.raises(cupy_standin.cuda.CUDARuntimeError):
        cupy_standin.cuda.runtime.getDeviceCount()
    monkeypatch.delitem(sys.modules["minilottery.backends.registry"]._cache, "cupy",
                        raising=False)
    with pytest.raises(BackendUnavailableError, match="CuPy is installed but no usable GPU"):
        get_backend("cupy")


def test_it_is_never_imported_by_accident():
    """On the path but without MINILOTTERY_CUPY_STANDIN=1, `import cupy` fails: it can
    never pass for a real CuPy."""
    env = {k: v for k, v in os.environ.items() if k != "MINILOTTERY_CUPY_STANDIN"}
    env["PYTHONPATH"] = str(STANDIN_PATH)
    done = subprocess.run([sys.executable, "-c", "import cupy"], capture_output=True,
                          text=True, env=env, timeout=60)
    assert done.returncode != 0
    assert "stand-in" in done.stderr and "MINILOTTERY_CUPY_STANDIN=1" in done.stderr
