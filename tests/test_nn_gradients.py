"""Every layer's backward pass against central finite differences, in float64.

Hypothesis draws the shapes, kernels, strides, paddings and batch sizes;
``assume()`` throws away the combinations a layer rightly refuses. The checks
themselves live in tests/gradcheck.py: small layers are compared entry by
entry (``full=True``), convolutions and whole networks along one random
direction per array. Both the input gradient and every parameter gradient are
checked.
"""

from __future__ import annotations

import numpy as np
import pytest
from gradcheck import check_module_gradients, numeric_gradient
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from minilottery import nn
from minilottery.models import get_model

# The backend fixture is the same object for every example: safe to share.
shared_fixture = settings(deadline=None,
                          suppress_health_check=[HealthCheck.function_scoped_fixture])

small = st.integers(1, 3)
seeds = st.integers(0, 2**16)


def out_size(size, kernel, stride, padding=0):
    return (size + 2 * padding - kernel) // stride + 1


def away_from_zero(rng, shape, gap=0.05):
    """Random values at least ``gap`` from 0: finite differences never straddle a ReLU kink."""
    x = rng.standard_normal(shape)
    return np.sign(x) * (gap + np.abs(x))


def distinct(rng, shape):
    """Random values 0.01 apart: no two entries of a max-pool window are within eps."""
    size = int(np.prod(shape))
    return (rng.permutation(size).reshape(shape) * 0.01 - 0.005 * size)


def randomise_batchnorm(model, rng):
    """Non-trivial gamma, beta and running statistics for every BatchNorm in ``model``."""
    for module in model.modules():
        if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
            c = module.num_features
            module.params["weight"][...] = module.backend.asarray(rng.uniform(0.5, 1.5, c))
            module.params["bias"][...] = module.backend.asarray(rng.normal(0, 0.5, c))
            module.buffers["running_mean"][...] = module.backend.asarray(rng.normal(0, 0.5, c))
            module.buffers["running_var"][...] = module.backend.asarray(rng.uniform(0.5, 2, c))


# Dense and convolutional layers -------------------------------------------------


@shared_fixture
@given(n=small, in_features=st.integers(1, 5), out_features=st.integers(1, 5),
       bias=st.booleans(), seed=seeds)
def test_linear(backend, n, in_features, out_features, bias, seed):
    layer = nn.Linear(in_features, out_features, bias=bias, rng=seed, backend=backend)
    x = np.random.default_rng(seed).standard_normal((n, in_features))
    errors = check_module_gradients(layer, x, seed=seed, full=True)
    assert set(errors) == {"input", "weight"} | ({"bias"} if bias else set())


@shared_fixture
@given(n=small, c_in=small, c_out=small, kh=st.integers(1, 4), kw=st.integers(1, 4),
       stride=st.tuples(small, small), padding=st.tuples(st.integers(0, 2), st.integers(0, 2)),
       h=st.integers(1, 8), w=st.integers(1, 8), bias=st.booleans(), seed=seeds,
       algorithm=st.sampled_from(["reference", "fast", "winograd"]))
def test_conv2d(backend, n, c_in, c_out, kh, kw, stride, padding, h, w, bias, seed, algorithm):
    if algorithm == "winograd":  # its cases: 3x3, stride 1, padding < 3
        kh, kw, stride = 3, 3, (1, 1)
    assume(out_size(h, kh, stride[0], padding[0]) >= 1)
    assume(out_size(w, kw, stride[1], padding[1]) >= 1)
    if algorithm in ("fast", "winograd"):  # padding < kernel
        padding = (0, 0) if (kh, kw) == (1, 1) else (min(padding[0], kh - 1),
                                                     min(padding[1], kw - 1))
    layer = nn.Conv2d(c_in, c_out, (kh, kw), stride=stride, padding=padding, bias=bias,
                      rng=seed, backend=backend)
    layer.algorithm = algorithm
    x = np.random.default_rng(seed).standard_normal((n, c_in, h, w))
    errors = check_module_gradients(layer, x, seed=seed)
    assert layer.path == algorithm
    assert set(errors) == {"input", "weight"} | ({"bias"} if bias else set())


@pytest.mark.parametrize("stride, algorithm", [(2, "reference"), (1, "reference"), (1, "fast"),
                                               (1, "winograd")])
def test_conv2d_every_entry(backend, stride, algorithm):
    """One conv with padding, every entry of both gradients (not just a direction)."""
    layer = nn.Conv2d(2, 3, 3, stride=stride, padding=1, rng=0, backend=backend)
    layer.algorithm = algorithm
    x = np.random.default_rng(0).standard_normal((2, 2, 5, 4))
    check_module_gradients(layer, x, full=True)
    assert layer.path == algorithm


# Pooling ----------------------------------------------------------------------


@shared_fixture
@given(n=small, c=small, kernel=st.tuples(st.integers(1, 3), st.integers(1, 3)),
       stride=st.one_of(st.none(), st.tuples(st.integers(1, 3), st.integers(1, 3))),
       h=st.integers(1, 7), w=st.integers(1, 7), seed=seeds)
def test_maxpool2d(backend, n, c, kernel, stride, h, w, seed):
    s = kernel if stride is None else stride
    assume(out_size(h, kernel[0], s[0]) >= 1 and out_size(w, kernel[1], s[1]) >= 1)
    layer = nn.MaxPool2d(kernel, stride, backend=backend)
    x = distinct(np.random.default_rng(seed), (n, c, h, w))
    check_module_gradients(layer, x, seed=seed, full=True)


def test_maxpool2d_overlapping_windows_sum_their_gradients(backend):
    """Kernel 3, stride 2: an entry that is the maximum of two windows gets both gradients."""
    layer = nn.MaxPool2d(3, stride=2, backend=backend)
    x = np.zeros((1, 1, 5, 5), dtype=np.float32)
    x[0, 0, 2, 2] = 9.0  # the centre sits in all four 3x3 windows
    x[0, 0, 0, 0] = 1.0
    y = layer.forward(backend.asarray(x))
    np.testing.assert_array_equal(backend.to_numpy(y), np.full((1, 1, 2, 2), 9.0))
    grad_out = np.array([[[[1.0, 2.0], [3.0, 4.0]]]], dtype=np.float32)
    dx = backend.to_numpy(layer.backward(backend.asarray(grad_out)))
    expected = np.zeros_like(x)
    expected[0, 0, 2, 2] = 10.0
    np.testing.assert_array_equal(dx, expected)
    distinct_x = distinct(np.random.default_rng(3), (2, 3, 7, 9))
    check_module_gradients(nn.MaxPool2d(3, stride=2, backend=backend), distinct_x, full=True)


@shared_fixture
@given(n=small, c=small, kernel=st.tuples(st.integers(1, 3), st.integers(1, 3)),
       stride=st.one_of(st.none(), st.tuples(st.integers(1, 3), st.integers(1, 3))),
       h=st.integers(1, 7), w=st.integers(1, 7), seed=seeds)
def test_avgpool2d(backend, n, c, kernel, stride, h, w, seed):
    s = kernel if stride is None else stride
    assume(out_size(h, kernel[0], s[0]) >= 1 and out_size(w, kernel[1], s[1]) >= 1)
    layer = nn.AvgPool2d(kernel, stride, backend=backend)
    x = np.random.default_rng(seed).standard_normal((n, c, h, w))
    check_module_gradients(layer, x, seed=seed, full=True)


@shared_fixture
@given(n=small, c=small, h=st.integers(1, 5), w=st.integers(1, 5), seed=seeds)
def test_global_avgpool2d(backend, n, c, h, w, seed):
    x = np.random.default_rng(seed).standard_normal((n, c, h, w))
    check_module_gradients(nn.GlobalAvgPool2d(backend=backend), x, seed=seed, full=True)


# Normalisation ----------------------------------------------------------------


@shared_fixture
@given(n=st.integers(1, 4), c=small, hw=st.one_of(st.none(), st.tuples(small, small)),
       training=st.booleans(), seed=seeds)
def test_batchnorm(backend, n, c, hw, training, seed):
    """BatchNorm1d (hw None) and BatchNorm2d, on batch statistics (train) or running ones (eval)."""
    shape = (n, c) if hw is None else (n, c, *hw)
    values_per_channel = n * (1 if hw is None else hw[0] * hw[1])
    assume(not training or values_per_channel >= 2)
    rng = np.random.default_rng(seed)
    layer = (nn.BatchNorm1d if hw is None else nn.BatchNorm2d)(c, backend=backend)
    randomise_batchnorm(layer, rng)
    layer.train(training)
    x = rng.standard_normal(shape) * 2 + 1
    errors = check_module_gradients(layer, x, seed=seed, full=True)
    assert set(errors) == {"input", "weight", "bias"}


# Element-wise and structural layers ----------------------------------------------


@shared_fixture
@given(shape=st.lists(st.integers(1, 4), min_size=2, max_size=4), seed=seeds)
def test_relu(backend, shape, seed):
    x = away_from_zero(np.random.default_rng(seed), shape)
    check_module_gradients(nn.ReLU(backend=backend), x, seed=seed, full=True)


@shared_fixture
@given(shape=st.lists(st.integers(1, 5), min_size=2, max_size=4),
       p=st.sampled_from([0.0, 0.1, 0.5, 0.9]), seed=seeds)
def test_dropout_with_a_fixed_mask(backend, shape, p, seed):
    layer = nn.Dropout(p, seed=seed, backend=backend)
    x = np.random.default_rng(seed).standard_normal(shape)
    check_module_gradients(layer, x, seed=seed, before_forward=lambda: layer.reseed(seed),
                           full=True)


@shared_fixture
@given(shape=st.lists(st.integers(1, 4), min_size=2, max_size=4), seed=seeds)
def test_flatten(backend, shape, seed):
    x = np.random.default_rng(seed).standard_normal(shape)
    check_module_gradients(nn.Flatten(backend=backend), x, seed=seed, full=True)


@shared_fixture
@given(n=st.integers(2, 3), seed=seeds, training=st.booleans())
def test_sequential(backend, n, seed, training):
    """Every layer kind in one chain: gradients cross each boundary intact."""
    rng = np.random.default_rng(seed)
    model = nn.Sequential(
        nn.Conv2d(2, 3, 3, stride=1, padding=1, rng=rng, backend=backend),
        nn.BatchNorm2d(3, backend=backend),
        nn.ReLU(backend=backend),
        nn.MaxPool2d(3, stride=2, backend=backend),
        nn.AvgPool2d(1, backend=backend),
        nn.Flatten(backend=backend),
        nn.Linear(3 * 2 * 2, 4, rng=rng, backend=backend),
        nn.BatchNorm1d(4, backend=backend),
        nn.Dropout(0.25, seed=seed, backend=backend),
        nn.Linear(4, 3, rng=rng, backend=backend),
    )
    randomise_batchnorm(model, rng)
    model.train(training)
    dropout = model[8]
    errors = check_module_gradients(model, rng.standard_normal((n, 2, 5, 5)), seed=seed,
                                    before_forward=lambda: dropout.reseed(seed))
    assert set(errors) == {"input", "0.weight", "0.bias", "1.weight", "1.bias", "6.weight",
                           "6.bias", "7.weight", "7.bias", "9.weight", "9.bias"}


# Residual blocks --------------------------------------------------------------


@shared_fixture
@given(n=st.integers(1, 2), c_in=small, c_out=small, stride=st.integers(1, 2),
       h=st.integers(2, 5), w=st.integers(2, 5), training=st.booleans(), seed=seeds)
def test_basic_block(backend, n, c_in, c_out, stride, h, w, training, seed):
    assume(n * out_size(h, 3, stride, 1) * out_size(w, 3, stride, 1) >= 2)
    rng = np.random.default_rng(seed)
    block = nn.BasicBlock(c_in, c_out, stride, rng=rng, backend=backend)
    assert (block.shortcut is None) == (stride == 1 and c_in == c_out)
    randomise_batchnorm(block, rng)
    block.train(training)
    errors = check_module_gradients(block, rng.standard_normal((n, c_in, h, w)), seed=seed)
    if block.shortcut is not None:
        assert {"shortcut.0.weight", "shortcut.1.weight"} <= set(errors)


@shared_fixture
@given(n=st.integers(1, 2), c_in=st.integers(1, 8), width=small, stride=st.integers(1, 2),
       h=st.integers(2, 4), w=st.integers(2, 4), training=st.booleans(), seed=seeds)
def test_bottleneck(backend, n, c_in, width, stride, h, w, training, seed):
    assume(n * out_size(h, 3, stride, 1) * out_size(w, 3, stride, 1) >= 2)
    rng = np.random.default_rng(seed)
    block = nn.Bottleneck(c_in, width, stride, rng=rng, backend=backend)
    assert (block.shortcut is None) == (stride == 1 and c_in == 4 * width)
    randomise_batchnorm(block, rng)
    block.train(training)
    errors = check_module_gradients(block, rng.standard_normal((n, c_in, h, w)), seed=seed)
    if block.shortcut is not None:
        assert {"shortcut.0.weight", "shortcut.1.weight"} <= set(errors)


def test_both_blocks_with_projection_shortcut(backend):
    """The projection (1x1 strided conv + BN) path, fixed shapes, in both modes."""
    for training in (True, False):
        rng = np.random.default_rng(7)
        for block in (nn.BasicBlock(2, 4, 2, rng=rng, backend=backend),
                      nn.Bottleneck(3, 2, 2, rng=rng, backend=backend)):
            assert block.shortcut is not None
            randomise_batchnorm(block, rng)
            block.train(training)
            check_module_gradients(block, rng.standard_normal((2, block.conv1.in_channels, 5, 4)))


# Loss ---------------------------------------------------------------------------


@shared_fixture
@given(n=st.integers(1, 4), k=st.integers(2, 5), scale=st.sampled_from([0.1, 1.0, 10.0]),
       seed=seeds)
def test_cross_entropy(backend, n, k, scale, seed):
    rng = np.random.default_rng(seed)
    logits = backend.asarray(rng.standard_normal((n, k)) * scale)
    labels = backend.asarray(rng.integers(0, k, n))
    loss = nn.CrossEntropyLoss(backend=backend)
    value = loss.forward(logits, labels)
    analytic = backend.to_numpy(loss.backward())
    numeric = numeric_gradient(lambda: loss.forward(logits, labels), logits)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8)
    # and the value itself: -log softmax, written out the naive way in float64
    z = backend.to_numpy(logits)
    y = backend.to_numpy(labels)
    naive = np.log(np.exp(z).sum(axis=1)) - z[np.arange(n), y]
    assert value == pytest.approx(naive.mean(), rel=1e-10, abs=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_is_stable_for_huge_logits(backend, dtype):
    loss = nn.CrossEntropyLoss(backend=backend)
    logits = np.array([[1e4, 0.0, -1e4], [1e4, 0.0, -1e4], [-1e4, 1e4, 1e4]], dtype=dtype)
    labels = np.array([0, 1, 2])
    assert loss.compute(backend.asarray(logits), backend.asarray(labels)).dtype == dtype
    value = loss.forward(backend.asarray(logits), backend.asarray(labels))
    assert isinstance(value, float)
    # per row: 0, 1e4, log 2 (two equal maxima)
    assert value == pytest.approx((0.0 + 1e4 + np.log(2.0)) / 3, rel=1e-6)
    grad = backend.to_numpy(loss.backward())
    assert grad.dtype == dtype and np.isfinite(grad).all()
    expected = np.array([[0, 0, 0], [1, -1, 0], [0, 0.5, -0.5]]) / 3
    np.testing.assert_allclose(grad, expected, atol=1e-6)
    # a shift of every logit by the same constant changes nothing
    rng = np.random.default_rng(0)
    z = rng.standard_normal((4, 6)) * 1e4
    y = rng.integers(0, 6, 4)
    base = loss.forward(backend.asarray(z), backend.asarray(y))
    shifted = loss.forward(backend.asarray(z + 3e4), backend.asarray(y))
    assert np.isfinite(base) and base == pytest.approx(shifted, rel=1e-9)


# Whole networks ---------------------------------------------------------------


def test_conv2_model_gradient(backend):
    model = get_model("conv2", (3, 8, 8), 10, width=1 / 16, seed=1, backend=backend)
    x = np.random.default_rng(1).standard_normal((2, 3, 8, 8))
    errors = check_module_gradients(model, x, seed=1)
    assert len(errors) == 1 + len(list(model.named_parameters())) == 1 + 10


@pytest.mark.parametrize("training", [True, False])
def test_resnet20_gradient(backend, training):
    model = get_model("resnet20", (3, 8, 8), 10, width=1 / 8, seed=2, backend=backend)
    rng = np.random.default_rng(2)
    randomise_batchnorm(model, rng)
    model.train(training)
    errors = check_module_gradients(model, rng.standard_normal((2, 3, 8, 8)), seed=2)
    assert "layer2.0.shortcut.0.weight" in errors and "fc.weight" in errors
