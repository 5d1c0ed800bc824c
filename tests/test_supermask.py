"""Supermasks: masks on the initial weights, signed constants, same-sign masks, command."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minilottery.cli import main
from minilottery.config import LotteryConfig
from minilottery.experiments.supermask import run_supermask, same_sign_masks, signed_constant
from minilottery.lottery import run_lottery
from minilottery.runs import ConfigMismatchError, RunDirectory


def test_signed_constant_keeps_signs_and_uses_the_layer_std():
    rng = np.random.default_rng(0)
    state = {"w": rng.normal(size=(5, 4)).astype(np.float32), "b": np.ones(5, np.float32)}
    out = signed_constant(state, {"w": np.ones((5, 4), bool)})
    assert np.array_equal(np.sign(out["w"]), np.sign(state["w"]))
    np.testing.assert_allclose(np.abs(out["w"]), state["w"].std(), rtol=1e-6)
    assert out["w"].dtype == np.float32 and out["b"] is state["b"]  # only masked weights change


@settings(deadline=None)
@given(seed=st.integers(0, 1000), keep_fraction=st.floats(0, 1))
def test_same_sign_masks_keep_exact_counts_inside_the_previous_mask(seed, keep_fraction):
    rng = np.random.default_rng(seed)
    w0, w1 = rng.normal(size=(6, 7)), rng.normal(size=(6, 7))
    previous = {"w": rng.random((6, 7)) < 0.7}
    keep = int(keep_fraction * previous["w"].sum())
    mask = same_sign_masks({"w": w0}, {"w": w1}, previous, {"w": keep})["w"]
    assert mask.sum() == keep and not (mask & ~previous["w"]).any()
    same = (np.sign(w0) == np.sign(w1)) & previous["w"]
    if keep <= same.sum():
        # Only same-sign weights, and the largest |w_final| among them
        assert not (mask & ~same).any()
        if keep:
            assert np.abs(w1[mask]).min() >= np.abs(w1[same & ~mask]).max(initial=0)
    else:
        assert (mask | ~same).all()  # every same-sign weight is kept


def test_same_sign_masks_refuse_more_than_the_previous_mask():
    with pytest.raises(ValueError, match="counts"):
        same_sign_masks({"w": np.ones(3)}, {"w": np.ones(3)}, {"w": np.array([1, 0, 0], bool)},
                        {"w": 2})


def test_supermask_command_evaluates_every_round_without_training(tmp_path, capsys):
    source = tmp_path / "source"
    run_lottery(LotteryConfig(dataset="digits", width=0.1, iterations=20, rounds=2, rate=0.5,
                              controls=()), source, progress=False)
    before = {p.name: p.stat().st_mtime_ns for p in (source / "checkpoints").iterdir()}
    out = tmp_path / "sm"
    assert main(["supermask", str(source), "--out", str(out)]) == 0
    results = json.loads((out / "results.json").read_text())
    imp = json.loads((source / "results.json").read_text())["rounds"]
    assert [r["density"] for r in results["rounds"]] == [r["density"] for r in imp]
    dense = results["rounds"][0]["test_accuracy"]
    # At full density every mask keeps everything: the untrained network's accuracy
    assert dense["large_final"] == dense["random"]
    assert set(results["rounds"][1]["test_accuracy"]) == {
        "large_final", "large_final_signed_constant", "large_final_same_sign",
        "large_final_same_sign_signed_constant", "random", "random_signed_constant"}
    assert all(0 <= v <= 1 for r in results["rounds"] for v in r["test_accuracy"].values())
    assert (out / "supermask.png").is_file()
    assert "trained %" in capsys.readouterr().out
    # The source run is only read
    assert {p.name: p.stat().st_mtime_ns for p in (source / "checkpoints").iterdir()} == before
    assert RunDirectory(source).load_results()["rounds"] == imp


def test_a_supermask_directory_of_the_older_format_is_read(tmp_path):
    """results.json without "config" (its identity at the top level, as supermasks wrote
    it before they went through RunDirectory): the same command finds nothing left."""
    source = tmp_path / "source"
    run_lottery(LotteryConfig(dataset="digits", width=0.1, iterations=20, rounds=1, rate=0.5,
                              controls=()), source, progress=False)
    out = tmp_path / "sm"
    results = run_supermask(source, out, random_seeds=2, log=None)
    old = {k: v for k, v in results.items() if k != "config"}
    (out / "results.json").write_text(json.dumps(old))
    again = run_supermask(source, out, random_seeds=2, log=None)
    assert again["rounds"] == old["rounds"]
    with pytest.raises(ConfigMismatchError, match="random_seeds"):
        run_supermask(source, out, random_seeds=3, log=None)
