"""The CuPy path on the strict stand-in: no host round trip in a training iteration, a
bounded number per evaluation, models that copy and pickle, the same ticket on both
backends, and every command with ``--backend cupy``.

They run in both passes of the suite (``cupy_standin`` imports the stand-in for
one test in the plain pass), so a host/device mix fails CI without a GPU.
"""

from __future__ import annotations

import copy
import json
import pickle
import sys
import types

import numpy as np
import pytest
from conftest import STANDIN_ACTIVE

from minilottery import cli, nn, optim
from minilottery.backends import get_backend
from minilottery.data import BatchIterator, load_dataset
from minilottery.experiments.pruning_at_init import synflow_masks
from minilottery.experiments.stability import line_errors
from minilottery.experiments.supermask import run_supermask
from minilottery.models import get_model
from minilottery.prune import apply_masks, magnitude_prune
from minilottery.runs import RunDirectory
from minilottery.train import evaluate, train

TINY = ["--model", "lenet300", "--dataset", "digits", "--width", "0.1", "--iterations", "30",
        "--eval-every", "15", "--no-progress", "--backend", "cupy"]


@pytest.fixture
def cupy(cupy_standin):
    """The CuPy backend, on the stand-in."""
    return get_backend("cupy")


def test_the_standin_runs_whatever_cupy_was_imported_first(request, monkeypatch):
    """Another CuPy already in sys.modules (a real one, imported by an earlier test on
    MINILOTTERY_BACKEND=cupy) steps aside for the stand-in's tests, and comes back after."""
    if STANDIN_ACTIVE:
        pytest.skip("the stand-in pass imports the stand-in before anything else can")
    other = types.ModuleType("cupy")  # has no counting(): a test on it would fail
    monkeypatch.setitem(sys.modules, "cupy", other)
    standin = request.getfixturevalue("cupy_standin")
    assert standin is not other and standin.STANDIN
    assert sys.modules["cupy"] is standin
    assert get_backend("cupy").xp is standin
    with standin.counting() as counts:
        get_backend("cupy").to_numpy(standin.ones(2))
    assert counts.device_to_host == 1


def _digits(channels=None, resize=None):
    return load_dataset("digits", channels=channels, resize=resize, max_train=240)


# Copies and pickles -----------------------------------------------------------------


def test_a_model_on_cupy_survives_deepcopy_and_pickle(cupy):
    model = get_model("conv2", (1, 8, 8), 10, width=0.25, backend=cupy)
    for twin in (copy.deepcopy(model), pickle.loads(pickle.dumps(model))):
        assert twin.backend is cupy  # identified by name: the same backend object
        for (name, a), (_, b) in zip(model.named_parameters(), twin.named_parameters(),
                                     strict=True):
            assert isinstance(b, cupy.xp.ndarray)
            np.testing.assert_array_equal(cupy.to_numpy(a), cupy.to_numpy(b), err_msg=name)


# Host round trips -------------------------------------------------------------------


def _train_counts(cupy_standin, model, dataset, optimizer, iterations):
    """What ``train`` transfers with evaluations only at iteration 0 and at the end."""
    with cupy_standin.counting() as counts:
        train(model, dataset, optimizer, iterations=iterations, batch_size=20,
              eval_every=iterations, progress=False)
    return counts


def _masked_conv(cupy):
    model = get_model("conv4", (1, 8, 8), 10, width=0.125, backend=cupy)
    apply_masks(model, magnitude_prune(model, 0.5))
    return model, lambda m: optim.SGD(m, 0.01, momentum=0.9, weight_decay=1e-4)


NETWORKS = {
    "lenet300": lambda cupy: (get_model("lenet300", (1, 8, 8), 10, width=0.1, backend=cupy),
                              lambda m: optim.SGD(m, 0.05)),
    "masked conv4": _masked_conv,
    "resnet20 (batch norm)": lambda cupy: (
        get_model("resnet20", (3, 8, 8), 10, width=0.25, backend=cupy),
        lambda m: optim.SGD(m, 0.05, momentum=0.9)),
    "adam with dropout": lambda cupy: (
        get_model("lenet300", (1, 8, 8), 10, width=0.1, dropout=0.3, backend=cupy),
        lambda m: optim.Adam(m, 1e-3)),
}


@pytest.mark.parametrize("network", list(NETWORKS))
def test_no_device_to_host_transfer_in_a_training_iteration(cupy_standin, cupy, network):
    """train() for 3 and for 9 iterations, each evaluated only at the start and the end:
    the six extra iterations add no transfer to the host and call no NumPy function."""
    dataset = _digits(channels=3 if "resnet" in network else None)
    totals = []
    for iterations in (3, 9):
        model, make_optimizer = NETWORKS[network](cupy)
        counts = _train_counts(cupy_standin, model, dataset, make_optimizer(model), iterations)
        assert counts.numpy_calls == []
        totals.append(counts.device_to_host)
    assert totals[1] - totals[0] == 0
    assert totals[0] <= 2 + 2 * 2 * 2  # the interval's losses, and two per evaluation (x2)


def test_an_evaluation_transfers_two_scalars_whatever_its_size(cupy_standin, cupy):
    dataset = _digits()
    model = get_model("lenet300", (1, 8, 8), 10, width=0.1, backend=cupy)
    x, y = cupy.asarray(dataset.x_test), cupy.asarray(dataset.y_test)
    for batch_size in (len(y), 7):
        with cupy_standin.counting() as counts:
            evaluate(model, x, y, batch_size=batch_size)
        assert (counts.device_to_host, counts.host_to_device) == (2, 0)
        assert counts.numpy_calls == []


def test_the_stability_line_moves_the_test_set_once(cupy_standin, cupy):
    """Each α loads one state (a transfer per parameter and buffer); the test set crosses
    once for the whole line, not once per α."""
    dataset = _digits()
    model = get_model("lenet300", (1, 8, 8), 10, width=0.1, backend=cupy)
    state_a = model.state_dict()
    state_b = {k: v + 0.01 for k, v in state_a.items()}
    crossings = []
    for points in (2, 4):
        with cupy_standin.counting() as counts:
            line_errors(model, state_a, state_b, dataset.x_test, dataset.y_test,
                        np.linspace(0, 1, points), batch_size=50)
        crossings.append(counts.host_to_device)
    assert crossings[1] - crossings[0] == 2 * len(state_a)  # two more α: two states


def test_synflow_rounds_cross_only_masks_and_scores(cupy_standin, cupy):
    """Each rescoring round sends the masks and brings the scores back, one array per layer:
    no copy of the model, no conversion through the host."""
    model = get_model("lenet300", (1, 8, 8), 10, width=0.1, backend=cupy)
    layers = 3
    totals = []
    for rounds in (2, 6):
        with cupy_standin.counting() as counts:
            synflow_masks(model, 0.2, (1, 8, 8), iterations=rounds)
        totals.append((counts.device_to_host, counts.host_to_device))
    assert totals[1][0] - totals[0][0] == 4 * layers
    assert totals[1][1] - totals[0][1] == 4 * layers


def test_pruning_takes_masks_that_live_on_the_device(cupy):
    model = get_model("lenet300", (1, 8, 8), 10, width=0.1, backend=cupy)
    host_masks = magnitude_prune(model, 0.5)
    device_masks = {name: cupy.asarray(mask) for name, mask in host_masks.items()}
    apply_masks(model, device_masks)
    narrowed = magnitude_prune(model, 0.5, masks=device_masks)
    expected = magnitude_prune(model, 0.5, masks=host_masks)
    for name, mask in narrowed.items():
        assert isinstance(mask, np.ndarray)
        np.testing.assert_array_equal(mask, expected[name])


# Same seed, same ticket ----------------------------------------------------------------


def test_same_batches_and_dropout_masks_on_both_backends(cupy):
    numpy_backend = get_backend("numpy")
    x = np.arange(50, dtype=np.float32).reshape(25, 2)
    y = np.arange(25)
    on_numpy = BatchIterator(x, y, 7, seed=3, backend=numpy_backend)
    on_cupy = BatchIterator(x, y, 7, seed=3, backend=cupy)
    for _ in range(8):  # across epoch boundaries
        (xa, ya), (xb, yb) = next(on_numpy), next(on_cupy)
        np.testing.assert_array_equal(xa, cupy.to_numpy(xb))
        np.testing.assert_array_equal(ya, cupy.to_numpy(yb))
    ones = np.ones((6, 40), np.float32)
    a = nn.Dropout(0.4, seed=11, backend=numpy_backend)
    b = nn.Dropout(0.4, seed=11, backend=cupy)
    for _ in range(3):  # successive draws of the stream, too
        np.testing.assert_array_equal(a.forward(ones), cupy.to_numpy(b.forward(cupy.asarray(ones))))


def test_a_short_training_run_matches_numpy(cupy):
    """Same weights, batches and dropout masks: the histories agree to float32 rounding."""
    dataset = _digits()
    histories = []
    for backend in (get_backend("numpy"), cupy):
        model = get_model("lenet300", (1, 8, 8), 10, width=0.1, dropout=0.3, seed=4,
                          backend=backend)
        result = train(model, dataset, optim.SGD(model, 0.05, momentum=0.9), iterations=20,
                       batch_size=20, eval_every=10, seed=5, progress=False)
        histories.append([h["val_loss"] for h in result.history])
    np.testing.assert_allclose(histories[0], histories[1], rtol=1e-5)


# Every command with --backend cupy -------------------------------------------------------


def _main(argv, capsys):
    code = cli.main(argv)
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


@pytest.fixture
def source_run(cupy_standin, tmp_path, capsys):
    """A finished two-round lottery run on the stand-in, with both controls."""
    out = tmp_path / "source"
    _main(["lottery", *TINY, "--rounds", "2", "--control", "reinit", "--control",
           "random-prune", "--out", str(out)], capsys)
    results = json.loads((out / "results.json").read_text())
    assert results["meta"]["backend"] == "cupy"
    assert [len(results["controls"][c]) for c in ("reinit", "random_prune")] == [2, 2]
    return out


def test_train_command(cupy_standin, capsys):
    assert "test acc %" in _main(["train", *TINY], capsys)


@pytest.mark.parametrize("reset", [["--reset", "init"], ["--reset", "reinit"],
                                   ["--reset", "rewind", "--rewind-iteration", "5"]])
def test_lottery_command_each_reset(cupy_standin, tmp_path, capsys, reset):
    _main(["lottery", *TINY, "--rounds", "1", "--control", "reinit", "--control",
           "random-prune", *reset, "--out", str(tmp_path / "run")], capsys)


def test_commands_on_a_finished_run(source_run, tmp_path, capsys):
    _main(["prune-at-init", "--source", str(source_run), "--methods",
           "snip,synflow,grasp,random", "--rounds", "1", "--out", str(tmp_path / "pai"),
           "--backend", "cupy", "--no-progress"], capsys)
    _main(["supermask", str(source_run), "--out", str(tmp_path / "sm"), "--backend", "cupy"],
          capsys)
    _main(["stability", "--ticket", str(source_run), "--round", "1", "--rewind-iterations",
           "0,10", "--points", "3", "--out", str(tmp_path / "st"), "--backend", "cupy",
           "--no-progress"], capsys)
    _main(["transfer", "--source", str(source_run), "--dataset", "digits", "--iterations",
           "10", "--max-train", "200", "--out", str(tmp_path / "tr"), "--backend", "cupy",
           "--no-progress"], capsys)


def test_stability_and_sweep_commands(cupy_standin, tmp_path, capsys):
    _main(["stability", *TINY, "--rewind-iterations", "0,10", "--points", "3",
           "--out", str(tmp_path / "st")], capsys)
    args = ["sweep", "--out", str(tmp_path / "sw"), "--grid", "seed=0,1", "--backend",
            "cupy", "--no-progress"]
    for field, value in [("model", "lenet300"), ("dataset", "digits"), ("width", 0.05),
                         ("iterations", 20), ("rounds", 1)]:
        args += ["--set", f"{field}={value}"]
    assert "2 runs done" in _main(args, capsys)


def test_supermask_moves_the_test_set_once(source_run, cupy_standin, tmp_path):
    """Two more random masks per round add their evaluations' state and mask transfers
    only: the test set is not sent again for each one."""
    checkpoint = RunDirectory(source_run).load_checkpoint("round_01")
    per_evaluation = len(checkpoint["weights"]) + len(checkpoint["masks"])
    rounds = 3  # 0, 1, 2
    crossings = []
    for seeds in (1, 2):
        with cupy_standin.counting() as counts:
            run_supermask(source_run, tmp_path / f"sm{seeds}", backend="cupy",
                          random_seeds=seeds, log=lambda line: None)
        crossings.append(counts.host_to_device)
    # each extra seed: "random" and "random_signed_constant" in every round
    assert crossings[1] - crossings[0] == rounds * 2 * per_evaluation
