"""Retraining modes (LotteryConfig.retrain, Renda et al. 2020): what the first retraining step
of a pruned round starts from (weights, schedule position, learning rate) in each mode."""

from __future__ import annotations

import numpy as np
import pytest

from minilottery import lottery, recipe
from minilottery.config import LotteryConfig
from minilottery.runs import RunDirectory

T, K, MILESTONES = 40, 10, (20, 30)
BASE = dict(model="lenet300", dataset="digits", width=0.1, iterations=T, eval_every=10,
            rounds=2, seed=4, optimizer="sgd", lr=0.05, momentum=0.9, milestones=MILESTONES,
            controls=(), reset="rewind", rewind_iteration=K)


class Spy:
    """Wraps recipe.train: the start weights, masks, start iteration, the optimizer's
    schedule position and learning rate of the first step, and the iterations trained."""

    def __init__(self):
        self.calls: list[dict] = []
        self.real = recipe.train

    def __call__(self, model, dataset, optimizer, **kwargs):
        self.calls.append({"state": model.state_dict(), "start": kwargs["start_iteration"],
                           "schedule_at": optimizer.iteration, "lr": optimizer.lr,
                           "iterations": kwargs["iterations"] - kwargs["start_iteration"]})
        return self.real(model, dataset, optimizer, **kwargs)


@pytest.fixture(scope="module")
def modes(tmp_path_factory):
    out = {}
    for mode in ("weights", "lr", "finetune"):
        path = tmp_path_factory.mktemp(mode) / "run"
        spy = Spy()
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(recipe, "train", spy)
            results = lottery.run_lottery(LotteryConfig(**BASE, retrain=mode), path,
                                          progress=False, log=None)
        out[mode] = (results, spy.calls, RunDirectory(path))
    return out


def masked(state, masks):
    return {n: v * masks[n] if n in masks else v for n, v in state.items()}


def assert_states_equal(a, b):
    assert set(a) == set(b)
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


@pytest.mark.parametrize("round_index", [1, 2])
def test_weight_rewinding_starts_from_iteration_k_with_its_learning_rate(modes, round_index):
    results, calls, directory = modes["weights"]
    masks = directory.load_checkpoint(f"round_{round_index:02d}")["masks"]
    call = calls[round_index]
    assert_states_equal(call["state"], masked(directory.load_checkpoint("rewind")["weights"],
                                              masks))
    assert call["start"] == call["schedule_at"] == K and call["lr"] == pytest.approx(0.05)
    assert call["iterations"] == T - K


@pytest.mark.parametrize("round_index", [1, 2])
def test_lr_rewinding_keeps_the_trained_weights_and_replays_the_schedule_from_k(
        modes, round_index):
    results, calls, directory = modes["lr"]
    masks = directory.load_checkpoint(f"round_{round_index:02d}")["masks"]
    trained = directory.load_checkpoint(f"round_{round_index - 1:02d}")["weights"]
    call = calls[round_index]
    assert_states_equal(call["state"], masked(trained, masks))
    assert call["start"] == call["schedule_at"] == K and call["lr"] == pytest.approx(0.05)
    assert call["iterations"] == T - K
    assert results["rounds"][round_index]["retrain"] == "lr"


@pytest.mark.parametrize("round_index", [1, 2])
def test_fine_tuning_keeps_the_trained_weights_at_the_final_learning_rate(modes, round_index):
    results, calls, directory = modes["finetune"]
    masks = directory.load_checkpoint(f"round_{round_index:02d}")["masks"]
    trained = directory.load_checkpoint(f"round_{round_index - 1:02d}")["weights"]
    call = calls[round_index]
    assert_states_equal(call["state"], masked(trained, masks))
    assert call["lr"] == pytest.approx(0.05 * 0.01)  # after both drops
    assert call["iterations"] == T - K


def test_round_zero_is_the_same_dense_training_in_every_mode(modes):
    first = [calls[0] for _, calls, _ in modes.values()]
    assert all(c["lr"] == pytest.approx(0.05) and c["start"] == 0 for c in first)
    accuracies = {results["rounds"][0]["final_test_accuracy"] for results, _, _ in
                  modes.values()}
    assert len(accuracies) == 1


def test_the_default_mode_leaves_the_stored_config_as_before():
    assert "retrain" not in LotteryConfig().to_dict()
    assert LotteryConfig(retrain="lr").to_dict()["retrain"] == "lr"
    assert LotteryConfig.from_dict(LotteryConfig().to_dict()).retrain == "weights"


def test_bad_modes_are_refused(tmp_path):
    with pytest.raises(ValueError, match="retrain: got 'rewind'"):
        LotteryConfig(**{**BASE, "retrain": "rewind"}).resolved(1000)
    with pytest.raises(ValueError, match="retrain: got 'lr' with reset 'reinit'"):
        LotteryConfig(**{**BASE, "retrain": "lr", "reset": "reinit"}).resolved(1000)


@pytest.mark.parametrize("name", ["sweep_retrain.toml", "sweep_retrain_conv.toml"])
def test_the_retraining_sweeps_of_the_examples_load(name):
    from pathlib import Path

    from minilottery.sweep import load_sweep

    runs = load_sweep(Path(__file__).resolve().parents[1] / "examples" / name).expand()
    assert {run.config.retrain for run in runs} == {"weights", "lr", "finetune"}
