"""The training loop: it learns, it records what the papers measure, and it stops loudly.

LeNet-300-100 on the bundled digits (8x8, 1,258 training images) with the
LTH paper's optimizer (Adam 1.2e-3, batch 60) learns to >= 95% test accuracy
in 200 iterations, which takes seconds.
"""

from __future__ import annotations

import dataclasses
import sys

import numpy as np
import pytest

from minilottery.data import load_dataset
from minilottery.models import get_model
from minilottery.optim import Adam
from minilottery.train import (
    NonFiniteLossError,
    early_stop,
    evaluate,
    evaluation_iterations,
    train,
)

ITERATIONS, EVAL_EVERY, BATCH = 200, 40, 60
HISTORY_KEYS = {"iteration", "train_loss", "val_loss", "val_accuracy", "test_loss",
                "test_accuracy"}


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def lenet(dataset, seed=0):
    return get_model("lenet300", dataset.input_shape, dataset.num_classes, seed=seed)


def run(dataset, iterations, *, optimizer=None, model=None, **kwargs):
    model = model or lenet(dataset)
    optimizer = optimizer or Adam(model, 1.2e-3)
    kwargs = {"eval_every": EVAL_EVERY, "progress": False, "seed": 0, **kwargs}
    return model, train(model, dataset, optimizer, iterations=iterations, batch_size=BATCH,
                        **kwargs)


@pytest.fixture(scope="module")
def trained(digits):
    """One real run, with a snapshot at every evaluation."""
    snapshots = evaluation_iterations(ITERATIONS, EVAL_EVERY)
    return run(digits, ITERATIONS, snapshot_at=snapshots)


def test_lenet_learns_digits(trained):
    _, result = trained
    assert result.final_test_accuracy >= 0.95
    assert result.early_stop_test_accuracy >= 0.95
    first, last = result.history[0], result.history[-1]
    assert first["test_accuracy"] < 0.5  # it really started from scratch
    assert last["val_loss"] < 0.5 * first["val_loss"]
    assert result.iterations == ITERATIONS and result.seconds > 0


def test_history_records_every_evaluation(trained):
    _, result = trained
    assert [h["iteration"] for h in result.history] == list(range(0, ITERATIONS + 1, EVAL_EVERY))
    for entry in result.history:
        assert set(entry) == HISTORY_KEYS
        for key in ("val_accuracy", "test_accuracy"):
            assert 0.0 <= entry[key] <= 1.0
        for key in ("val_loss", "test_loss"):
            assert np.isfinite(entry[key]) and entry[key] > 0
    assert result.history[0]["train_loss"] is None  # nothing trained yet at iteration 0
    assert all(h["train_loss"] > 0 for h in result.history[1:])
    summary = result.summary()
    assert {"final_test_accuracy", "early_stop_iteration", "early_stop_test_accuracy"} <= set(
        summary)
    assert result.final_test_accuracy == result.history[-1]["test_accuracy"]
    assert result.final_val_accuracy == result.history[-1]["val_accuracy"]


def test_early_stop_is_the_minimum_of_validation_loss(trained):
    _, result = trained
    val_losses = [h["val_loss"] for h in result.history]
    best = int(np.argmin(val_losses))
    assert result.early_stop_iteration == result.history[best]["iteration"]
    assert result.early_stop_test_accuracy == result.history[best]["test_accuracy"]


def test_snapshots_hold_the_weights_of_their_iteration(digits, trained):
    model, result = trained
    assert sorted(result.snapshots) == evaluation_iterations(ITERATIONS, EVAL_EVERY)
    np.testing.assert_array_equal(result.snapshots[0]["1.weight"],
                                  lenet(digits).state_dict()["1.weight"])
    for key, value in model.state_dict().items():  # the last snapshot is the final model
        np.testing.assert_array_equal(result.snapshots[ITERATIONS][key], value)
    # Each snapshot, loaded into a fresh model, scores what the history recorded there,
    # the early-stopping one included
    probe = lenet(digits, seed=99)
    for entry in result.history:
        probe.load_state_dict(result.snapshots[entry["iteration"]])
        loss, accuracy = evaluate(probe, digits.x_test, digits.y_test)
        assert accuracy == entry["test_accuracy"]
        assert loss == pytest.approx(entry["test_loss"], rel=1e-6)
    assert result.early_stop_iteration in result.snapshots


def test_snapshot_equals_a_run_stopped_there(digits, trained):
    _, result = trained
    stop = 2 * EVAL_EVERY
    short_model, short = run(digits, stop)
    for key, value in short_model.state_dict().items():
        np.testing.assert_allclose(result.snapshots[stop][key], value, rtol=1e-6, atol=1e-7,
                                   err_msg=key)
    for ours, theirs in zip(short.history, result.history, strict=False):
        assert ours["iteration"] == theirs["iteration"]
        for key in HISTORY_KEYS - {"iteration"}:
            if theirs[key] is None:  # the training loss before any step
                assert ours[key] is None
            else:
                assert ours[key] == pytest.approx(theirs[key], rel=1e-6), key


def test_eval_points_include_the_last_iteration(digits):
    _, result = run(digits, 23, eval_every=10)
    assert [h["iteration"] for h in result.history] == [0, 10, 20, 23]


class PoisonAfter(Adam):
    """Adam that writes a NaN into the first layer after step ``k``: the loss of step k+1 is NaN."""

    def __init__(self, model, k):
        super().__init__(model, 1.2e-3)
        self.k = k

    def step(self):
        super().step()
        if self.iteration == self.k:
            self.model[1].params["weight"][0, 0] = np.nan


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("k", [0, 3, 24])
def test_nan_loss_names_its_iteration(digits, k):
    model = lenet(digits)
    optimizer = PoisonAfter(model, k)
    if k == 0:  # poisoned before the first step
        model[1].params["weight"][0, 0] = np.nan
    with pytest.raises(NonFiniteLossError, match=rf"at iteration {k + 1}\b") as error:
        run(digits, 30, model=model, optimizer=optimizer, eval_every=20)
    assert error.value.iteration == k + 1
    assert isinstance(error.value, FloatingPointError)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_infinite_data_stops_training(digits):
    x_train = digits.x_train.copy()
    x_train[:] = np.inf
    broken = dataclasses.replace(digits, x_train=x_train)
    with pytest.raises(NonFiniteLossError, match="iteration 1"):
        run(broken, 10, eval_every=5)


def test_huge_learning_rate_diverges_finitely_and_training_completes(digits):
    """lr = 1e6: Adam's steps are bounded by lr, so the weights reach ~1e7 and the loss
    ~1e20 -- huge but finite. The decided behaviour: only a NaN or infinite loss stops
    training (NonFiniteLossError, tested above); a finite divergence completes and is
    plain to see in the history, which is where the user looks."""
    model = lenet(digits)
    _, result = run(digits, 20, model=model, optimizer=Adam(model, 1e6), eval_every=10)
    losses = [h["val_loss"] for h in result.history]
    assert all(np.isfinite(losses))
    assert losses[-1] > 1e6 * losses[0]  # it did diverge
    assert result.final_test_accuracy < 0.5  # and learned nothing useful


def test_progress_false_prints_nothing(digits, capfd, monkeypatch):
    run(digits, 12, eval_every=6, progress=False)
    out, err = capfd.readouterr()
    assert out == "" and err == ""
    run(digits, 12, eval_every=6, progress=True)  # stderr is not a terminal: no bar
    assert capfd.readouterr() == ("", "")
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    run(digits, 12, eval_every=6, progress=True)
    _, err = capfd.readouterr()
    assert err != ""  # the capture works: the bar does appear on a terminal


@pytest.mark.parametrize("kwargs, match", [
    ({"iterations": 0}, "iterations"),
    ({"eval_every": 0}, "eval_every"),
    ({"snapshot_at": [11]}, "snapshot_at"),
])
def test_bad_arguments_are_named(digits, kwargs, match):
    model = lenet(digits)
    args = {"iterations": 10, "batch_size": BATCH, "progress": False, **kwargs}
    with pytest.raises(ValueError, match=match):
        train(model, digits, Adam(model, 1e-3), **args)


def test_early_stop_chooses_by_validation_loss_not_by_the_test_set():
    """A history where the three candidates differ: the minimum of validation loss (200),
    the maximum of test accuracy (300) and the minimum of test loss (400). Early stopping
    reports the first, as the papers do; the others would report the test set's best."""
    def h(iteration, val_loss, test_loss, test_accuracy):
        return {"iteration": iteration, "train_loss": 1.0, "val_loss": val_loss,
                "val_accuracy": 0.5, "test_loss": test_loss, "test_accuracy": test_accuracy}

    history = [h(0, 2.3, 2.3, 0.10), h(100, 0.50, 0.52, 0.80), h(200, 0.30, 0.35, 0.85),
               h(300, 0.32, 0.31, 0.91), h(400, 0.40, 0.29, 0.88), h(500, 0.30, 0.40, 0.86)]
    best = early_stop(history)
    assert best["iteration"] == 200  # the earliest of the tied minima (200 and 500)
    assert best["test_accuracy"] == 0.85
    assert max(history, key=lambda r: r["test_accuracy"])["iteration"] == 300
    assert min(history, key=lambda r: r["test_loss"])["iteration"] == 400
    with pytest.raises(ValueError, match="history"):
        early_stop([])


def test_train_continues_from_a_start_iteration(digits):
    """start_iteration = k: T - k steps, evaluations where the full training has them."""
    model = lenet(digits)
    optimizer = Adam(model, 1.2e-3)
    optimizer.iteration = 30
    result = train(model, digits, optimizer, iterations=100, batch_size=BATCH, eval_every=40,
                   start_iteration=30, progress=False)
    assert [h["iteration"] for h in result.history] == [30, 40, 80, 100]
    assert result.iterations == 70 and optimizer.iteration == 100
