"""Masks and pruning: exact counts, magnitude order, ties, random controls, masks in force.

The properties are DESIGN.md's invariants: magnitude pruning removes exactly
round(fraction · remaining) weights (per layer or over all layers), smallest
|w| first, changes no weight, and only narrows the masks; biases and
batch-norm parameters are never masked; a pruned weight stays exactly zero
through any number of optimizer steps.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minilottery import nn, optim
from minilottery.models import count_weights, get_model
from minilottery.prune import (
    apply_masks,
    density,
    layer_density,
    layer_rates_for,
    magnitude_prune,
    ones_masks,
    output_layer,
    random_masks_like,
    random_prune,
)


def mlp(sizes, seed: int = 0, weights: str = "normal", backend=None) -> nn.Sequential:
    """Linear layers of ``sizes`` with ReLUs; weights "normal", "ties" (small integers, many
    equal magnitudes, half negative) or "equal" (every weight 0.5)."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:], strict=False)):
        layers += [nn.Linear(a, b, rng=seed + i, backend=backend), nn.ReLU(backend=backend)]
    model = nn.Sequential(*layers[:-1])
    rng = np.random.default_rng(seed)
    for _name, layer in nn.prunable_layers(model):
        shape = layer.params["weight"].shape
        if weights == "normal":
            w = rng.standard_normal(shape)
        elif weights == "ties":
            w = rng.integers(-3, 4, shape)
        else:
            w = np.full(shape, 0.5)
        layer.params["weight"][...] = model.backend.asarray(w.astype(np.float32))
        layer.params["bias"][...] = model.backend.asarray(
            rng.standard_normal(layer.params["bias"].shape).astype(np.float32))
    return model


def host_weights(model) -> dict[str, np.ndarray]:
    """Copies: on NumPy, to_numpy returns the live array itself."""
    return {name: np.array(model.backend.to_numpy(layer.params["weight"]))
            for name, layer in nn.prunable_layers(model)}


def host_state(model) -> dict[str, np.ndarray]:
    return {name: np.array(value) for name, value in model.state_dict().items()}


def kept(mask) -> int:
    return int(np.count_nonzero(mask))


sizes = st.lists(st.integers(1, 12), min_size=2, max_size=4)
fractions = st.floats(0.0, 0.99)
kinds = st.sampled_from(["normal", "ties"])


# -- exact counts, magnitude order, masks only narrow ------------------------------------

@given(sizes=sizes, fraction=fractions, rounds=st.integers(1, 4), seed=st.integers(0, 999),
       weights=kinds)
def test_layer_scope_counts_order_and_narrowing(sizes, fraction, rounds, seed, weights):
    model = mlp(sizes, seed, weights)
    before = host_state(model)
    w = host_weights(model)
    masks = ones_masks(model)
    for _ in range(rounds):
        new = magnitude_prune(model, fraction, scope="layer", masks=masks)
        assert set(new) == set(masks)
        for name, mask in new.items():
            old = masks[name]
            assert mask.dtype == bool and mask.shape == old.shape
            # exact count per layer: round(fraction · remaining)
            assert kept(mask) == kept(old) - round(fraction * kept(old))
            assert not np.any(mask & ~old), "a pruned weight came back"
            dropped = old & ~mask
            if dropped.any() and mask.any():
                # within the layer every kept |w| >= every newly pruned |w|
                assert np.abs(w[name][mask]).min() >= np.abs(w[name][dropped]).max()
        total = sum(m.size for m in new.values())
        assert density(new) == sum(kept(m) for m in new.values()) / total
        assert layer_density(new) == {n: kept(m) / m.size for n, m in new.items()}
        masks = new
    # pruning reads the weights and changes none of them
    after = host_state(model)
    assert all(np.array_equal(before[k], after[k]) for k in before)


@given(sizes=sizes, fraction=fractions, rounds=st.integers(1, 4), seed=st.integers(0, 999),
       weights=kinds)
def test_global_scope_counts_and_order_across_layers(sizes, fraction, rounds, seed, weights):
    model = mlp(sizes, seed, weights)
    w = host_weights(model)
    masks = ones_masks(model)
    for _ in range(rounds):
        new = magnitude_prune(model, fraction, scope="global", masks=masks)
        remaining = sum(kept(m) for m in masks.values())
        assert sum(kept(m) for m in new.values()) == remaining - round(fraction * remaining)
        assert all(not np.any(new[n] & ~masks[n]) for n in new)
        kept_w = np.concatenate([np.abs(w[n][new[n]]) for n in new])
        dropped_w = np.concatenate([np.abs(w[n][masks[n] & ~new[n]]) for n in new])
        if kept_w.size and dropped_w.size:
            # one ranking over all layers: the largest magnitudes survive, wherever they are
            assert kept_w.min() >= dropped_w.max()
        masks = new


def test_global_scope_ranks_layers_together():
    """A layer of small weights loses more than its share: the ranking is not per layer."""
    model = mlp([6, 5, 4], seed=1)
    small, large = (layer for _, layer in nn.prunable_layers(model))
    small.params["weight"] *= 1e-3
    masks = magnitude_prune(model, 0.2, scope="global")
    n_small = small.params["weight"].size
    n_total = n_small + large.params["weight"].size
    assert kept(masks["0.weight"]) == n_small - round(0.2 * n_total)
    assert masks["2.weight"].all()
    # per layer, the same rate takes 20% from each
    layer_masks = magnitude_prune(model, 0.2, scope="layer")
    n_large = large.params["weight"].size
    assert kept(layer_masks["2.weight"]) == n_large - round(0.2 * n_large)


@pytest.mark.parametrize("scope", ["layer", "global"])
@given(sizes=sizes, fraction=fractions)
def test_equal_weights_give_the_same_masks_with_exact_counts(scope, sizes, fraction):
    first = magnitude_prune(mlp(sizes, weights="equal"), fraction, scope=scope)
    second = magnitude_prune(mlp(sizes, weights="equal"), fraction, scope=scope)
    assert all(np.array_equal(first[n], second[n]) for n in first)
    total = sum(m.size for m in first.values())
    if scope == "layer":
        assert all(kept(m) == m.size - round(fraction * m.size) for m in first.values())
    else:
        assert sum(kept(m) for m in first.values()) == total - round(fraction * total)


def test_negative_weights_are_ranked_by_magnitude():
    model = mlp([4, 1], seed=0)
    layer = nn.prunable_layers(model)[0][1]
    layer.params["weight"][...] = model.backend.asarray(
        np.array([[-5.0, 0.1, -0.2, 3.0]], dtype=np.float32))
    masks = magnitude_prune(model, 0.5)
    assert masks["0.weight"].tolist() == [[True, False, False, True]]


# -- random pruning: the control keeps the ticket's per-layer counts ---------------------

@given(sizes=sizes, fraction=fractions, seed=st.integers(0, 999))
def test_random_prune_keeps_the_magnitude_counts(sizes, fraction, seed):
    model = mlp(sizes, seed)
    ticket = magnitude_prune(model, fraction)
    ticket2 = magnitude_prune(model, fraction, masks=ticket)
    control = random_prune(model, fraction, seed=seed)
    control2 = random_prune(model, fraction, masks=control, seed=seed + 1)
    for name in ticket:
        assert kept(control[name]) == kept(ticket[name])
        assert kept(control2[name]) == kept(ticket2[name])
        assert not np.any(control2[name] & ~control[name])
    again = random_prune(model, fraction, seed=seed)
    assert all(np.array_equal(again[n], control[n]) for n in control)


@given(sizes=sizes, fraction=st.floats(0.1, 0.9), seed=st.integers(0, 999))
def test_random_masks_like_keeps_per_layer_counts(sizes, fraction, seed):
    ticket = magnitude_prune(mlp(sizes, seed), fraction)
    control = random_masks_like(ticket, seed)
    assert set(control) == set(ticket)
    for name, mask in ticket.items():
        assert control[name].shape == mask.shape and control[name].dtype == bool
        assert kept(control[name]) == kept(mask)


def test_random_masks_are_random():
    ticket = magnitude_prune(mlp([40, 30, 10], seed=3), 0.5)
    a, b = random_masks_like(ticket, 0), random_masks_like(ticket, 1)
    assert not np.array_equal(a["0.weight"], ticket["0.weight"])
    assert not np.array_equal(a["0.weight"], b["0.weight"])
    model = mlp([40, 30, 10], seed=3)
    assert not np.array_equal(random_prune(model, 0.5, seed=0)["0.weight"], ticket["0.weight"])


# -- apply_masks and what is prunable ----------------------------------------------------

def test_apply_masks_zeroes_exactly_the_pruned_entries(backend):
    model = mlp([7, 6, 3], seed=2, backend=backend)
    before = host_state(model)
    masks = magnitude_prune(model, 0.4)
    apply_masks(model, masks)
    after = host_state(model)
    for name, value in after.items():
        if name in masks:
            assert np.all(value[~masks[name]] == 0.0)
            assert np.array_equal(value[masks[name]], before[name][masks[name]])
        else:  # biases untouched
            assert np.array_equal(value, before[name])
    assert set(model.masks) == set(masks)
    assert all(np.array_equal(backend.to_numpy(model.masks[n]), masks[n]) for n in masks)


@pytest.mark.parametrize("name", ["vgg19", "resnet20"])
def test_only_linear_and_conv_weights_are_masked(name):
    model = get_model(name, (3, 16, 16), 10, width=1 / 16, seed=0)
    params = dict(model.named_parameters())
    masks = ones_masks(model)
    # Linear weights are 2-D and Conv2d weights 4-D; biases and BatchNorm scales
    # (also called "weight") are 1-D and must never be masked
    assert set(masks) == {n for n, p in params.items() if p.ndim in (2, 4)}
    assert any(n.endswith(".weight") and p.ndim == 1 for n, p in params.items())
    assert sum(m.size for m in masks.values()) == count_weights(model)
    before = host_state(model)
    apply_masks(model, magnitude_prune(model, 0.5, scope="global"))
    after = host_state(model)
    for n, p in params.items():
        if p.ndim == 1:
            assert np.array_equal(after[n], before[n]), n


def test_rate_map_with_an_unpruned_layer_and_the_output_at_half_rate():
    model = mlp([20, 15, 10, 5], seed=4)
    out = output_layer(model)
    assert out == "4.weight"
    rates = layer_rates_for(model, conv_rate=0.1, fc_rate=0.2, output_rate=0.1)
    assert rates == {"0.weight": 0.2, "2.weight": 0.2, "4.weight": 0.1}
    rates["0.weight"] = 0.0
    masks = magnitude_prune(model, 0.2, layer_rates=rates)
    assert masks["0.weight"].all()
    assert kept(masks["2.weight"]) == 150 - round(0.2 * 150)
    assert kept(masks["4.weight"]) == 50 - round(0.1 * 50)
    # global scope: a rate of 0 leaves the layer out of the ranking
    g = magnitude_prune(model, 0.3, scope="global", layer_rates={"0.weight": 0.0})
    assert g["0.weight"].all()
    assert kept(g["2.weight"]) + kept(g["4.weight"]) == 200 - round(0.3 * 200)
    with pytest.raises(ValueError, match="global"):
        magnitude_prune(model, 0.3, scope="global", layer_rates={"0.weight": 0.1})


def test_conv_layers_take_the_conv_rate():
    model = get_model("conv2", (1, 8, 8), 10, width=1 / 16)
    rates = layer_rates_for(model, conv_rate=0.1, fc_rate=0.2, output_rate=0.1)
    assert rates == {"features.0.weight": 0.1, "features.2.weight": 0.1,
                     "classifier.1.weight": 0.2, "classifier.3.weight": 0.2,
                     "classifier.5.weight": 0.1}


# -- masks stay in force through the optimizer ------------------------------------------

def small_convnet(seed: int) -> nn.Sequential:
    rng = np.random.default_rng(seed)
    return nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1, rng=rng), nn.BatchNorm2d(4), nn.ReLU(),
        nn.MaxPool2d(2), nn.Flatten(), nn.Linear(4 * 3 * 3, 8, rng=rng), nn.ReLU(),
        nn.Linear(8, 3, rng=rng),
    )


OPTIMIZERS = {
    "sgd-momentum-wd": lambda m: optim.SGD(m, 0.05, momentum=0.9, weight_decay=1e-2),
    "sgd-nesterov-wd": lambda m: optim.SGD(m, 0.05, momentum=0.9, weight_decay=1e-2,
                                           nesterov=True),
    "adam-wd": lambda m: optim.Adam(m, 1e-2, weight_decay=1e-2),
}


@given(seed=st.integers(0, 999), steps=st.integers(1, 8), rounds=st.integers(1, 3),
       fraction=st.floats(0.1, 0.8), scope=st.sampled_from(["layer", "global"]),
       name=st.sampled_from(sorted(OPTIMIZERS)))
def test_pruned_weights_stay_zero_through_real_training(seed, steps, rounds, fraction, scope,
                                                        name):
    """IMP rounds with real gradients: a pruned weight is exactly zero after every step,
    its optimizer state stays zero, and the surviving weights do move."""
    rng = np.random.default_rng(seed)
    model = small_convnet(seed)
    loss_fn = nn.CrossEntropyLoss(backend=model.backend)
    masks = None
    for _ in range(rounds):
        masks = magnitude_prune(model, fraction, scope=scope, masks=masks)
        apply_masks(model, masks)
        opt = OPTIMIZERS[name](model)  # a fresh optimizer each round, as lottery does
        start = host_weights(model)
        for _ in range(steps):
            x = model.backend.asarray(rng.standard_normal((5, 2, 6, 6)).astype(np.float32))
            y = model.backend.asarray(rng.integers(0, 3, 5))
            loss_fn.forward(model.forward(x), y)
            model.backward(loss_fn.backward())
            opt.step()
            w = host_weights(model)
            for n, mask in masks.items():
                assert np.all(w[n][~mask] == 0.0), n
                for buffer in opt.state.get(n, {}).values():
                    assert np.all(model.backend.to_numpy(buffer)[~mask] == 0.0), n
        moved = [np.any(w[n][masks[n]] != start[n][masks[n]]) for n in masks if masks[n].any()]
        assert all(moved)


# -- bad input --------------------------------------------------------------------------

@pytest.mark.parametrize("fraction", [-0.1, 1.0, 1.5, float("nan"), "0.2"])
def test_fraction_outside_range_is_refused(fraction):
    with pytest.raises(ValueError, match=r"fraction: got .*expected a fraction in \[0, 1\)"):
        magnitude_prune(mlp([3, 2]), fraction)


def test_bad_rate_map_and_scope_are_named():
    model = mlp([3, 4, 2])
    with pytest.raises(KeyError, match="'9.weight'.*prunable weights are 0.weight, 2.weight"):
        magnitude_prune(model, 0.2, layer_rates={"9.weight": 0.1})
    with pytest.raises(ValueError, match=r"layer_rates\['2.weight'\]: got 1.0"):
        magnitude_prune(model, 0.2, layer_rates={"2.weight": 1.0})
    with pytest.raises(ValueError, match="scope: got 'layers'"):
        magnitude_prune(model, 0.2, scope="layers")


def test_bad_masks_are_refused_by_apply_masks():
    model = mlp([3, 4, 2])
    before = host_state(model)
    with pytest.raises(ValueError, match=r"'0.weight' has shape \(3, 4\), expected \(4, 3\)"):
        apply_masks(model, {"0.weight": np.ones((3, 4), dtype=bool)})
    with pytest.raises(KeyError, match="'0.bias' is not a prunable weight"):
        apply_masks(model, {"0.bias": np.ones(4, dtype=bool)})
    with pytest.raises(KeyError, match="'conv.weight' is not a prunable weight"):
        magnitude_prune(model, 0.2, masks={"conv.weight": np.ones((4, 3), dtype=bool)})
    after = host_state(model)
    assert all(np.array_equal(before[k], after[k]) for k in before)
    assert getattr(model, "masks", None) is None
