"""Instability analysis: the line between two networks, the error barrier, the commands."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minilottery import nn
from minilottery.backends import get_backend
from minilottery.cli import build_parser, main
from minilottery.config import LotteryConfig
from minilottery.experiments.stability import (
    alpha_grid,
    error_barrier,
    interpolate_states,
    line_errors,
    stable_point,
)
from minilottery.experiments.stability_run import StabilityOptions, run_stability
from minilottery.lottery import run_lottery
from minilottery.train import evaluate

TINY = ["--dataset", "digits", "--width", "0.1", "--iterations", "30", "--no-progress"]


def tiny_model(backend, seed):
    """Linear -> BatchNorm -> ReLU -> Linear on 8 features, weights from ``seed``."""
    rng = np.random.default_rng(seed)
    model = nn.Sequential(nn.Linear(8, 6, rng=rng, backend=backend),
                          nn.BatchNorm1d(6, backend=backend), nn.ReLU(backend=backend),
                          nn.Linear(6, 3, rng=rng, backend=backend))
    # Non-trivial BatchNorm statistics, different for each seed
    model[1].buffers["running_mean"][...] = backend.asarray(rng.normal(size=6).astype(np.float32))
    model[1].buffers["running_var"][...] = backend.asarray(
        rng.uniform(0.5, 2, size=6).astype(np.float32))
    return model


def data(seed=0, n=64):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 8)).astype(np.float32), rng.integers(0, 3, size=n)


def test_line_ends_reproduce_the_two_networks_errors_exactly(backend):
    a, b = tiny_model(backend, 1), tiny_model(backend, 2)
    x, y = data()
    expected = [1 - evaluate(m, backend.asarray(x), backend.asarray(y))[1] for m in (a, b)]
    errors = line_errors(tiny_model(backend, 3), a.state_dict(), b.state_dict(),
                         backend.asarray(x), backend.asarray(y), [0.0, 0.5, 1.0])
    assert errors[0] == expected[0] and errors[-1] == expected[1]
    assert expected[0] != expected[1]  # the two ends really differ


def test_barrier_of_two_identical_networks_is_zero(backend):
    a = tiny_model(backend, 1)
    x, y = data()
    errors = line_errors(tiny_model(backend, 5), a.state_dict(), a.state_dict(),
                         backend.asarray(x), backend.asarray(y), alpha_grid(7))
    assert len(set(errors)) == 1
    assert error_barrier(errors) == 0.0


def test_error_barrier_is_max_minus_mean_of_ends():
    assert error_barrier([0.1, 0.5, 0.3]) == pytest.approx(0.5 - 0.2)
    assert error_barrier([0.2, 0.1, 0.1]) == pytest.approx(0.05)
    with pytest.raises(ValueError, match="errors"):
        error_barrier([0.1])


@settings(deadline=None)
@given(alpha=st.floats(0, 1), seed=st.integers(0, 100))
def test_interpolation_is_linear_in_every_float_entry_and_respects_masks(alpha, seed):
    numpy = get_backend("numpy")
    a, b = tiny_model(numpy, seed).state_dict(), tiny_model(numpy, seed + 1).state_dict()
    rng = np.random.default_rng(seed)
    masks = {"0.weight": rng.random((6, 8)) < 0.5}
    for state in (a, b):
        state["0.weight"] *= masks["0.weight"]
    mid = interpolate_states(a, b, alpha, masks)
    assert set(mid) == set(a)
    for name in a:  # BatchNorm running statistics included
        np.testing.assert_allclose(mid[name], (1 - alpha) * a[name] + alpha * b[name],
                                   rtol=1e-6, atol=1e-6)
        assert mid[name].dtype == a[name].dtype
    assert np.all(mid["0.weight"][~masks["0.weight"]] == 0)


def test_interpolation_rejects_bad_input():
    a = tiny_model(get_backend("numpy"), 0).state_dict()
    with pytest.raises(ValueError, match="alpha"):
        interpolate_states(a, a, 1.5)
    with pytest.raises(ValueError, match="keys"):
        interpolate_states(a, {k: v for k, v in a.items() if k != "0.bias"}, 0.5)


def test_stable_point_is_the_smallest_k_below_threshold():
    records = [{"k": 0, "barrier": 0.1}, {"k": 100, "barrier": 0.01},
               {"k": 50, "barrier": 0.015}, {"k": 500, "barrier": 0.0}]
    assert stable_point(records, 0.02) == 50
    assert stable_point(records, 0.001) == 500
    assert stable_point(records, 0.0) is None


def test_rewind_iterations_take_commas(capsys):
    parser = build_parser()
    args = parser.parse_args(["stability", "--out", "x", "--rewind-iterations", "0,50, 100"])
    assert args.rewind_iterations == [0, 50, 100]
    with pytest.raises(SystemExit):
        parser.parse_args(["stability", "--out", "x", "--rewind-iterations", "0,a"])
    assert "'0,a'" in capsys.readouterr().err


def test_stability_command_runs_and_resumes(tmp_path, capsys):
    out = tmp_path / "stab"
    args = ["stability", *TINY, "--points", "4", "--out", str(out)]
    assert main(args + ["--rewind-iterations", "0,10"]) == 0
    results = json.loads((out / "results.json").read_text())
    records = results["records"]
    assert [(r["variant"], r["k"]) for r in records] == [("dense", 0), ("dense", 10)]
    for r in records:
        assert len(r["test_errors"]) == 4 and r["alphas"][0] == 0 and r["alphas"][-1] == 1
        assert r["barrier"] == pytest.approx(error_barrier(r["test_errors"]))
        # The ends are the two trained copies: their errors are the copies' own
        assert r["test_errors"][0] == pytest.approx(1 - r["final_test_accuracy"][0])
        assert r["test_errors"][-1] == pytest.approx(1 - r["final_test_accuracy"][1])
    assert (out / "stability.png").is_file()
    assert "barrier %" in capsys.readouterr().out
    # Resume with one more k: the finished records are kept as they are
    assert main(args + ["--rewind-iterations", "0,10,20"]) == 0
    again = json.loads((out / "results.json").read_text())["records"]
    assert again[:2] == records and again[2]["k"] == 20


def test_stability_rejects_k_past_training(tmp_path):
    config = LotteryConfig(dataset="digits", width=0.1, iterations=30)
    with pytest.raises(ValueError, match="rewind iterations"):
        run_stability(config, tmp_path / "s", StabilityOptions(rewind_iterations=(0, 30)),
                      progress=False)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("lottery") / "run"
    config = LotteryConfig(dataset="digits", width=0.1, iterations=30, rounds=1, rate=0.5,
                           controls=())
    run_lottery(config, out, progress=False)
    return out


def test_ticket_mode_analyses_the_ticket_and_a_random_mask_of_its_density(tiny_run, tmp_path):
    out = tmp_path / "ticket"
    assert main(["stability", "--ticket", str(tiny_run), "--round", "1", "--rewind-iterations",
                 "0", "--points", "3", "--out", str(out), "--no-progress"]) == 0
    records = json.loads((out / "results.json").read_text())["records"]
    ticket_density = json.loads((tiny_run / "results.json").read_text())["rounds"][1]["density"]
    assert {r["variant"] for r in records} == {"ticket", "random_prune"}
    assert all(r["density"] == ticket_density for r in records)


def test_ticket_mode_needs_a_finished_round(tiny_run, tmp_path):
    assert main(["stability", "--ticket", str(tiny_run), "--round", "5", "--out",
                 str(tmp_path / "x"), "--no-progress"]) == 2


def test_lottery_rewind_auto_records_the_search(tmp_path):
    out = tmp_path / "auto"
    args = ["lottery", *TINY, "--rounds", "1", "--reset", "rewind", "--rewind-iteration", "auto",
            "--control", "none", "--out", str(out)]
    assert main(args) == 0
    results = json.loads((out / "results.json").read_text())
    search = results["meta"]["rewind_search"]
    assert results["config"]["rewind_iteration"] == search["chosen"]
    assert str(search["chosen"]) in search["barriers"]
    stable = [int(k) for k, b in search["barriers"].items() if b < search["threshold"]]
    assert search["chosen"] == (min(stable) if stable else search["chosen"])
    assert results["rounds"][1]["reset"] == "rewind"
    # Resuming with auto keeps the chosen k and does not search again
    assert main(args + ["--rounds", "2"]) == 0
    again = json.loads((out / "results.json").read_text())
    assert again["meta"]["rewind_search"] == search and len(again["rounds"]) == 3


def test_the_engine_leaves_auto_to_orchestration(tmp_path):
    """The lottery engine imports nothing above it: "auto" is searched in orchestration
    (sweep/late_reset.py), which hands the run the chosen k; the engine alone refuses it."""
    from minilottery.sweep import late_reset

    config = LotteryConfig(dataset="digits", width=0.1, iterations=30, eval_every=10, rounds=1,
                           reset="rewind", rewind_iteration="auto", controls=())
    with pytest.raises(ValueError, match="rewind_iteration: got 'auto'"):
        run_lottery(config, tmp_path / "engine", progress=False)
    results = late_reset.run_lottery(config, tmp_path / "run", progress=False, log=None)
    assert results["config"]["rewind_iteration"] == results["meta"]["rewind_search"]["chosen"]
