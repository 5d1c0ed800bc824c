"""Conv2d's fast path (conv_fast.py) against the im2col reference, and how the path is chosen."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from minilottery import nn
from minilottery.nn import conv, conv_fast

shared_fixture = settings(deadline=None,
                          suppress_health_check=[HealthCheck.function_scoped_fixture])


def passes(layer, x, dy, algorithm):
    """(y, dx, grads) of one forward and backward with ``algorithm``, as host float64 arrays."""
    layer.algorithm = algorithm
    backend = layer.backend
    y = layer.forward(backend.asarray(x))
    dx = layer.backward(backend.asarray(dy))
    grads = {k: backend.to_numpy(v).copy() for k, v in layer.grads.items()}
    return backend.to_numpy(y).copy(), backend.to_numpy(dx).copy(), grads


def masked_case(backend, seed, n, c_in, c_out, kernel, stride, padding, h, w, bias, density):
    """A float64 Conv2d with a random mask in force (and a random bias), an input and an
    upstream gradient: (layer, x, dy); hypothesis skips shapes with no output."""
    (kh, kw), (sh, sw) = kernel, stride
    out_h = (h + 2 * padding[0] - kh) // sh + 1
    out_w = (w + 2 * padding[1] - kw) // sw + 1
    assume(out_h >= 1 and out_w >= 1)
    rng = np.random.default_rng(seed)
    layer = nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=padding, bias=bias,
                      rng=seed, dtype=np.float64, backend=backend)
    mask = rng.random(layer.params["weight"].shape) < density
    layer.params["weight"] *= backend.asarray(mask)
    if bias:
        layer.params["bias"][...] = backend.asarray(rng.standard_normal(c_out))
    x = rng.standard_normal((n, c_in, h, w))
    dy = rng.standard_normal((n, c_out, out_h, out_w))
    return layer, x, dy


def assert_passes_agree(got, reference, tolerance):
    """Two results of ``passes``: output, input gradient and every parameter gradient."""
    np.testing.assert_allclose(got[0], reference[0], rtol=tolerance, atol=tolerance)
    np.testing.assert_allclose(got[1], reference[1], rtol=tolerance, atol=tolerance)
    assert got[2].keys() == reference[2].keys()
    for name in reference[2]:
        np.testing.assert_allclose(got[2][name], reference[2][name], rtol=tolerance,
                                   atol=tolerance, err_msg=name)


@shared_fixture
@given(n=st.integers(1, 3), c_in=st.integers(1, 4), c_out=st.integers(1, 4),
       kh=st.integers(1, 4), kw=st.integers(1, 4),
       stride=st.tuples(st.integers(1, 3), st.integers(1, 3)),
       padding=st.tuples(st.integers(0, 3), st.integers(0, 3)),
       h=st.integers(1, 9), w=st.integers(1, 9), bias=st.booleans(),
       density=st.sampled_from([1.0, 0.5, 0.1]), chunked=st.booleans(),
       seed=st.integers(0, 2**16))
def test_fast_and_reference_agree_in_float64(backend, n, c_in, c_out, kh, kw, stride, padding,
                                             h, w, bias, density, chunked, seed):
    """Forward, input, weight and bias gradients: the same to rounding, with a mask in force.

    ``chunked``: no column matrix is kept and every chunk is one image."""
    layer, x, dy = masked_case(backend, seed, n, c_in, c_out, (kh, kw), stride, padding, h, w,
                               bias, density)
    reference = passes(layer, x, dy, "reference")
    assert not layer.fast
    sizes = conv_fast.KEEP_COLUMNS_BYTES, conv_fast.CHUNK_BYTES
    if chunked:
        conv_fast.KEEP_COLUMNS_BYTES, conv_fast.CHUNK_BYTES = 0, 1
    try:
        fast = passes(layer, x, dy, "fast")
    finally:
        conv_fast.KEEP_COLUMNS_BYTES, conv_fast.CHUNK_BYTES = sizes
    assert layer.fast == conv_fast.applies((kh, kw), stride, padding)
    assert_passes_agree(fast, reference, 1e-12)


@pytest.mark.parametrize("keep_bytes, chunk_bytes", [(0, 1), (0, 2**40), (2**40, 2**40)])
def test_a_stack_of_layers_shares_the_workspace_safely(backend, monkeypatch, keep_bytes,
                                                       chunk_bytes):
    """Several layers forward, then backward in reverse: columns rebuilt one image at a time,
    rebuilt whole, or kept."""
    monkeypatch.setattr(conv_fast, "KEEP_COLUMNS_BYTES", keep_bytes)
    monkeypatch.setattr(conv_fast, "CHUNK_BYTES", chunk_bytes)
    rng = np.random.default_rng(0)

    def network():
        return nn.Sequential(nn.Conv2d(2, 5, 3, padding=1, rng=1, dtype=np.float64,
                                       backend=backend), nn.ReLU(backend=backend),
                             nn.Conv2d(5, 4, 1, rng=2, dtype=np.float64, backend=backend),
                             nn.Conv2d(4, 3, (2, 3), padding=(1, 0), rng=3, dtype=np.float64,
                                       backend=backend),
                             nn.Conv2d(3, 6, 1, stride=2, rng=4, dtype=np.float64,
                                       backend=backend))

    x = backend.asarray(rng.standard_normal((3, 2, 7, 6)))
    results = {}
    for algorithm in ("reference", "fast"):
        monkeypatch.setattr(conv, "ALGORITHM", algorithm)
        model = network()
        for _ in range(2):  # the second iteration reuses every kept buffer
            y = model.forward(x)
            dy = backend.asarray(np.random.default_rng(1).standard_normal(y.shape))
            dx = model.backward(dy)
        results[algorithm] = [backend.to_numpy(a).copy() for a in (y, dx)] + [
            backend.to_numpy(g).copy() for _, g in model.named_grads()]
    for fast, reference in zip(results["fast"], results["reference"], strict=True):
        np.testing.assert_allclose(fast, reference, rtol=1e-12, atol=1e-12)


def test_float32_error_of_the_fast_path(backend):
    """float32 fast path against the float64 reference: within 1e-5 of the largest value."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 16, 12, 12))
    dy = rng.standard_normal((4, 16, 12, 12))
    wide = nn.Conv2d(16, 16, 3, padding=1, rng=0, dtype=np.float64, backend=backend)
    exact = passes(wide, x, dy, "reference")
    narrow = nn.Conv2d(16, 16, 3, padding=1, rng=0, dtype=np.float32, backend=backend)
    approx = passes(narrow, x.astype(np.float32), dy.astype(np.float32), "fast")
    assert narrow.fast
    for got, want in [(approx[0], exact[0]), (approx[1], exact[1]),
                      (approx[2]["weight"], exact[2]["weight"])]:
        assert got.dtype == np.float32
        assert np.abs(got - want).max() <= 1e-5 * np.abs(want).max()


def test_evaluation_does_not_grow_the_workspace(backend):
    conv_fast.release_workspace()
    layer = nn.Conv2d(3, 4, 3, padding=1, rng=0, backend=backend).eval()
    layer.forward(backend.asarray(np.ones((8, 3, 10, 10), np.float32)))
    assert layer.fast and not getattr(conv_fast._local, "buffers", {})
    layer.train()
    layer.forward(backend.asarray(np.ones((2, 3, 10, 10), np.float32)))
    layer.backward(backend.asarray(np.ones((2, 4, 10, 10), np.float32)))
    assert conv_fast._local.buffers
    conv_fast.release_workspace()
    assert not conv_fast._local.buffers


def test_backward_before_forward_is_a_clear_error(backend):
    layer = nn.Conv2d(2, 2, 3, padding=1, rng=0, backend=backend)
    layer.forward(backend.asarray(np.ones((1, 2, 4, 4), np.float32)))
    layer.backward(backend.asarray(np.ones((1, 2, 4, 4), np.float32)))
    with pytest.raises(RuntimeError, match="run forward first"):
        layer.backward(backend.asarray(np.ones((1, 2, 4, 4), np.float32)))


def test_the_module_flag_and_the_layer_attribute_choose(monkeypatch):
    layer = nn.Conv2d(2, 2, 3, padding=1, rng=0)
    x = np.ones((1, 2, 4, 4), np.float32)
    for flag, attribute, fast in [("auto", None, True), ("fast", None, True),
                                  ("reference", None, False), ("reference", "fast", True),
                                  ("auto", "reference", False)]:
        monkeypatch.setattr(conv, "ALGORITHM", flag)
        layer.algorithm = attribute
        layer.forward(x)
        assert layer.fast == fast, (flag, attribute)
    padded = nn.Conv2d(2, 2, 1, padding=1, rng=0)
    padded.algorithm = "fast"  # where the fast path does not apply, the reference runs
    padded.forward(x)
    assert not padded.fast


@pytest.mark.parametrize("where", ["flag", "attribute"])
def test_an_unknown_algorithm_is_named(monkeypatch, where):
    layer = nn.Conv2d(2, 2, 3, rng=0)
    if where == "flag":
        monkeypatch.setattr(conv, "ALGORITHM", "fft")
        match = "MINILOTTERY_CONV"
    else:
        layer.algorithm = "fft"
        match = "Conv2d.algorithm"
    with pytest.raises(ValueError, match=rf"{match}.*'fft'.*auto, fast, winograd, reference"):
        layer.forward(np.ones((1, 2, 4, 4), np.float32))


def test_the_environment_variable_sets_the_flag():
    code = "from minilottery.nn import conv; print(conv.ALGORITHM)"
    env = {**os.environ, "MINILOTTERY_CONV": "reference"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, check=True, cwd=os.path.dirname(os.path.dirname(
                              os.path.abspath(__file__))))
    assert done.stdout.strip() == "reference"
