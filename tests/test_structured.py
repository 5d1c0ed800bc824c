"""Structured pruning (minilottery.structured): the compacted network is the masked one, smaller."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minilottery.models import get_model
from minilottery.nn import BatchNorm2d, Conv2d, Flatten, Linear, MaxPool2d, ReLU, Sequential
from minilottery.structured import (
    channel_scores,
    compact,
    prunable_channels,
    select_channels,
    zero_channels,
)


def outputs(model, x):
    model.eval()
    return model.backend.to_numpy(model.forward(model.backend.asarray(x)))


def random_keep(model, rng):
    keep = {}
    for name, layer, _ in prunable_channels(model):
        count = layer.params["weight"].shape[0]
        size = int(rng.integers(1, count + 1))
        keep[name] = np.sort(rng.choice(count, size=size, replace=False))
    return keep


def trained_bn(model, rng):
    """Batch norms with statistics and scales away from their initial 0 / 1."""
    for layer in model.modules():
        if isinstance(layer, BatchNorm2d):
            c = layer.num_features
            for key, value in (("weight", rng.uniform(0.5, 2, c)), ("bias", rng.normal(0, 1, c))):
                layer.params[key] = model.backend.asarray(value.astype(np.float64))
            layer.buffers["running_mean"] = model.backend.asarray(rng.normal(0, 1, c))
            layer.buffers["running_var"] = model.backend.asarray(rng.uniform(0.5, 2, c))


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 2**31), st.integers(1, 6), st.integers(1, 6), st.booleans())
def test_a_compacted_chain_computes_what_the_zeroed_one_does(seed, c1, c2, with_bias):
    """conv -> BN -> ReLU -> pool -> conv -> ReLU -> flatten -> linear -> ReLU -> linear."""
    rng = np.random.default_rng(seed)
    model = Sequential(Conv2d(2, c1, 3, padding=1, bias=with_bias, rng=seed), BatchNorm2d(c1),
                       ReLU(), MaxPool2d(2), Conv2d(c1, c2, 3, padding=1, rng=seed + 1), ReLU(),
                       Flatten(), Linear(c2 * 9, 5, rng=seed + 2), ReLU(),
                       Linear(5, 3, rng=seed + 3)).to(dtype=np.float64)
    trained_bn(model, rng)
    keep = random_keep(model, rng)
    small = compact(model, keep, (2, 6, 6))
    zero_channels(model, keep)
    x = rng.standard_normal((4, 2, 6, 6))
    np.testing.assert_allclose(outputs(small, x), outputs(model, x), rtol=1e-10, atol=1e-12)
    # the parameter count by hand: each layer's kept outputs x kept inputs (+ biases, BN)
    k1, k2, k3 = (len(keep[n]) for n in ("0.weight", "4.weight", "7.weight"))
    expected = (k1 * 2 * 9 + (k1 if with_bias else 0) + 2 * k1 + k2 * k1 * 9 + k2
                + k3 * k2 * 9 + k3 + 3 * k3 + 3)
    assert small.num_parameters() == expected


@pytest.mark.parametrize("name, shape", [("lenet300", (1, 28, 28)), ("conv2", (3, 8, 8)),
                                         ("vgg19", (3, 16, 16))])
def test_the_papers_chains_compact(name, shape):
    model = get_model(name, shape, 10, width=0.125 if name != "lenet300" else 0.25,
                      seed=0).to(dtype=np.float64)
    rng = np.random.default_rng(0)
    trained_bn(model, rng)
    keep = select_channels(channel_scores(model, "bn" if name == "vgg19" else "l1"), 0.5)
    small = compact(model, keep, shape)
    assert small.num_parameters() < model.num_parameters()
    zero_channels(model, keep)
    x = rng.standard_normal((3, *shape))
    np.testing.assert_allclose(outputs(small, x), outputs(model, x), rtol=1e-9, atol=1e-11)
    names = [n for n, _ in model.named_parameters()]
    assert [n for n, _ in small.named_parameters()] == names


def test_selection_removes_the_lowest_scores_and_narrows():
    scores = {"a": np.array([5.0, 1.0, 3.0, 2.0, 4.0])}
    first = select_channels(scores, 0.4)
    assert first["a"].tolist() == [0, 2, 4]
    second = select_channels(scores, 0.4, first)
    assert second["a"].tolist() == [0, 4]  # round(0.4 * 3) = 1 more: the 3.0
    assert select_channels(scores, 0.99, {"a": np.array([2])})["a"].tolist() == [2]


def test_resnets_and_bad_arguments_are_refused():
    resnet = get_model("resnet20", (3, 8, 8), 10, width=0.25, seed=0)
    with pytest.raises(ValueError, match="residual"):
        compact(resnet, {}, (3, 8, 8))
    lenet = get_model("lenet300", (1, 28, 28), 10, seed=0)
    with pytest.raises(ValueError, match="output layer is never pruned"):
        compact(lenet, {"5.weight": np.array([0])}, (1, 28, 28))
    with pytest.raises(ValueError, match="criterion"):
        channel_scores(lenet, "l2")
