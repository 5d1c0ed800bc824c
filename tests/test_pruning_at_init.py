"""Pruning at initialisation: SNIP's scores, SynFlow's conservation, exact densities, command."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minilottery import nn
from minilottery.cli import main
from minilottery.config import LotteryConfig
from minilottery.experiments.prune_at_init_run import run_prune_at_init
from minilottery.experiments.pruning_at_init import (
    grasp_masks,
    grasp_scores,
    method_masks,
    random_masks,
    snip_masks,
    snip_scores,
    synflow_masks,
    synflow_scores,
)
from minilottery.lottery import run_lottery
from minilottery.prune import ones_masks, random_masks_like


def mlp(sizes, seed=0, bias=True, backend=None):
    """Linear/ReLU chain through ``sizes``."""
    rng = np.random.default_rng(seed)
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(n_in, n_out, bias=bias, rng=rng, backend=backend))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU(backend=backend))
    return nn.Sequential(*layers)


def test_snip_scores_equal_finite_difference_sensitivity():
    model = mlp([4, 5, 3], seed=1).to(dtype=np.float64)
    backend = model.backend
    for layer in model:  # non-zero biases, so every path matters
        if "bias" in layer.params:
            layer.params["bias"][...] = backend.asarray(
                np.random.default_rng(2).normal(size=layer.out_features))
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(6, 4)), rng.integers(0, 3, size=6)
    scores = snip_scores(model, x, y)
    loss = nn.CrossEntropyLoss(backend=backend)
    x, y = backend.asarray(x), backend.asarray(y)
    eps = 1e-6
    for name, layer in nn.prunable_layers(model):
        weight = layer.params["weight"]
        grad = np.zeros(weight.shape)
        for index in np.ndindex(weight.shape):
            saved = float(weight[index])  # a value: on CuPy weight[index] is a 0-d view
            weight[index] = saved + eps
            plus = loss(model.forward(x), y)
            weight[index] = saved - eps
            minus = loss(model.forward(x), y)
            weight[index] = saved
            grad[index] = (plus - minus) / (2 * eps)
        np.testing.assert_allclose(scores[name], np.abs(grad * backend.to_numpy(weight)),
                                   rtol=1e-5, atol=1e-10)
        assert scores[name].max() > 0


def test_snip_leaves_the_model_unchanged():
    model = nn.Sequential(nn.Linear(4, 5, rng=0), nn.BatchNorm1d(5), nn.ReLU(),
                          nn.Linear(5, 3, rng=1))
    model.eval()
    before = model.state_dict()
    rng = np.random.default_rng(0)
    snip_scores(model, rng.normal(size=(8, 4)).astype(np.float32), rng.integers(0, 3, 8))
    after = model.state_dict()
    assert not model.training
    assert all(np.array_equal(before[k], after[k]) for k in before)


def test_grasp_scores_equal_weight_times_hessian_gradient_product():
    """w ⊙ Hg against a Hessian built column by column from finite differences of gradients."""
    model = mlp([3, 4, 2], seed=5).to(dtype=np.float64)
    host = model.backend.to_numpy
    rng = np.random.default_rng(6)
    x, y = rng.normal(size=(7, 3)), rng.integers(0, 2, size=7)
    temperature = 2.0
    scores = grasp_scores(model, x, y, temperature=temperature)
    layers = [layer for _, layer in nn.prunable_layers(model)]
    loss = nn.CrossEntropyLoss(backend=model.backend)
    x, y = model.backend.asarray(x), model.backend.asarray(y)

    def gradient():
        loss.compute(model.forward(x) / temperature, y)
        model.backward(loss.backward() / temperature)
        return np.concatenate([host(layer.grads["weight"]).ravel() for layer in layers])

    flat = [(layer.params["weight"], index) for layer in layers
            for index in np.ndindex(layer.params["weight"].shape)]
    g = gradient()
    hessian = np.zeros((len(flat), len(flat)))
    h = 1e-5
    for j, (weight, index) in enumerate(flat):
        saved = float(weight[index])  # a value: on CuPy weight[index] is a 0-d view
        weight[index] = saved + h
        plus = gradient()
        weight[index] = saved - h
        minus = gradient()
        weight[index] = saved
        hessian[:, j] = (plus - minus) / (2 * h)
    np.testing.assert_allclose(hessian, hessian.T, atol=1e-7)  # a real Hessian
    weights = np.concatenate([host(layer.params["weight"]).ravel() for layer in layers])
    expected = weights * (hessian @ g)
    got = np.concatenate([scores[name].ravel() for name, _ in nn.prunable_layers(model)])
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-9 * np.abs(expected).max())
    assert np.abs(expected).max() > 0


@settings(deadline=None)
@given(sizes=st.lists(st.integers(1, 6), min_size=3, max_size=5), seed=st.integers(0, 99),
       prune=st.booleans())
def test_synflow_conserves_the_total_score_layer_to_layer(sizes, seed, prune):
    """On a bias-free ReLU chain every layer's scores sum to R = 1ᵀ |W_L| ... |W_1| 1."""
    model = mlp(sizes, seed=seed, bias=False)
    masks = ones_masks(model)
    if prune:  # conservation holds for any mask, as after SynFlow's own rounds
        masks = random_masks_like({k: np.random.default_rng(seed).random(m.shape) < 0.6
                                   for k, m in masks.items()}, seed)
    scores = synflow_scores(model, (sizes[0],), masks)
    product = np.ones(sizes[0])
    for name, layer in nn.prunable_layers(model):
        weight = model.backend.to_numpy(layer.params["weight"])
        product = (np.abs(weight).astype(np.float64) * masks[name]) @ product
    totals = [s.sum() for s in scores.values()]
    np.testing.assert_allclose(totals, product.sum(), rtol=1e-10)


def test_synflow_leaves_the_model_unchanged():
    model = mlp([5, 4, 3], seed=4)
    before = model.state_dict()
    synflow_scores(model, (5,))
    after = model.state_dict()
    assert all(np.array_equal(before[k], after[k]) and after[k].dtype == np.float32
               for k in before)
    assert (before["0.weight"] < 0).any()


@settings(deadline=None)
@given(density=st.floats(0.01, 1.0),
       method=st.sampled_from(["snip", "synflow", "grasp", "random"]))
def test_every_method_hits_the_requested_density_exactly(density, method):
    model = mlp([6, 8, 5, 3], seed=1)
    total = 6 * 8 + 8 * 5 + 5 * 3
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(10, 6)).astype(np.float32), rng.integers(0, 3, 10)
    if method == "snip":
        masks = snip_masks(model, density, x, y)
    elif method == "grasp":
        masks = grasp_masks(model, density, x, y)
    elif method == "synflow":
        masks = synflow_masks(model, density, (6,), iterations=7)
    else:
        masks = random_masks(model, density, seed=3)
    kept = sum(int(m.sum()) for m in masks.values())
    assert kept == max(1, round(density * total))
    assert all(m.dtype == bool and m.shape == model_shape
               for m, model_shape in zip(masks.values(), [(8, 6), (5, 8), (3, 5)], strict=True))


def test_synflow_keeps_every_layer_connected_where_magnitude_would_not():
    """SynFlow's point: at extreme density no layer is emptied (layer collapse)."""
    model = mlp([40, 30, 20, 3], seed=0)
    masks = synflow_masks(model, 0.02, (40,), iterations=30)
    assert all(m.sum() > 0 for m in masks.values())


def test_bad_arguments_are_rejected():
    model = mlp([3, 2], seed=0)
    with pytest.raises(ValueError, match="density"):
        random_masks(model, 0.0, seed=0)
    with pytest.raises(ValueError, match="method"):
        method_masks("magnitude", model, 0.5, None)
    with pytest.raises(ValueError, match="methods"):
        run_prune_at_init("unused", ["snip", "nope"], "unused")


def test_prune_at_init_command_matches_the_source_densities(tmp_path, capsys):
    source = tmp_path / "source"
    run_lottery(LotteryConfig(dataset="digits", width=0.1, iterations=20, rounds=2, rate=0.5,
                              controls=("random_prune",)), source, progress=False)
    out = tmp_path / "pai"
    args = ["prune-at-init", "--source", str(source), "--methods", "snip,synflow",
            "--out", str(out), "--no-progress"]
    assert main(args) == 0
    results = json.loads((out / "results.json").read_text())
    imp = json.loads((source / "results.json").read_text())["rounds"][1:]
    for method in ("snip", "synflow"):
        records = results["methods"][method]
        assert [r["round"] for r in records] == [1, 2]
        assert [r["kept_weights"] for r in records] == [r["kept_weights"] for r in imp]
        assert all(0 <= r["early_stop_test_accuracy"] <= 1 for r in records)
    assert (out / "prune_at_init.png").is_file()
    assert "snip acc %" in capsys.readouterr().out
    # Resume: nothing retrained, the same records
    assert main(args) == 0
    assert json.loads((out / "results.json").read_text())["methods"] == results["methods"]
    # Another method, on a subset of the rounds, joins the same directory
    assert main(args[:4] + ["random", "--rounds", "2"] + args[5:]) == 0
    methods = json.loads((out / "results.json").read_text())["methods"]
    assert [r["round"] for r in methods["random"]] == [2]
    assert main(args[:4] + ["random", "--rounds", "x"] + args[5:]) == 2
