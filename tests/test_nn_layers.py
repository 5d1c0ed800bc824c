"""What each layer computes, in PyTorch's layouts, and the Module contract around it.

Forward passes against naive loop references; BatchNorm's running statistics
and Dropout's scaling as PyTorch defines them; train()/eval() reaching every
child; gradients overwritten, never accumulated; inputs left untouched;
float32 kept float32; parameter names, state dicts and their errors.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from minilottery import nn
from minilottery.models import get_model

shared_fixture = settings(deadline=None,
                          suppress_health_check=[HealthCheck.function_scoped_fixture])
small = st.integers(1, 3)
seeds = st.integers(0, 2**16)


def host(backend, array):
    return backend.to_numpy(array)


# Naive references -----------------------------------------------------------------


def conv_reference(x, weight, bias, stride, padding):
    """y[b, o, r, s] = Σ_{c,i,j} W[o, c, i, j] · x_pad[b, c, r·sh + i, s·sw + j] + bias[o]."""
    (sh, sw), (ph, pw) = stride, padding
    x = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    n, _, h, w = x.shape
    o, _, kh, kw = weight.shape
    out = np.zeros((n, o, (h - kh) // sh + 1, (w - kw) // sw + 1))
    for r in range(out.shape[2]):
        for s in range(out.shape[3]):
            patch = x[:, :, r * sh:r * sh + kh, s * sw:s * sw + kw]
            out[:, :, r, s] = np.einsum("bcij,ocij->bo", patch, weight)
    return out if bias is None else out + bias[None, :, None, None]


def pool_reference(x, kernel, stride, reduce):
    (kh, kw), (sh, sw) = kernel, stride
    n, c, h, w = x.shape
    out = np.zeros((n, c, (h - kh) // sh + 1, (w - kw) // sw + 1))
    for r in range(out.shape[2]):
        for s in range(out.shape[3]):
            out[:, :, r, s] = reduce(x[:, :, r * sh:r * sh + kh, s * sw:s * sw + kw],
                                     axis=(2, 3))
    return out


# Forward passes -------------------------------------------------------------------


def test_layouts_follow_pytorch(backend):
    assert nn.Linear(5, 3, backend=backend).params["weight"].shape == (3, 5)
    assert nn.Linear(5, 3, backend=backend).params["bias"].shape == (3,)
    conv = nn.Conv2d(2, 4, (3, 5), backend=backend)
    assert conv.params["weight"].shape == (4, 2, 3, 5)
    assert conv.params["bias"].shape == (4,)
    assert set(nn.Conv2d(2, 4, 3, bias=False, backend=backend).params) == {"weight"}


@shared_fixture
@given(n=small, in_features=st.integers(1, 6), out_features=st.integers(1, 6), seed=seeds)
def test_linear_forward(backend, n, in_features, out_features, seed):
    rng = np.random.default_rng(seed)
    layer = nn.Linear(in_features, out_features, rng=rng, backend=backend)
    layer.params["bias"][...] = backend.asarray(rng.standard_normal(out_features))
    x = rng.standard_normal((n, in_features)).astype(np.float32)
    w, b = (host(backend, layer.params[k]) for k in ("weight", "bias"))
    np.testing.assert_allclose(host(backend, layer.forward(backend.asarray(x))),
                               x @ w.T + b, rtol=1e-5, atol=1e-5)


@shared_fixture
@given(n=small, c_in=small, c_out=small, kernel=st.tuples(st.integers(1, 4), st.integers(1, 4)),
       stride=st.tuples(small, small), padding=st.tuples(st.integers(0, 2), st.integers(0, 2)),
       h=st.integers(1, 8), w=st.integers(1, 8), seed=seeds)
def test_conv2d_forward(backend, n, c_in, c_out, kernel, stride, padding, h, w, seed):
    assume(h + 2 * padding[0] >= kernel[0] and w + 2 * padding[1] >= kernel[1])
    rng = np.random.default_rng(seed)
    layer = nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=padding, rng=rng,
                      backend=backend)
    layer.params["bias"][...] = backend.asarray(rng.standard_normal(c_out))
    x = rng.standard_normal((n, c_in, h, w)).astype(np.float32)
    expected = conv_reference(x, host(backend, layer.params["weight"]),
                              host(backend, layer.params["bias"]), stride, padding)
    y = host(backend, layer.forward(backend.asarray(x)))
    assert y.shape == expected.shape
    np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-5)


@shared_fixture
@given(n=small, c=small, kernel=st.tuples(st.integers(1, 3), st.integers(1, 3)),
       stride=st.one_of(st.none(), st.tuples(small, small)),
       h=st.integers(1, 8), w=st.integers(1, 8), seed=seeds)
def test_pooling_forward(backend, n, c, kernel, stride, h, w, seed):
    assume(h >= kernel[0] and w >= kernel[1])
    x = np.random.default_rng(seed).standard_normal((n, c, h, w)).astype(np.float32)
    s = kernel if stride is None else stride
    y_max = host(backend, nn.MaxPool2d(kernel, stride, backend=backend).forward(
        backend.asarray(x)))
    y_avg = host(backend, nn.AvgPool2d(kernel, stride, backend=backend).forward(
        backend.asarray(x)))
    np.testing.assert_array_equal(y_max, pool_reference(x, kernel, s, np.max))
    np.testing.assert_allclose(y_avg, pool_reference(x, kernel, s, np.mean), rtol=1e-5,
                               atol=1e-6)
    y_global = host(backend, nn.GlobalAvgPool2d(backend=backend).forward(backend.asarray(x)))
    np.testing.assert_allclose(y_global, x.mean(axis=(2, 3)), rtol=1e-5, atol=1e-6)


def test_maxpool_ties_send_the_gradient_to_the_first_maximum(backend):
    """As PyTorch: the first maximum of a window in row-major order gets the whole gradient."""
    layer = nn.MaxPool2d(2, backend=backend)
    x = np.array([[[[1.0, 3.0, 2.0, 2.0], [3.0, 0.0, 2.0, 2.0]]]], dtype=np.float32)
    np.testing.assert_array_equal(host(backend, layer.forward(backend.asarray(x))),
                                  [[[[3.0, 2.0]]]])
    dx = host(backend, layer.backward(backend.asarray(np.array([[[[5.0, 7.0]]]], np.float32))))
    np.testing.assert_array_equal(dx, [[[[0.0, 5.0, 7.0, 0.0], [0.0, 0.0, 0.0, 0.0]]]])


@pytest.mark.parametrize("kernel", [(16, 16), (17, 17), (8, 40)])
def test_pooling_over_large_windows(backend, kernel):
    """Windows of hundreds of pixels (a global pool written as a kernel): still exact."""
    rng = np.random.default_rng(4)
    x = rng.permutation(2 * 3 * 18 * 40).reshape(2, 3, 18, 40).astype(np.float32)
    layer = nn.MaxPool2d(kernel, stride=(2, 3), backend=backend)
    y = host(backend, layer.forward(backend.asarray(x)))
    np.testing.assert_array_equal(y, pool_reference(x, kernel, (2, 3), np.max))
    grad_out = rng.standard_normal(y.shape).astype(np.float32)
    dx = host(backend, layer.backward(backend.asarray(grad_out)))
    # the gradient of each window lands on the position of its maximum
    expected = np.zeros_like(x)
    (kh, kw), (sh, sw) = kernel, (2, 3)
    for b, c, r, s in np.ndindex(*y.shape):
        window = x[b, c, r * sh:r * sh + kh, s * sw:s * sw + kw]
        i, j = np.unravel_index(int(window.argmax()), window.shape)
        expected[b, c, r * sh + i, s * sw + j] += grad_out[b, c, r, s]
    np.testing.assert_allclose(dx, expected, rtol=1e-6, atol=1e-6)
    avg = nn.AvgPool2d(kernel, stride=(2, 3), backend=backend).forward(backend.asarray(x))
    np.testing.assert_allclose(host(backend, avg), pool_reference(x, kernel, (2, 3), np.mean),
                               rtol=1e-5)


def test_relu_and_flatten(backend):
    x = np.array([[-2.0, 0.0, 3.0], [1.5, -0.5, 0.25]], dtype=np.float32)
    np.testing.assert_array_equal(host(backend, nn.ReLU(backend=backend).forward(
        backend.asarray(x))), np.maximum(x, 0))
    flat = nn.Flatten(backend=backend)
    x4 = np.arange(24, dtype=np.float32).reshape(2, 3, 2, 2)
    np.testing.assert_array_equal(host(backend, flat.forward(backend.asarray(x4))),
                                  x4.reshape(2, 12))
    assert flat.backward(backend.asarray(np.ones((2, 12), np.float32))).shape == (2, 3, 2, 2)


# BatchNorm ------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(5, 3), (4, 3, 2, 3)])
def test_batchnorm_running_stats_follow_pytorch(backend, shape):
    """momentum 0.1; batch (biased) variance to normalise, unbiased for the running estimate."""
    rng = np.random.default_rng(0)
    layer = (nn.BatchNorm1d if len(shape) == 2 else nn.BatchNorm2d)(3, backend=backend)
    axes = (0,) if len(shape) == 2 else (0, 2, 3)
    count = int(np.prod([shape[a] for a in axes]))
    running_mean, running_var = np.zeros(3), np.ones(3)
    for _ in range(3):
        x = rng.normal(2.0, 3.0, shape).astype(np.float32)
        y = host(backend, layer.forward(backend.asarray(x)))
        mean, var = x.mean(axis=axes), x.var(axis=axes)
        bshape = (1, 3) + (1,) * (len(shape) - 2)
        np.testing.assert_allclose(
            y, (x - mean.reshape(bshape)) / np.sqrt(var.reshape(bshape) + 1e-5),
            rtol=1e-4, atol=1e-4)
        running_mean = 0.9 * running_mean + 0.1 * mean
        running_var = 0.9 * running_var + 0.1 * var * count / (count - 1)
        np.testing.assert_allclose(host(backend, layer.buffers["running_mean"]), running_mean,
                                   rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(host(backend, layer.buffers["running_var"]), running_var,
                                   rtol=1e-5, atol=1e-6)
    # Evaluation normalises with the running estimates and leaves them alone
    layer.params["weight"][...] = backend.asarray(np.array([1.0, 2.0, 0.5]))
    layer.params["bias"][...] = backend.asarray(np.array([0.0, -1.0, 3.0]))
    layer.eval()
    x = rng.normal(0.0, 1.0, shape).astype(np.float32)
    bshape = (1, 3) + (1,) * (len(shape) - 2)
    expected = ((x - running_mean.reshape(bshape)) / np.sqrt(running_var.reshape(bshape) + 1e-5)
                * np.array([1.0, 2.0, 0.5]).reshape(bshape)
                + np.array([0.0, -1.0, 3.0]).reshape(bshape))
    np.testing.assert_allclose(host(backend, layer.forward(backend.asarray(x))), expected,
                               rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(host(backend, layer.buffers["running_mean"]), running_mean,
                               rtol=1e-5, atol=1e-6)


def test_batchnorm_matches_torch(backend):
    """Where PyTorch is installed: the same outputs and running statistics, step by step
    (PyTorch on the CPU; ours on each backend, compared through to_numpy)."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    ours = nn.BatchNorm2d(3, backend=backend)
    theirs = torch.nn.BatchNorm2d(3).double()
    for training in (True, True, False):
        ours.train(training)
        theirs.train(training)
        x = rng.normal(1.0, 2.0, (4, 3, 3, 2))
        y = ours.forward(backend.asarray(x.astype(np.float32)))
        np.testing.assert_allclose(host(backend, y),
                                   theirs(torch.from_numpy(x)).detach().numpy(),
                                   rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(host(backend, ours.buffers["running_var"]),
                               theirs.running_var.numpy(), rtol=1e-5)
    np.testing.assert_allclose(host(backend, ours.buffers["running_mean"]),
                               theirs.running_mean.numpy(), rtol=1e-5, atol=1e-6)


# Dropout --------------------------------------------------------------------------


def test_dropout_is_identity_in_eval(backend):
    layer = nn.Dropout(0.5, seed=0, backend=backend).eval()
    x = backend.asarray(np.random.default_rng(0).standard_normal((4, 5)).astype(np.float32))
    np.testing.assert_array_equal(host(backend, layer.forward(x)), host(backend, x))
    g = backend.asarray(np.ones((4, 5), np.float32))
    np.testing.assert_array_equal(host(backend, layer.backward(g)), np.ones((4, 5)))


@pytest.mark.parametrize("p", [0.2, 0.5, 0.8])
def test_dropout_scales_the_kept_units_in_training(backend, p):
    layer = nn.Dropout(p, seed=3, backend=backend)
    x = np.random.default_rng(0).uniform(1.0, 2.0, (100, 200)).astype(np.float32)
    y = host(backend, layer.forward(backend.asarray(x)))
    kept = y != 0
    np.testing.assert_allclose(y[kept], x[kept] / (1 - p), rtol=1e-6)
    # the fraction kept is 1 - p within five binomial standard deviations
    sigma = np.sqrt(p * (1 - p) / x.size)
    assert abs(kept.mean() - (1 - p)) < 5 * sigma
    # backward lets through exactly the kept units, with the same scale
    dx = host(backend, layer.backward(backend.asarray(np.ones_like(x))))
    np.testing.assert_allclose(dx, kept / (1 - p), rtol=1e-6)


def test_dropout_masks_are_seeded(backend):
    x = backend.asarray(np.ones((20, 30), np.float32))
    first = host(backend, nn.Dropout(0.5, seed=11, backend=backend).forward(x))
    again = host(backend, nn.Dropout(0.5, seed=11, backend=backend).forward(x))
    other = host(backend, nn.Dropout(0.5, seed=12, backend=backend).forward(x))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    layer = nn.Dropout(0.5, seed=11, backend=backend)
    second_draw = (layer.forward(x), host(backend, layer.forward(x)))[1]
    assert not np.array_equal(first, second_draw)  # a fresh mask every forward
    layer.reseed(11)
    np.testing.assert_array_equal(host(backend, layer.forward(x)), first)


# Modes ----------------------------------------------------------------------------


def test_train_and_eval_reach_every_child(backend):
    model = get_model("resnet20", (3, 8, 8), 10, width=1 / 8, dropout=0.5, backend=backend)
    assert len(list(model.modules())) > 50
    assert model.eval() is model
    assert not any(m.training for m in model.modules())
    x = backend.asarray(np.random.default_rng(0).standard_normal((2, 3, 8, 8)).astype(np.float32))
    before = model.state_dict()
    y1, y2 = host(backend, model.forward(x)), host(backend, model.forward(x))
    np.testing.assert_array_equal(y1, y2)  # no dropout, no batch statistics
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[name], err_msg=name)  # running stats kept
    assert model.train() is model
    assert all(m.training for m in model.modules())
    assert not np.array_equal(host(backend, model.forward(x)), y1)


# The Module contract, for every layer ------------------------------------------------


def _layers(backend):
    """(label, layer, input shape) for every kind of layer, in training and evaluation."""
    rng = np.random.default_rng(0)
    cases = [
        ("linear", nn.Linear(4, 3, rng=rng, backend=backend), (3, 4)),
        ("conv", nn.Conv2d(2, 3, 3, stride=2, padding=1, rng=rng, backend=backend),
         (2, 2, 5, 5)),
        ("maxpool", nn.MaxPool2d(3, stride=2, backend=backend), (2, 2, 5, 5)),
        ("avgpool", nn.AvgPool2d(2, backend=backend), (2, 2, 4, 5)),
        ("globalavg", nn.GlobalAvgPool2d(backend=backend), (2, 2, 3, 3)),
        ("bn1d", nn.BatchNorm1d(4, backend=backend), (3, 4)),
        ("bn2d", nn.BatchNorm2d(2, backend=backend), (2, 2, 3, 3)),
        ("relu", nn.ReLU(backend=backend), (2, 3)),
        ("dropout", nn.Dropout(0.5, seed=0, backend=backend), (2, 3, 4)),
        ("flatten", nn.Flatten(backend=backend), (2, 2, 3)),
        ("sequential", nn.Sequential(nn.Linear(4, 5, rng=rng, backend=backend),
                                     nn.ReLU(backend=backend),
                                     nn.Linear(5, 2, rng=rng, backend=backend)), (3, 4)),
        ("basic", nn.BasicBlock(2, 4, 2, rng=rng, backend=backend), (2, 2, 4, 4)),
        ("bottleneck", nn.Bottleneck(4, 2, 2, rng=rng, backend=backend), (2, 4, 4, 4)),
    ]
    return [(f"{label}-{mode}", layer, shape) for label, layer, shape in cases
            for mode in ("train", "eval")]


LAYER_LABELS = [label for label, _, _ in _layers("numpy")]


def _layer(backend, label):
    for name, layer, shape in _layers(backend):
        if name == label:
            layer.train(label.endswith("-train"))
            return layer, shape
    raise AssertionError(label)


@pytest.mark.parametrize("label", LAYER_LABELS)
def test_float32_in_float32_out(backend, label):
    layer, shape = _layer(backend, label)
    rng = np.random.default_rng(1)
    x = backend.asarray(rng.standard_normal(shape).astype(np.float32))
    y = layer.forward(x)
    assert y.dtype == np.float32
    dx = layer.backward(backend.asarray(rng.standard_normal(y.shape).astype(np.float32)))
    assert dx.dtype == np.float32 and dx.shape == shape
    for name, grad in layer.named_grads():
        assert grad.dtype == np.float32, name
    for name, value in layer.state_dict().items():
        assert value.dtype == np.float32, name


@pytest.mark.parametrize("label", LAYER_LABELS)
def test_forward_and_backward_leave_their_arguments_alone(backend, label):
    layer, shape = _layer(backend, label)
    rng = np.random.default_rng(2)
    x_host = rng.standard_normal(shape).astype(np.float32)
    x = backend.asarray(x_host.copy())
    y = layer.forward(x)
    g_host = rng.standard_normal(y.shape).astype(np.float32)
    g = backend.asarray(g_host.copy())
    layer.backward(g)
    np.testing.assert_array_equal(host(backend, x), x_host)
    np.testing.assert_array_equal(host(backend, g), g_host)


@pytest.mark.parametrize("label", [label for label in LAYER_LABELS
                                   if not label.startswith(("maxpool", "avgpool", "global",
                                                            "relu", "dropout", "flatten"))])
def test_backward_overwrites_gradients(backend, label):
    """A second backward replaces the gradients: nothing accumulates, no zero_grad needed."""
    layer, shape = _layer(backend, label)
    rng = np.random.default_rng(3)
    x = backend.asarray(rng.standard_normal(shape).astype(np.float32))

    def grads_for(upstream):
        layer.forward(x)
        layer.backward(backend.asarray(upstream))
        return {name: host(backend, g).copy() for name, g in layer.named_grads()}

    y_shape = layer.forward(x).shape
    g1 = rng.standard_normal(y_shape).astype(np.float32)
    g2 = rng.standard_normal(y_shape).astype(np.float32)
    first = grads_for(g1)
    assert set(first) == {name for name, _ in layer.named_parameters()}
    only_second = grads_for(g2)
    grads_for(g1)
    again = grads_for(g1)  # after three earlier passes: a sum would show here
    for name in first:
        np.testing.assert_allclose(again[name], first[name], rtol=1e-6, atol=1e-6,
                                   err_msg=name)
        assert not np.allclose(only_second[name], first[name]), name


def test_sequential_without_input_gradient(backend):
    rng = np.random.default_rng(0)
    model = nn.Sequential(nn.Flatten(backend=backend), nn.Linear(6, 4, rng=rng, backend=backend),
                          nn.ReLU(backend=backend), nn.Linear(4, 2, rng=rng, backend=backend))
    x = backend.asarray(rng.standard_normal((3, 1, 2, 3)).astype(np.float32))
    g = backend.asarray(rng.standard_normal((3, 2)).astype(np.float32))
    model.forward(x)
    assert model.backward(g).shape == (3, 1, 2, 3)
    full = {name: host(backend, v).copy() for name, v in model.named_grads()}
    model.forward(x)
    assert model.backward(g, need_input_grad=False) is None
    for name, value in model.named_grads():
        np.testing.assert_allclose(host(backend, value), full[name], rtol=1e-6, err_msg=name)


def test_bad_inputs_are_named(backend):
    with pytest.raises(ValueError, match=r"\(2, 5\).*\(n, 4\)"):
        nn.Linear(4, 3, backend=backend).forward(backend.asarray(np.zeros((2, 5), np.float32)))
    with pytest.raises(ValueError, match=r"expected \(n, 3, h, w\)"):
        nn.Conv2d(3, 2, 3, backend=backend).forward(
            backend.asarray(np.zeros((1, 2, 5, 5), np.float32)))
    with pytest.raises(ValueError, match="smaller than the kernel"):
        nn.MaxPool2d(3, backend=backend).forward(
            backend.asarray(np.zeros((1, 1, 2, 2), np.float32)))
    with pytest.raises(ValueError, match="p must be in"):
        nn.Dropout(1.0, backend=backend)


# Names and state ------------------------------------------------------------------


def test_parameter_names_follow_pytorch(backend):
    model = nn.Sequential(nn.Linear(4, 5, backend=backend), nn.ReLU(backend=backend),
                          nn.Linear(5, 2, bias=False, backend=backend))
    assert [name for name, _ in model.named_parameters()] == ["0.weight", "0.bias", "2.weight"]
    nested = nn.Sequential({
        "features": nn.Sequential(nn.Conv2d(1, 2, 3, backend=backend),
                                  nn.BatchNorm2d(2, backend=backend)),
        "classifier": nn.Sequential(nn.Flatten(backend=backend),
                                    nn.Linear(2, 3, backend=backend)),
    })
    assert [name for name, _ in nested.named_parameters()] == [
        "features.0.weight", "features.0.bias", "features.1.weight", "features.1.bias",
        "classifier.1.weight", "classifier.1.bias"]
    assert set(nested.state_dict()) == {name for name, _ in nested.named_parameters()} | {
        "features.1.running_mean", "features.1.running_var"}
    nested.forward(backend.asarray(np.ones((2, 1, 3, 3), np.float32)))
    nested.backward(backend.asarray(np.ones((2, 3), np.float32)))
    assert [n for n, _ in nested.named_grads()] == [n for n, _ in nested.named_parameters()]
    for (_, grad), (_, param) in zip(nested.named_grads(), nested.named_parameters(),
                                     strict=True):
        assert grad.shape == param.shape


def _trained_resnet(backend, seed):
    model = get_model("resnet20", (3, 8, 8), 10, width=1 / 8, seed=seed, backend=backend)
    x = np.random.default_rng(seed).standard_normal((4, 3, 8, 8)).astype(np.float32)
    model.forward(backend.asarray(x))  # move the running statistics off their defaults
    return model


def test_state_dict_round_trips_through_savez(backend, tmp_path):
    source, target = _trained_resnet(backend, 0), _trained_resnet(backend, 1)
    path = tmp_path / "state.npz"
    np.savez(path, **source.state_dict())
    with np.load(path) as saved:
        target.load_state_dict(dict(saved))
    x = backend.asarray(np.random.default_rng(5).standard_normal((2, 3, 8, 8))
                        .astype(np.float32))
    source.eval()
    target.eval()
    np.testing.assert_array_equal(host(backend, target.forward(x)),
                                  host(backend, source.forward(x)))
    for name, value in source.state_dict().items():
        np.testing.assert_array_equal(target.state_dict()[name], value, err_msg=name)


def test_state_dict_is_a_copy_and_loading_writes_in_place(backend):
    model = nn.Sequential(nn.Linear(3, 2, rng=0, backend=backend))
    weight = model[0].params["weight"]
    state = model.state_dict()
    state["0.weight"][...] = 7.0
    assert not np.any(host(backend, weight) == 7.0)
    model.load_state_dict(state)
    assert model[0].params["weight"] is weight  # the optimizer's reference stays valid
    np.testing.assert_array_equal(host(backend, weight), np.full((2, 3), 7.0))
    model.load_state_dict({k: v.astype(np.float64) for k, v in state.items()})
    assert model[0].params["weight"].dtype == np.float32  # loading never changes the dtype


def test_load_state_dict_errors_name_the_key(backend):
    model = nn.Sequential(nn.Linear(3, 2, backend=backend), nn.BatchNorm1d(2, backend=backend))
    good = model.state_dict()
    wrong_shape = dict(good, **{"0.weight": np.zeros((3, 2), np.float32)})
    with pytest.raises(ValueError, match=r"'0\.weight'.*\(3, 2\).*\(2, 3\)"):
        model.load_state_dict(wrong_shape)
    missing = {k: v for k, v in good.items() if k != "1.running_var"}
    with pytest.raises(KeyError, match=r"1\.running_var"):
        model.load_state_dict(missing)
    unexpected = dict(good, **{"2.weight": np.zeros(2, np.float32)})
    with pytest.raises(KeyError, match=r"2\.weight"):
        model.load_state_dict(unexpected)
    model.load_state_dict(unexpected, strict=False)  # ignored when not strict


def test_to_casts_parameters_and_buffers(backend):
    model = nn.Sequential(nn.Linear(3, 2, backend=backend), nn.BatchNorm1d(2, backend=backend))
    model.to(dtype=np.float64)
    assert all(v.dtype == np.float64 for v in model.state_dict().values())
    y = model.forward(backend.asarray(np.ones((2, 3))))
    assert y.dtype == np.float64
    model.to(dtype=np.float32)
    assert all(v.dtype == np.float32 for v in model.state_dict().values())


def test_a_failed_load_state_dict_changes_nothing():
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    before = model.state_dict()
    state = {name: value + 1.0 for name, value in before.items()}
    state["2.weight"] = np.zeros((3, 3), dtype=np.float32)  # the last key is wrong
    with pytest.raises(ValueError, match=r"'2\.weight' has shape \(3, 3\), expected \(2, 4\)"):
        model.load_state_dict(state)
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[name])
