"""Conv2d's Winograd path (winograd.py) against the im2col reference, and when it is chosen."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_conv_fast import assert_passes_agree, masked_case, passes

from minilottery import nn
from minilottery.nn import conv, winograd

shared_fixture = settings(deadline=None,
                          suppress_health_check=[HealthCheck.function_scoped_fixture])


def test_the_hand_written_transforms_are_the_matrices():
    """_g, _g_transposed and the tile transforms equal G, Gᵀ, Bᵀ d B, Aᵀ M A, A dY Aᵀ."""
    rng = np.random.default_rng(0)
    g = rng.standard_normal((2, 3, 3, 3))
    np.testing.assert_allclose(winograd._kernel_transform(np, g).reshape(4, 4, 2, 3),
                               np.einsum("ki,ocij,lj->kloc", winograd.G, g, winograd.G),
                               atol=1e-14)
    du = rng.standard_normal((2, 3, 4, 4))
    np.testing.assert_allclose(
        winograd._g_transposed(np, winograd._g_transposed(np, du).swapaxes(-1, -2)),
        np.einsum("ki,ockl,lj->ocji", winograd.G, du, winograd.G), atol=1e-14)
    # one tile, one channel: d (4, 4) -> V, M (4, 4) -> Y, dY (2, 2) -> dM
    d = rng.standard_normal((1, 1, 4, 4))
    v = winograd._input_transform(np, d, (1, 1), np.empty((4, 4, 1, 1, 1, 1)))
    np.testing.assert_allclose(v[..., 0, 0, 0, 0], winograd.B_T @ d[0, 0] @ winograd.B_T.T)
    m = rng.standard_normal((4, 4, 1, 1, 1, 1))
    y = winograd._output_transform(np, m, np.empty((1, 1, 2, 2)))
    np.testing.assert_allclose(y[0, 0], winograd.A_T @ m[..., 0, 0, 0, 0] @ winograd.A_T.T)
    dy = rng.standard_normal((1, 1, 2, 2))
    dm = winograd._output_gradient(np, dy, (1, 1), np.empty((4, 4, 1, 1, 1, 1)))
    np.testing.assert_allclose(dm[..., 0, 0, 0, 0], winograd.A_T.T @ dy[0, 0] @ winograd.A_T)


@shared_fixture
@given(n=st.integers(1, 3), c_in=st.integers(1, 4), c_out=st.integers(1, 4),
       padding=st.tuples(st.integers(0, 2), st.integers(0, 2)),
       h=st.integers(1, 9), w=st.integers(1, 9), bias=st.booleans(),
       density=st.sampled_from([1.0, 0.5, 0.1]), chunked=st.booleans(),
       seed=st.integers(0, 2**16))
def test_winograd_and_reference_agree_in_float64(backend, n, c_in, c_out, padding, h, w, bias,
                                                 density, chunked, seed):
    """Forward, input, weight and bias gradients, odd and even sizes, with a mask in force.

    ``chunked``: every chunk is one image."""
    layer, x, dy = masked_case(backend, seed, n, c_in, c_out, (3, 3), (1, 1), padding, h, w,
                               bias, density)
    reference = passes(layer, x, dy, "reference")
    chunk_bytes = winograd.CHUNK_BYTES
    if chunked:
        winograd.CHUNK_BYTES = 1
    try:
        got = passes(layer, x, dy, "winograd")
    finally:
        winograd.CHUNK_BYTES = chunk_bytes
    assert layer.path == "winograd"
    assert_passes_agree(got, reference, 1e-11)


# The float32 error of each path against the float64 reference, relative to the largest
# value. Measured (64 -> 64 channels, 16x16 batch 8 and 32x32 batch 60): im2col 4.9-6.5e-7
# for y, dX and dW; Winograd 2.7-3.5e-7 for y and dX (fewer terms summed), 7.6-8.3e-7 for
# dW (sums over tiles of transformed values, which are larger than the inputs).
FLOAT32_TOLERANCE = 2e-6


@pytest.mark.parametrize("algorithm", ["fast", "winograd"])
def test_float32_error_against_the_float64_reference(backend, algorithm):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((8, 64, 16, 16))
    dy = rng.standard_normal((8, 64, 16, 16))
    wide = nn.Conv2d(64, 64, 3, padding=1, rng=0, dtype=np.float64, backend=backend)
    exact = passes(wide, x, dy, "reference")
    narrow = nn.Conv2d(64, 64, 3, padding=1, rng=0, dtype=np.float32, backend=backend)
    approx = passes(narrow, x.astype(np.float32), dy.astype(np.float32), algorithm)
    assert narrow.path == algorithm
    for got, want in [(approx[0], exact[0]), (approx[1], exact[1]),
                      (approx[2]["weight"], exact[2]["weight"])]:
        assert got.dtype == np.float32
        assert np.abs(got - want).max() <= FLOAT32_TOLERANCE * np.abs(want).max()


@pytest.mark.parametrize("chunk_bytes", [1, 2**40])
def test_a_stack_of_layers_over_two_iterations(backend, monkeypatch, chunk_bytes):
    """Winograd layers beside a fast one, the kept buffers and the workspace reused (chunks
    of one image, or the whole batch): as the reference."""
    monkeypatch.setattr(winograd, "CHUNK_BYTES", chunk_bytes)
    rng = np.random.default_rng(0)

    def network():
        return nn.Sequential(
            nn.Conv2d(2, 5, 3, padding=1, rng=1, dtype=np.float64, backend=backend),
            nn.ReLU(backend=backend),
            nn.Conv2d(5, 4, 3, padding=0, rng=2, dtype=np.float64, backend=backend),
            nn.Conv2d(4, 3, 1, rng=3, dtype=np.float64, backend=backend),
            nn.Conv2d(3, 6, 3, padding=(2, 1), rng=4, dtype=np.float64, backend=backend))

    x = backend.asarray(rng.standard_normal((3, 2, 7, 6)))
    results = {}
    for algorithm in ("reference", "winograd"):
        monkeypatch.setattr(conv, "ALGORITHM", algorithm)
        model = network()
        for _ in range(2):
            y = model.forward(x)
            dy = backend.asarray(np.random.default_rng(1).standard_normal(y.shape))
            dx = model.backward(dy)
        results[algorithm] = [backend.to_numpy(a).copy() for a in (y, dx)] + [
            backend.to_numpy(g).copy() for _, g in model.named_grads()]
        paths = [layer.path for layer in model.modules() if isinstance(layer, nn.Conv2d)]
    assert paths == ["winograd", "winograd", "fast", "winograd"]
    for got, reference in zip(results["winograd"], results["reference"], strict=True):
        np.testing.assert_allclose(got, reference, rtol=1e-11, atol=1e-11)


@pytest.mark.parametrize("channels, size, path", [
    ((64, 64), 32, "winograd"), ((64, 128), 16, "winograd"),  # Conv-4
    ((16, 16), 32, "fast"), ((3, 64), 32, "fast"), ((32, 32), 16, "fast"),  # few channels
    ((64, 64), 8, "fast"), ((128, 128), 4, "fast"), ((128, 128), 2, "fast"),  # small images
])
def test_auto_takes_winograd_where_it_measured_faster(monkeypatch, channels, size, path):
    monkeypatch.setattr(conv, "ALGORITHM", "auto")
    layer = nn.Conv2d(*channels, 3, padding=1, rng=0, backend="numpy")
    layer.forward(np.ones((1, channels[0], size, size), np.float32))
    assert layer.path == path


@pytest.mark.parametrize("kernel, stride, padding, path", [
    (3, 1, 1, "winograd"), (3, 1, 0, "winograd"),
    (5, 1, 2, "fast"), (1, 1, 0, "fast"),  # not 3x3: the fast path
    (3, 2, 1, "fast"),                     # strided: the fast path
    (1, 1, 1, "reference"),                # padding >= kernel: the reference
])
def test_forcing_winograd_where_it_does_not_apply(monkeypatch, kernel, stride, padding, path):
    monkeypatch.setattr(conv, "ALGORITHM", "winograd")
    layer = nn.Conv2d(2, 2, kernel, stride=stride, padding=padding, rng=0, backend="numpy")
    layer.forward(np.ones((1, 2, 6, 6), np.float32))
    assert layer.path == path
    layer.algorithm = "fast"  # the layer's attribute wins over the module flag
    layer.forward(np.ones((1, 2, 6, 6), np.float32))
    assert layer.path == ("reference" if path == "reference" else "fast")


def test_backward_before_forward_is_a_clear_error(backend):
    layer = nn.Conv2d(2, 2, 3, padding=1, rng=0, backend=backend)
    layer.algorithm = "winograd"
    layer.forward(backend.asarray(np.ones((1, 2, 4, 4), np.float32)))
    layer.backward(backend.asarray(np.ones((1, 2, 4, 4), np.float32)))
    with pytest.raises(RuntimeError, match="run forward first"):
        layer.backward(backend.asarray(np.ones((1, 2, 4, 4), np.float32)))


def test_evaluation_allocates_afresh(backend):
    """In evaluation (large batches) neither the workspace nor a kept padded input is used."""
    from minilottery.nn import conv_fast

    conv_fast.release_workspace()
    layer = nn.Conv2d(3, 4, 3, padding=1, rng=0, backend=backend).eval()
    layer.algorithm = "winograd"
    layer.forward(backend.asarray(np.ones((8, 3, 10, 10), np.float32)))
    assert not getattr(conv_fast._local, "buffers", {})
    assert not layer.engine("winograd").kept  # no tile buffer kept for evaluation
