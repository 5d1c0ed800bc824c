"""Early-bird tickets and mask dynamics (experiments/early_bird.py, mask_dynamics.py): the
hook on a planted sequence, a tiny search and its retraining, distances of stored runs."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from minilottery.config import LotteryConfig
from minilottery.cost import density_cost
from minilottery.experiments.early_bird import (
    EarlyBirdFound,
    EarlyBirdOptions,
    EarlyBirdSearch,
    run_early_bird,
)
from minilottery.experiments.mask_dynamics import chance_distance, mask_dynamics
from minilottery.lottery import run_lottery
from minilottery.mask_ops import keep_largest
from minilottery.nn import Linear, Sequential
from minilottery.stored_run import StoredRun


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """A finished tiny lottery run: LeNet at width 0.1 on digits, 2 pruned rounds."""
    path = tmp_path_factory.mktemp("source") / "run"
    config = LotteryConfig(model="lenet300", dataset="digits", width=0.1, iterations=40,
                           eval_every=20, rounds=2, seed=1, controls=())
    run_lottery(config, path, progress=False, log=None)
    return path


def digest(path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(path.iterdir()) if p.is_file()}


def test_the_hook_stops_on_a_planted_sequence():
    model = Sequential(Linear(4, 5))
    like = {"0.weight": np.zeros((5, 4), bool)}
    like["0.weight"].flat[:10] = True  # keep 10 of 20
    hook = EarlyBirdSearch({3: like}, every=10, window=3, threshold=0.15)
    base = np.arange(20.0).reshape(5, 4)
    # the top 10 flip entirely and back, then 2 entries swap and return: the first window
    # of 3 without the flip ends at the 5th mask
    swapped = np.where(base == 9, 10.5, np.where(base == 10, 9.5, base))
    plans = [base, base[::-1, ::-1], base, swapped, base, base]
    weight = dict(model.named_parameters())["0.weight"]  # the layer's own array
    for step, plan in enumerate(plans, start=1):
        weight[...] = plan
        hook.after_step(step * 10 - 3, model, None)  # off the grid: ignored
        try:
            hook.after_step(step * 10, model, None)
        except EarlyBirdFound as found:
            stopped = int(found.args[0])
            break
    else:
        pytest.fail("the search never stopped")
    assert hook.iterations == [10, 20, 30, 40, 50]
    assert stopped == 50 and hook.found[3][0] == 50
    assert np.array_equal(hook.found[3][1]["0.weight"],
                          keep_largest({"0.weight": np.abs(base)}, like)["0.weight"])
    assert hook.birds[3].distances == pytest.approx([1.0, 1.0, 1.0, 1.0, 0.1])


def test_a_search_finds_retrains_and_costs_each_target(source, tmp_path):
    before = digest(source)
    options = EarlyBirdOptions(source=str(source), every=5, window=2, threshold=0.5)
    results = run_early_bird(options, tmp_path / "eb", progress=False, log=None)
    # every mask is within 2 x (1 - density) < 0.5 of the next: found at the first window
    assert results["search"]["stopped_at"] == 10
    assert [r["round"] for r in results["rounds"]] == [1, 2]
    stored = StoredRun(source)
    table = stored.results["meta"]["layer_costs"]
    dense_step = density_cost(table, {})["training_flops_per_example"]
    batch = results["config"]["training"]["batch_size"]
    for record in results["rounds"]:
        masks = stored.masks(record["round"])
        assert record["layer_density"] == pytest.approx(
            {n: float(m.mean()) for n, m in masks.items()})  # IMP's per-layer counts
        assert record["found_at"] == 10 and record["found"]
        assert record["cost"]["search_flops"] == dense_step * 10 * batch
        assert 0 <= record["distance_to_imp"] <= 1
    assert digest(source) == before  # the source run is only read
    again = run_early_bird(options, tmp_path / "eb", progress=False, log=None)
    def timeless(rounds):
        return [{k: v for k, v in r.items() if k != "seconds"} for r in rounds]

    assert timeless(again["rounds"]) == timeless(results["rounds"])  # retrained, the same


def test_a_search_that_never_settles_uses_the_last_mask(source, tmp_path):
    options = EarlyBirdOptions(source=str(source), rounds=(2,), every=10, window=4,
                               threshold=1e-9)
    results = run_early_bird(options, tmp_path / "eb", progress=False, log=None)
    assert results["search"]["stopped_at"] == 40
    [record] = results["rounds"]
    assert not record["found"] and record["found_at"] == 40


def test_early_bird_refuses_bad_options(source, tmp_path):
    with pytest.raises(ValueError, match="rounds: got 7"):
        run_early_bird(EarlyBirdOptions(source=str(source), rounds=(7,)), tmp_path / "a",
                       progress=False, log=None)
    with pytest.raises(ValueError, match="window: got 1"):
        run_early_bird(EarlyBirdOptions(source=str(source), window=1), tmp_path / "b",
                       progress=False, log=None)
    with pytest.raises(ValueError, match="threshold: got 2"):
        run_early_bird(EarlyBirdOptions(source=str(source), threshold=2), tmp_path / "c",
                       progress=False, log=None)


def test_chance_distance_is_two_d_one_minus_d():
    a = {"w": np.arange(100) < 30}
    assert chance_distance(a, a) == pytest.approx(2 * 0.3 * 0.7)
    rng = np.random.default_rng(0)
    draws = [np.mean(rng.permutation(a["w"]) != rng.permutation(a["w"])) for _ in range(2000)]
    assert np.mean(draws) == pytest.approx(chance_distance(a, a), abs=0.01)


def test_mask_dynamics_of_a_run_and_of_a_pair(source):
    before = digest(source)
    results = mask_dynamics([source, source])
    rounds = results["runs"][0]["rounds"]
    densities = [r["density"] for r in rounds]
    # IMP only narrows: the distance to the previous round is the density lost
    for previous, r in zip(rounds, rounds[1:], strict=False):
        assert r["distance_to_previous"] == pytest.approx(previous["density"] - r["density"])
    assert rounds[0]["distance_to_one_shot"] == 0.0 and densities[0] == 1.0
    assert rounds[1]["distance_to_one_shot"] == 0.0  # round 1 is the one-shot mask
    [pair] = results["pairs"]
    assert all(r["distance"] == 0.0 for r in pair["rounds"])
    assert digest(source) == before
    with pytest.raises(ValueError, match="runs: got none"):
        mask_dynamics([])


def test_a_search_with_no_mask_in_its_training_uses_the_weights_at_the_end(source, tmp_path):
    # every 100 iterations in a 40-iteration training: the magnitude mask of the end
    options = EarlyBirdOptions(source=str(source), rounds=(1,), every=100)
    results = run_early_bird(options, tmp_path / "eb", progress=False, log=None)
    assert results["search"] == {"stopped_at": 40, "iterations": [],
                                 "targets": {"1": {"found": False, "iteration": 40,
                                                   "distances": []}}}
    # the search replays round 0: its end is round 0's trained weights, whose mask is round 1's
    assert results["rounds"][0]["distance_to_imp"] == 0.0


def test_plot_of_an_early_bird_run_redraws_early_bird_png(source, tmp_path, capsys):
    from cli_runner import run_cli

    options = EarlyBirdOptions(source=str(source), rounds=(1,), every=5, window=2,
                               threshold=0.5)
    run_early_bird(options, tmp_path / "eb", progress=False, log=None)
    code, out, err = run_cli(["plot", str(tmp_path / "eb")], capsys)
    assert code == 0, err
    assert (tmp_path / "eb" / "early_bird.png").is_file() and "early_bird.png" in out
    assert not (tmp_path / "eb" / "accuracy.png").exists()  # no lottery figure, no "? on ?"


def test_plot_of_a_mask_dynamics_directory_redraws_its_figure(source, tmp_path, capsys):
    import json

    from cli_runner import run_cli

    (tmp_path / "md").mkdir()
    (tmp_path / "md" / "mask_dynamics.json").write_text(json.dumps(mask_dynamics([source])))
    code, out, err = run_cli(["plot", str(tmp_path / "md")], capsys)
    assert code == 0, err
    assert (tmp_path / "md" / "mask_dynamics.png").is_file()


@pytest.mark.parametrize("flags, words", [
    (["--every", "0"], ["--every: got 0"]),
    (["--every", "-5"], ["--every: got -5"]),
    (["--window", "0"], ["--window: got 0"]),
    (["--threshold", "-1"], ["--threshold: got -1.0"]),
    (["--rounds", "0"], ["--rounds: got 0", "[1, 2]"])])
def test_early_bird_errors_name_the_flag_and_value(source, tmp_path, capsys, flags, words):
    from cli_runner import run_cli

    code, _, err = run_cli(["early-bird", "--source", str(source), *flags, "--out",
                            str(tmp_path / "eb"), "--no-progress"], capsys)
    assert code == 2 and all(w in err for w in words), err
    assert not (tmp_path / "eb").exists()


def test_a_truncated_masks_checkpoint_is_searched_and_retrained_again(source, tmp_path):
    options = EarlyBirdOptions(source=str(source), rounds=(1,), every=5, window=2,
                               threshold=0.5)
    results = run_early_bird(options, tmp_path / "eb", progress=False, log=None)
    stored = tmp_path / "eb" / "checkpoints" / "early_bird_masks.npz"
    intact = stored.read_bytes()
    stored.write_bytes(intact[: len(intact) // 2])
    lines = []
    again = run_early_bird(options, tmp_path / "eb", progress=False, log=lines.append)
    assert any("early_bird_masks.npz" in line and "truncated" in line for line in lines), lines
    assert stored.read_bytes() == intact  # the seeded search gives the same masks
    def timeless(rounds):
        return [{k: v for k, v in r.items() if k != "seconds"} for r in rounds]

    assert timeless(again["rounds"]) == timeless(results["rounds"])  # retrained, the same
