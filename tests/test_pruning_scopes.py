"""The N:M and channel scopes of IMP: groups keep exactly N; channel masks compact exactly."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minilottery import lottery
from minilottery.config import LotteryConfig
from minilottery.models import get_model
from minilottery.nn import BatchNorm2d, Conv2d, Flatten, Linear, MaxPool2d, ReLU, Sequential
from minilottery.optim import SGD
from minilottery.prune import apply_masks
from minilottery.stored_run import StoredRun
from minilottery.structured import (
    channel_masks,
    compact,
    kept_channels,
    parameter_count,
    prunable_channels,
)

TINY = dict(model="lenet300", dataset="digits", width=0.1, iterations=40, eval_every=20,
            controls=())


def groups(mask, m):
    moved = mask if mask.ndim == 2 else mask.transpose(0, 2, 3, 1)
    return moved.reshape(-1, m)


def outputs(model, x):
    model.eval()
    return model.backend.to_numpy(model.forward(model.backend.asarray(x)))


@pytest.fixture(scope="module")
def nm_run(tmp_path_factory):
    path = tmp_path_factory.mktemp("nm")
    config = LotteryConfig(**{**TINY, "width": 0.2}, scope="nm", nm="1:4")
    return path, lottery.run_lottery(config, path,
                                     progress=False, log=None)


def test_nm_rounds_remove_one_weight_of_every_group_until_n(nm_run):
    path, results = nm_run
    assert results["config"]["rounds"] == 3
    assert [round(r["density"], 6) for r in results["rounds"]] == [1.0, 0.75, 0.5, 0.25]
    stored = StoredRun(path)
    previous = None
    for r, keep in ((1, 3), (2, 2), (3, 1)):
        checkpoint = stored.checkpoint(r)
        for name, mask in checkpoint["masks"].items():
            assert (groups(mask, 4).sum(axis=1) == keep).all()  # every group exactly n_r
            # and training kept it: the trained weights are zero wherever the mask says
            assert (checkpoint["weights"][name][~mask] == 0).all()
            if previous is not None:
                assert not (mask & ~previous[name]).any()
        previous = checkpoint["masks"]


def test_a_two_four_mask_holds_through_momentum_and_decay():
    model = get_model("lenet300", (1, 8, 8), 10, width=0.2, seed=0)
    config = LotteryConfig(**TINY, scope="nm")
    assert config.resolved(1000).nm == "2:4" and config.resolved(1000).rounds == 2
    from minilottery.nm import nm_round

    masks = nm_round(model, 2, 2, 4)
    apply_masks(model, masks)
    optimizer = SGD(model, 0.1, momentum=0.9, weight_decay=1e-2)
    rng = np.random.default_rng(0)
    for _ in range(5):
        model.forward(model.backend.asarray(rng.standard_normal((8, 1, 8, 8)).astype(np.float32)))
        model.backward(model.backend.asarray(rng.standard_normal((8, 10)).astype(np.float32)))
        optimizer.step()
    for name, layer in ((n, dict(model.named_parameters())[n]) for n in masks):
        weight = model.backend.to_numpy(layer)
        assert ((groups(weight != 0, 4)).sum(axis=1) <= 2).all()
        assert (weight[~masks[name]] == 0).all()


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 2**31), st.integers(1, 6), st.integers(1, 6))
def test_channel_masks_compute_what_the_compacted_chain_does(seed, c1, c2):
    """conv -> BN -> ReLU -> pool -> conv -> ReLU -> flatten -> linear -> ReLU -> linear, in
    float64, with biases and batch norm left as they are (the masks alone must silence a
    removed channel)."""
    rng = np.random.default_rng(seed)
    model = Sequential(Conv2d(2, c1, 3, padding=1, rng=seed), BatchNorm2d(c1), ReLU(),
                       MaxPool2d(2), Conv2d(c1, c2, 3, padding=1, rng=seed + 1), ReLU(),
                       Flatten(), Linear(c2 * 9, 5, rng=seed + 2), ReLU(),
                       Linear(5, 3, rng=seed + 3)).to(dtype=np.float64)
    bn = model.layers[1]
    bn.params["bias"] = model.backend.asarray(rng.normal(0, 1, c1))
    bn.buffers["running_var"] = model.backend.asarray(rng.uniform(0.5, 2, c1))
    keep = {}
    for name, layer, _ in prunable_channels(model):
        count = layer.params["weight"].shape[0]
        keep[name] = np.sort(rng.choice(count, size=int(rng.integers(1, count + 1)),
                                        replace=False))
    small = compact(model, keep, (2, 6, 6))
    masks = channel_masks(model, keep, (2, 6, 6))
    assert {n: k.tolist() for n, k in kept_channels(model, masks).items()} == \
        {n: k.tolist() for n, k in keep.items()}
    apply_masks(model, masks)
    x = rng.standard_normal((4, 2, 6, 6))
    np.testing.assert_allclose(outputs(small, x), outputs(model, x), rtol=1e-10, atol=1e-12)
    # the hand count: each layer's kept outputs x kept inputs (x kernel) + biases, BN 2 a channel
    k1, k2, k3 = (len(keep[n]) for n in ("0.weight", "4.weight", "7.weight"))
    assert parameter_count(small) == (k1 * 2 * 9 + k1) + 2 * k1 + (k2 * k1 * 9 + k2) + \
        (k3 * k2 * 9 + k3) + (3 * k3 + 3)


@pytest.fixture(scope="module")
def channel_run(tmp_path_factory):
    path = tmp_path_factory.mktemp("channel")
    config = LotteryConfig(**TINY, scope="channel", rounds=2, rate=0.5)
    return path, lottery.run_lottery(config, path, progress=False, log=None)


def test_structured_rounds_remove_whole_units_and_compact_exactly(channel_run):
    path, results = channel_run
    stored = StoredRun(path)
    config = stored.config.resolved(1000)
    from minilottery.data import load_dataset
    from minilottery.recipe import build_model

    dataset = load_dataset("digits")
    widths = []
    for record in results["rounds"]:
        model = build_model(config, dataset)
        checkpoint = stored.checkpoint(record["round"])
        model.load_state_dict(checkpoint["weights"])
        apply_masks(model, checkpoint["masks"])
        keep = kept_channels(model, checkpoint["masks"])
        assert {n: len(k) for n, k in keep.items()} == record["channels"]
        small = compact(model, keep, dataset.input_shape)
        assert parameter_count(small) == record["compact_parameters"]
        x = dataset.x_test[:50]
        np.testing.assert_allclose(outputs(small, x), outputs(model, x), rtol=1e-4, atol=1e-5)
        widths.append(record["channels"])
    # LeNet-300-100 at width 0.1: 30 and 10 hidden units, round(half) of them a round
    # (Python's round: 7.5 -> 8 removed, 2.5 -> 2)
    assert widths == [{"1.weight": 30, "3.weight": 10}, {"1.weight": 15, "3.weight": 5},
                      {"1.weight": 7, "3.weight": 3}]


@pytest.mark.parametrize("changes, match", [
    (dict(scope="nm", nm="4:2"), "nm: got '4:2', expected N:M with 1 <= N < M"),
    (dict(scope="nm", nm="two"), "nm: got 'two'"),
    (dict(scope="layer", nm="2:4"), "nm: got '2:4' with scope 'layer', expected --scope nm"),
    (dict(scope="nm", nm="2:4", rounds=5), "rounds: got 5 with --nm 2:4, expected at most 2"),
    (dict(scope="layer", channel_criterion="bn"), "expected --scope channel"),
    (dict(scope="nm"), "nm: 3.weight has 30 inputs, not a multiple of M = 4"),
])
def test_bad_scope_options_are_named(tmp_path, changes, match):
    with pytest.raises(ValueError, match=match):
        lottery.run_lottery(LotteryConfig(**TINY, **changes), tmp_path / "x", progress=False,
                            log=None)
    assert not (tmp_path / "x").exists()


def test_runs_stored_before_the_new_fields_still_resume():
    data = LotteryConfig(**TINY).to_dict()
    assert "nm" not in data and "channel_criterion" not in data
    assert LotteryConfig.from_dict(data) == LotteryConfig(**TINY)


def test_resnets_are_refused_by_the_channel_scope(tmp_path):
    config = LotteryConfig(model="resnet20", dataset="synthetic", width=0.25, iterations=2,
                           eval_every=2, rounds=1, scope="channel", controls=(),
                           channels=3, resize=(8, 8), max_train=64, batch_size=16)
    with pytest.raises(ValueError, match="only chains of layers can be compacted"):
        lottery.run_lottery(config, tmp_path / "r", progress=False, log=None)
