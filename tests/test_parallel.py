"""The parallel CPU path (nn/parallel.py): the same numbers, bit for bit, at 1, 2 and 3
threads; its passes against finite differences; never used on CuPy.

Every chunk size is made tiny here, so a small network makes many chunks (one
image each, blocks of a few features) and every pass really is spread.
"""

from __future__ import annotations

import numpy as np
import pytest
from gradcheck import check_module_gradients

from minilottery import nn, optim, threads
from minilottery.models import get_model
from minilottery.nn import conv, conv_fast, parallel, winograd
from minilottery.prune import apply_masks, magnitude_prune


@pytest.fixture
def tiny_chunks(monkeypatch):
    monkeypatch.setattr(conv_fast, "CHUNK_BYTES", 1)
    monkeypatch.setattr(conv_fast, "KEEP_COLUMNS_BYTES", 0)
    monkeypatch.setattr(winograd, "CHUNK_BYTES", 1)
    monkeypatch.setattr(parallel, "ELEMENTWISE_BYTES", 1)
    monkeypatch.setattr(parallel, "BLOCK_MACS", 64)
    threads.configure(None)
    yield
    threads.configure(None)


# name -> (model, input shape, conv algorithm); BatchNorm in vgg19 and resnet50, Winograd
# forced in conv4, strided 1x1 and reference (stride 2) convolutions in resnet50
NETWORKS = {
    "lenet300": ("lenet300", (1, 8, 8), 0.2, "auto"),
    "vgg19 (batch norm)": ("vgg19", (3, 16, 16), 1 / 16, "auto"),
    "conv4 (winograd)": ("conv4", (3, 8, 8), 1 / 16, "winograd"),
    "resnet50 (batch norm)": ("resnet50", (3, 8, 8), 1 / 16, "auto"),
}


def _train(name, count: int, iterations: int = 3) -> dict:
    """The state after ``iterations`` SGD steps with momentum and a 50% mask, at ``count``
    threads."""
    model_name, shape, width, algorithm = NETWORKS[name]
    rng = np.random.default_rng(0)
    model = get_model(model_name, shape, 10, width=width, seed=1, backend="numpy")
    apply_masks(model, magnitude_prune(model, 0.5))
    opt = optim.SGD(model, 0.05, momentum=0.9, weight_decay=1e-4)
    loss = nn.CrossEntropyLoss(backend="numpy")
    threads.configure(count)
    with threads.limit():
        for _ in range(iterations):
            x = rng.standard_normal((6, *shape)).astype(np.float32)
            y = rng.integers(0, 10, 6)
            loss.compute(model.forward(x), y)
            model.backward(loss.backward(), need_input_grad=False)
            opt.step()
        model.eval()
        logits = model.forward(rng.standard_normal((6, *shape)).astype(np.float32))
    return {**model.state_dict(), "logits": logits.copy()}


@pytest.mark.parametrize("name", list(NETWORKS))
def test_training_is_bit_identical_at_1_2_and_3_threads(tiny_chunks, monkeypatch, name):
    monkeypatch.setattr(conv, "ALGORITHM", NETWORKS[name][3])
    one = _train(name, 1)
    for count in (2, 3):
        dispatched = parallel._pool.dispatched
        other = _train(name, count)
        assert parallel._pool.dispatched > dispatched  # the pool really ran the chunks
        assert other.keys() == one.keys()
        for key in one:
            np.testing.assert_array_equal(other[key], one[key], err_msg=f"{key}, {count}")


NP = {"backend": "numpy"}
LAYERS = {
    "conv 3x3 fast": (lambda: nn.Conv2d(2, 3, 3, padding=1, rng=0, **NP), (3, 2, 5, 4), "fast"),
    "conv 1x1 stride 2": (lambda: nn.Conv2d(2, 3, 1, stride=2, rng=0, **NP), (3, 2, 5, 4),
                          "fast"),
    "conv winograd": (lambda: nn.Conv2d(2, 3, 3, padding=(1, 2), rng=0, **NP), (3, 2, 5, 4),
                      "winograd"),
    "batch norm": (lambda: nn.BatchNorm2d(3, **NP), (4, 3, 3, 2), None),
    "max pool": (lambda: nn.MaxPool2d(2, **NP), (3, 2, 4, 5), None),
    "relu": (lambda: nn.ReLU(**NP), (3, 2, 3, 3), None),
    "linear": (lambda: nn.Linear(7, 40, rng=0, **NP), (3, 7), None),
}


@pytest.mark.parametrize("name", list(LAYERS))
def test_the_parallel_passes_against_finite_differences(tiny_chunks, name):
    make, shape, algorithm = LAYERS[name]
    layer = make()
    if algorithm is not None:
        layer.algorithm = algorithm
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape)
    if name == "max pool":  # distinct values: no tie within a window
        x = rng.permutation(x.size).reshape(shape) * 0.01
    threads.configure(3)
    dispatched = parallel._pool.dispatched
    with threads.limit():
        check_module_gradients(layer, x, full=True)
    assert parallel._pool.dispatched > dispatched
    if algorithm is not None:
        assert layer.path == algorithm


def test_cupy_never_uses_the_pool(cupy_standin, tiny_chunks):
    """On CuPy a layer's work is one chunk in the calling thread, whatever the count."""
    from minilottery.backends import get_backend

    cupy = get_backend("cupy")
    model = get_model("vgg19", (3, 16, 16), 10, width=1 / 16, backend=cupy)
    opt = optim.SGD(model, 0.05, momentum=0.9)
    loss = nn.CrossEntropyLoss(backend=cupy)
    x = cupy.asarray(np.random.default_rng(0).standard_normal((4, 3, 16, 16), np.float32))
    y = cupy.asarray(np.arange(4))
    threads.configure(3)
    dispatched = parallel._pool.dispatched
    with threads.limit():
        loss.compute(model.forward(x), y)
        model.backward(loss.backward())
        opt.step()
    assert parallel._pool.dispatched == dispatched
    assert parallel.image_chunks(cupy.xp, 60, 1, 1) == [(0, 60)]
