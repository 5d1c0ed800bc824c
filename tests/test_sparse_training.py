"""Masks that change while training (minilottery.sparse_training): gradual pruning, SET, RigL."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minilottery.config import LotteryConfig
from minilottery.cost import layer_costs
from minilottery.data import load_dataset
from minilottery.experiments.sparse_training_run import (
    SparseTrainingOptions,
    SparseTrainingRun,
    run_sparse_training,
)
from minilottery.models import get_model
from minilottery.nn.prunable import prunable_layers
from minilottery.optim import SGD, Adam
from minilottery.prune import apply_masks
from minilottery.sparse_schedules import cubic_sparsity
from minilottery.sparse_training import (
    CostMeter,
    DynamicSparse,
    GradualPruning,
    layer_densities,
    random_masks,
)
from minilottery.train import train

DIGITS = load_dataset("digits")
TINY = dict(model="lenet300", dataset="digits", width=0.1, iterations=60, eval_every=30)


def small_model(seed=0):
    return get_model("lenet300", DIGITS.input_shape, DIGITS.num_classes, width=0.1, seed=seed)


class Watch:
    """A hook after the method's: what the masks, weights and optimizer state were."""

    def __init__(self, method):
        self.method, self.seen = method, []

    def after_step(self, iteration, model, optimizer):
        if self.method.log and self.method.log[-1]["iteration"] == iteration:
            def to_numpy(array):  # a copy: the NumPy backend's may be the live array
                return np.array(model.backend.to_numpy(array), copy=True)

            weights = {n: to_numpy(layer.params["weight"]) for n, layer in prunable_layers(model)}
            state = {n: {k: to_numpy(v) for k, v in s.items()}
                     for n, s in optimizer.state.items()}
            self.seen.append((iteration, {n: m.copy() for n, m in self.method.masks.items()},
                              weights, state, getattr(self.method, "grown", None)))


def run_with(method, optimizer_cls=Adam, iterations=60):
    model = small_model()
    apply_masks(model, method.start_masks(model))
    watch = Watch(method)
    optimizer = (optimizer_cls(model, 1e-2) if optimizer_cls is Adam
                 else optimizer_cls(model, 0.05, momentum=0.9, weight_decay=1e-3))
    train(model, DIGITS, optimizer, iterations=iterations, batch_size=32, eval_every=30,
          progress=False, hooks=(method, watch))
    return model, watch


@settings(max_examples=6, deadline=None)
@given(st.sampled_from(["set", "rigl"]), st.sampled_from([0.5, 0.1]),
       st.sampled_from(["uniform", "erk"]), st.sampled_from([Adam, SGD]))
def test_dynamic_sparse_keeps_every_count_and_grows_from_zero(method, target, distribution,
                                                              optimizer_cls):
    model = small_model()
    densities = layer_densities(model, target, distribution)
    hook = DynamicSparse(method, densities, every=10, end=50, drop_fraction=0.5, seed=3)
    start = {n: int(m.sum()) for n, m in hook.start_masks(model).items()}
    model, watch = run_with(hook, optimizer_cls)
    assert [s[0] for s in watch.seen] == [10, 20, 30, 40]  # every 10 until end
    moved = 0
    for _, masks, weights, state, grown in watch.seen:
        assert {n: int(m.sum()) for n, m in masks.items()} == start  # density constant
        for name, mask in masks.items():
            assert (weights[name][~mask] == 0).all()
            assert (weights[name][grown[name]] == 0).all()  # a new connection starts at 0
            for buffer in state.get(name, {}).values():
                assert (buffer[grown[name] | ~mask] == 0).all()  # and with no state
            moved += int(grown[name].sum())
    assert moved > 0
    final = {n: model.backend.to_numpy(m) for n, m in model.masks.items()}
    assert {n: int(m.sum()) for n, m in final.items()} == start


def test_rigl_grows_where_this_steps_dense_gradient_is_largest():
    model = small_model()
    hook = DynamicSparse("rigl", layer_densities(model, 0.2), every=10, end=20,
                         drop_fraction=0.3, seed=0)

    class Grads:
        def after_step(self, iteration, model, optimizer):
            if iteration == 10:
                self.grads = {n: model.backend.to_numpy(layer.grads["weight"]).copy()
                              for n, layer in prunable_layers(model)}
                self.before = {n: m.copy() for n, m in hook.masks.items()}

    grads = Grads()
    apply_masks(model, hook.start_masks(model))
    train(model, DIGITS, Adam(model, 1e-2), iterations=12, batch_size=32, eval_every=12,
          progress=False, hooks=(grads, hook))
    for name, grown in hook.grown.items():
        if grown.any():
            free = ~grads.before[name] & ~grown
            # the gradient was dense: non-zero where the mask was False
            assert np.abs(grads.grads[name][~grads.before[name]]).max() > 0
            assert np.abs(grads.grads[name][grown]).min() >= np.abs(grads.grads[name][free]).max()


def test_gradual_pruning_follows_the_cubic_schedule_and_only_narrows():
    model = small_model()
    densities = layer_densities(model, 0.1)
    hook = GradualPruning(densities, start=10, end=50, every=10)
    model, watch = run_with(hook)
    assert [s[0] for s in watch.seen] == [20, 30, 40, 50]
    previous = None
    for iteration, masks, weights, _, _ in watch.seen:
        for name, mask in masks.items():
            sparsity = cubic_sparsity(iteration, initial=0.0, final=0.9, start=10, every=10,
                                      updates=4)
            assert int(mask.sum()) == max(1, round((1 - sparsity) * mask.size))
            assert (weights[name][~mask] == 0).all()
            if previous is not None:
                assert not (mask & ~previous[name]).any()  # masks only lose entries
        previous = masks
    for mask in previous.values():
        assert abs(mask.mean() - 0.1) < 1 / mask.size + 1e-9


def test_the_cost_meter_charges_the_masks_in_force():
    model = small_model()
    masks = random_masks(model, layer_densities(model, 0.25), seed=1)
    apply_masks(model, masks)
    meter = CostMeter(model, DIGITS.input_shape, 32)
    train(model, DIGITS, SGD(model, 0.05), iterations=7, batch_size=32, eval_every=7,
          progress=False, hooks=(meter,))
    macs = sum(c.sparse_macs for c in layer_costs(model, DIGITS.input_shape, masks))
    assert meter.flops == pytest.approx(6 * macs * 32 * 7)


def test_optimizer_clear_state_zeroes_only_where_told():
    model = small_model()
    optimizer = SGD(model, 0.1, momentum=0.9)
    name, layer = prunable_layers(model)[0]
    xp = model.xp
    for _, module, key in optimizer.slots:
        module.grads[key] = xp.ones_like(module.params[key])
    optimizer.step()
    where = np.zeros(layer.params["weight"].shape, bool)
    where[0, :3] = True
    optimizer.clear_state(name, model.backend.asarray(where))
    velocity = model.backend.to_numpy(optimizer.state[name]["velocity"])
    assert (velocity[where] == 0).all() and (velocity[~where] == 1).all()


def test_a_sparse_training_run_records_each_method_and_resumes(tmp_path, monkeypatch):
    options = SparseTrainingOptions(methods=("gradual", "set", "rigl"), densities=(0.3,),
                                    update_every=10, start=10, end=40)
    config = LotteryConfig(**TINY)
    whole = run_sparse_training(config, tmp_path / "whole", options, progress=False, log=None)
    assert list(whole["methods"]) == ["gradual", "set", "rigl"]
    for records in whole["methods"].values():
        (record,) = records
        assert abs(record["density"] - 0.3) < 0.01
        assert record["training_flops"] > 0 and record["updates"]
    # RigL pays its dense gradients, SET does not
    assert whole["methods"]["rigl"][0]["training_flops"] > whole["methods"]["set"][0][
        "training_flops"]

    calls = []
    real = SparseTrainingRun.run_step

    def stop_at_second(self, step):
        calls.append(step)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(self, step)

    monkeypatch.setattr(SparseTrainingRun, "run_step", stop_at_second)
    with pytest.raises(KeyboardInterrupt):
        run_sparse_training(config, tmp_path / "cut", options, progress=False, log=None)
    monkeypatch.setattr(SparseTrainingRun, "run_step", real)
    resumed = run_sparse_training(config, tmp_path / "cut", options, progress=False, log=None)
    for method, records in whole["methods"].items():
        again = resumed["methods"][method][0]
        assert again["early_stop_test_accuracy"] == records[0]["early_stop_test_accuracy"]
        assert again["history"] == records[0]["history"]
    stored = json.loads((tmp_path / "cut" / "results.json").read_text())
    assert len(stored["methods"]["set"]) == 1


@pytest.mark.parametrize("changes, match", [
    (dict(methods=("snip",)), "methods: got"),
    (dict(densities=(1.5,)), "densities: got 1.5"),
    (dict(start=0.8, end=0.5), "expected an iteration after start"),
    (dict(distribution="er"), "distribution: got 'er'"),
    (dict(drop_fraction=0.0), "drop_fraction: got 0.0"),
])
def test_bad_options_are_named(tmp_path, changes, match):
    options = SparseTrainingOptions(**changes)
    with pytest.raises(ValueError, match=match):
        run_sparse_training(LotteryConfig(**TINY), tmp_path / "x", options, progress=False,
                            log=None)
    assert not (tmp_path / "x").exists()


def test_the_command_trains_prints_its_table_and_names_bad_input(tmp_path, capsys):
    from cli_runner import run_cli

    out = tmp_path / "run"
    argv = ["sparse-train", "--dataset", "digits", "--width", "0.1", "--iterations", "40",
            "--eval-every", "20", "--methods", "rigl", "--densities", "0.25",
            "--distribution", "erk", "--update-every", "10", "--out", str(out), "--no-progress"]
    code, text, _ = run_cli(argv, capsys)
    assert code == 0
    assert "rigl" in text and "training FLOPs" in text and (out / "results.json").is_file()
    assert (out / "checkpoints" / "rigl_0.25.npz").is_file()
    code, text, _ = run_cli(argv, capsys)  # again: resumed, nothing left
    assert code == 0 and "nothing left to train" in text
    code, _, err = run_cli([*argv[:-3], "--densities", "0", "--out", str(tmp_path / "b")],
                           capsys)
    assert code == 2
    assert err.strip() == ("minilottery sparse-train: error: --densities: got 0.0, expected "
                           "fractions in (0, 1)")
    code, _, err = run_cli(["lottery", "--dataset", "digits", "--scope", "nm", "--nm", "3:2",
                            "--out", str(tmp_path / "c")], capsys)
    assert code == 2 and "nm: got '3:2', expected N:M with 1 <= N < M" in err


def test_gradual_pruning_early_stops_only_at_its_final_density(tmp_path):
    options = SparseTrainingOptions(methods=("gradual", "set"), densities=(0.1,),
                                    update_every=10, start=10, end=40)
    results = run_sparse_training(LotteryConfig(**{**TINY, "eval_every": 10}), tmp_path,
                                  options, progress=False, log=None)
    gradual, dst = results["methods"]["gradual"][0], results["methods"]["set"][0]
    assert gradual["early_stop_from"] == 40 and dst["early_stop_from"] == 0
    assert gradual["early_stop_iteration"] >= 40
    after = [h for h in gradual["history"] if h["iteration"] >= 40]
    best = min(after, key=lambda h: (h["val_loss"], h["iteration"]))
    assert gradual["early_stop_test_accuracy"] == best["test_accuracy"]
