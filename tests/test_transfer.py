"""Ticket transfer (minilottery.transfer) on tiny models and data."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minilottery import runner
from minilottery.cli import main
from minilottery.config import LotteryConfig
from minilottery.lottery import run_lottery
from minilottery.models import get_model
from minilottery.nn import prunable_layers
from minilottery.plots import plot_transfer
from minilottery.prune import apply_masks, output_layer, random_masks_like
from minilottery.runner import RunContext
from minilottery.runs import ConfigMismatchError, RunDirectory
from minilottery.tables import transfer_table
from minilottery.transfer import (
    TransferConfig,
    TransferRun,
    load_source,
    run_transfer,
    target_config,
    transferred_masks,
    transferred_state,
)

QUIET = RunContext(progress=False)

TINY = dict(data_seed=0, batch_size=32, iterations=12, eval_every=6, rounds=2,
            controls=(), seed=3)


@pytest.fixture(scope="module")
def vgg_source(tmp_path_factory):
    """A finished VGG-19 (width 1/32, BatchNorm) run on digits at 16x16, late reset to 4."""
    out = tmp_path_factory.mktemp("source") / "vgg"
    config = LotteryConfig(model="vgg19", dataset="digits", resize=(16, 16), width=1 / 32,
                           optimizer="sgd", lr=0.05, momentum=0.9, warmup=0, milestones=(),
                           max_train=256, reset="rewind", rewind_iteration=4, rate=0.5,
                           **{**TINY, "iterations": 8, "eval_every": 4})
    run_lottery(config, out, progress=False)
    return out


@pytest.fixture(scope="module")
def lenet_source(tmp_path_factory):
    """A finished LeNet-300-100 (width 0.1) run on digits; its output layer is pruned too."""
    out = tmp_path_factory.mktemp("source") / "lenet"
    config = LotteryConfig(model="lenet300", dataset="digits", width=0.1, optimizer="adam",
                           lr=2e-3, reset="init", rate=0.4, **TINY)
    run_lottery(config, out, progress=False)
    return out


@pytest.fixture(scope="module")
def lenet_transfer(lenet_source, tmp_path_factory):
    """The lenet ticket transferred to the synthetic task (8x8 via resize) with SGD."""
    out = tmp_path_factory.mktemp("transfer") / "run"
    config = TransferConfig(source=str(lenet_source), dataset="synthetic", max_train=300,
                            optimizer="sgd", lr=0.05)
    return out, config, run_transfer(config, out, progress=False)


def _prunable(model) -> dict:
    return {name: model.backend.to_numpy(layer.params["weight"])
            for name, layer in prunable_layers(model)}


def test_transferred_weights_are_the_source_reset_weights_under_the_mask(vgg_source):
    run = TransferRun(TransferConfig(str(vgg_source), "synthetic", max_train=200),
                      vgg_source.parent / "t1", context=QUIET)
    source = RunDirectory(vgg_source)
    reset = source.load_checkpoint("rewind")["weights"]
    masks = source.load_checkpoint("round_02")["masks"]
    out = output_layer(run.model)
    start = transferred_state(run.model, reset)
    fresh = get_model("vgg19", (1, 16, 16), 10, 1 / 32, seed=3).state_dict()
    for name, value in start.items():
        # Every weight, bias and BatchNorm buffer but the output layer's is the source's
        expected = fresh[name] if name.startswith("fc.") else reset[name]
        np.testing.assert_array_equal(value, expected, err_msg=name)
    assert not np.array_equal(start[out], reset[out])
    # Loaded and masked: equal where the mask keeps a weight, exactly zero elsewhere
    run.model.load_state_dict(start)
    model_masks = transferred_masks(run.model, masks, "dense", seed=0)
    apply_masks(run.model, model_masks)
    for name, weight in _prunable(run.model).items():
        if name == out:
            assert model_masks[name].all()
            continue
        np.testing.assert_array_equal(model_masks[name], masks[name])
        np.testing.assert_array_equal(weight[masks[name]], reset[name][masks[name]])
        assert np.all(weight[~masks[name]] == 0)
        assert 0 < masks[name].mean() < 1 or name == out


@settings(deadline=None, max_examples=8)
@given(num_classes=st.integers(2, 13), output_mask=st.sampled_from(["dense", "random"]),
       seed=st.integers(0, 100))
def test_output_layer_takes_the_target_class_count(lenet_source, num_classes, output_mask,
                                                   seed):
    source = load_source(lenet_source)
    masks = source.masks(2)
    model = get_model("lenet300", (1, 8, 8), num_classes, 0.1, seed=seed)
    state = transferred_state(model, source.reset_weights)
    assert state["5.weight"].shape == (num_classes, 10)
    assert state["5.bias"].shape == (num_classes,)
    model.load_state_dict(state)  # the shapes fit the target model
    new = transferred_masks(model, masks, output_mask, seed)
    assert new["5.weight"].shape == (num_classes, 10)
    if output_mask == "dense":
        assert new["5.weight"].all()
    else:
        # A random mask keeping the source output layer's fraction of weights
        expected = round(masks["5.weight"].mean() * num_classes * 10)
        assert np.count_nonzero(new["5.weight"]) == expected
    for name in ("1.weight", "3.weight"):
        np.testing.assert_array_equal(new[name], masks[name])


def test_transfer_run_records_the_four_networks_at_each_source_density(lenet_source,
                                                                        lenet_transfer):
    out, _, results = lenet_transfer
    source = load_source(lenet_source)
    config = results["config"]
    assert config["source"] == str(lenet_source.resolve())
    assert config["source_config"]["dataset"] == "digits"
    assert config["target_config"]["dataset"] == "synthetic"
    assert list(config["target_config"]["resize"]) == [8, 8]
    assert config["target_config"]["optimizer"] == "sgd"
    assert results["meta"]["dataset"]["input_shape"] == [1, 8, 8]
    transferred = results["rounds"]
    target = results["controls"]["target_ticket"]
    random = results["controls"]["random_ticket"]
    assert [r["round"] for r in transferred] == [1, 2]
    assert [r["round"] for r in target] == [1, 2] == [r["round"] for r in random]
    assert results["dense"]["round"] == 0 and results["dense"]["density"] == 1.0
    for fields in (transferred, target, random):
        for record in fields:
            assert {"round", "density", "final_test_accuracy", "early_stop_iteration",
                    "early_stop_test_accuracy", "layer_density", "history"} <= set(record)
    for ticket, found, src in zip(transferred, target, source.rounds[1:], strict=True):
        # Hidden layers: the source's densities; the target ticket reaches the same ones
        for name in ("1.weight", "3.weight"):
            assert ticket["layer_density"][name] == src["layer_density"][name]
            assert found["layer_density"][name] == src["layer_density"][name]
        assert ticket["layer_density"]["5.weight"] == 1.0  # the replaced output layer
    table = transfer_table(results)
    assert "digits/adam" in table and "synthetic/sgd" in table
    assert plot_transfer(results, out / "again.png").stat().st_size > 0


def test_random_ticket_keeps_the_per_layer_counts(lenet_transfer):
    _, _, results = lenet_transfer
    for ticket, random in zip(results["rounds"], results["controls"]["random_ticket"],
                              strict=True):
        assert random["layer_density"] == ticket["layer_density"]
        assert random["kept_weights"] == ticket["kept_weights"]
        assert random["density"] < 1.0


def test_random_ticket_mask_differs_but_counts_agree(lenet_source):
    source = load_source(lenet_source)
    model = get_model("lenet300", (1, 8, 8), 10, 0.1, seed=0)
    masks = transferred_masks(model, source.masks(2), "dense", 0)
    random = random_masks_like(masks, 5)
    for name, mask in masks.items():
        assert np.count_nonzero(random[name]) == np.count_nonzero(mask)
    assert not np.array_equal(random["1.weight"], masks["1.weight"])


def test_resume_skips_finished_densities(lenet_transfer, tmp_path, monkeypatch):
    out, config, results = lenet_transfer
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    config = TransferConfig(**{**config.to_dict(), "target_dir": None})
    # Forget the last density, as if the run had been stopped before it
    stored = json.loads((copy / "results.json").read_text())
    stored["config"]["target_dir"] = str((copy / "target").resolve())
    stored["rounds"].pop()
    stored["controls"]["random_ticket"].pop()
    (copy / "results.json").write_text(json.dumps(stored))
    calls = []
    original = runner.train_masked

    def tickets_only(*args, **kwargs):
        # Every training goes through the runner: the target's IMP rounds are labelled
        # "round r" or by their control, the transfer's own "transferred" / "random ticket"
        if not kwargs["description"].lstrip().startswith(("transferred", "random ticket")):
            raise AssertionError("the target IMP run was finished and must not train again")
        calls.append(kwargs["description"])
        return original(*args, **kwargs)

    monkeypatch.setattr(runner, "train_masked", tickets_only)
    resumed = run_transfer(config, copy, progress=False)
    assert len(calls) == 2  # the missing density's transferred and random tickets only
    assert [r["round"] for r in resumed["rounds"]] == [1, 2]
    # Same seeds, same data order: the resumed density matches the uninterrupted run
    for key in ("early_stop_test_accuracy", "final_test_accuracy", "density"):
        assert resumed["rounds"][-1][key] == results["rounds"][-1][key]
    calls.clear()
    run_transfer(config, copy, progress=False)
    assert calls == []  # nothing left to train


def test_resume_refuses_another_configuration(lenet_transfer):
    out, config, _ = lenet_transfer
    with pytest.raises(ConfigMismatchError, match="optimizer"):
        TransferRun(TransferConfig(**{**config.to_dict(), "optimizer": "adam", "lr": None}),
                    out, context=QUIET)


def test_optimizer_switch_takes_that_optimizers_settings(vgg_source, lenet_source):
    sgd = load_source(vgg_source)
    adam = target_config(sgd, TransferConfig(str(vgg_source), "digits", optimizer="adam"))
    assert (adam.optimizer, adam.lr, adam.momentum) == ("adam", 3e-4, 0.0)
    assert adam.dataset == "digits" and adam.resize == (16, 16) and adam.channels == 1
    back = target_config(load_source(lenet_source),
                         TransferConfig(str(lenet_source), "digits", optimizer="sgd"))
    assert (back.optimizer, back.lr, back.momentum) == ("sgd", 0.1, 0.9)
    same = target_config(sgd, TransferConfig(str(vgg_source), "mnist5k", iterations=16))
    assert (same.optimizer, same.lr, same.iterations) == ("sgd", 0.05, 16)
    assert same.rewind_iteration == 8  # the late-reset point scales with training


# Bad input ---------------------------------------------------------------------------


def test_source_that_is_not_a_run_directory(tmp_path):
    with pytest.raises(ValueError, match="not a finished lottery run.*no results.json"):
        load_source(tmp_path)


def test_source_run_not_finished(lenet_source, tmp_path):
    copy = tmp_path / "unfinished"
    shutil.copytree(lenet_source, copy)
    stored = json.loads((copy / "results.json").read_text())
    stored["rounds"].pop()
    (copy / "results.json").write_text(json.dumps(stored))
    with pytest.raises(ValueError, match="2 of its 2\\+1 rounds are finished"):
        load_source(copy)


def test_source_checkpoint_missing(lenet_source, tmp_path):
    copy = tmp_path / "partial"
    shutil.copytree(lenet_source, copy)
    (copy / "checkpoints" / "round_01.npz").unlink()
    with pytest.raises(ValueError, match=r"checkpoints/round_01.npz: missing; run the same "
                       "`minilottery lottery`"):
        load_source(copy)


def test_source_is_a_transfer_run(lenet_transfer):
    out, _, _ = lenet_transfer
    with pytest.raises(ValueError, match="is a transfer run"):
        load_source(out)


def test_source_of_another_architecture(lenet_source, tmp_path):
    with pytest.raises(ValueError, match="model: got 'vgg19'.*'lenet300'"):
        TransferRun(TransferConfig(str(lenet_source), "synthetic", model="vgg19"), tmp_path)
    with pytest.raises(ValueError, match="width: got 0.5.*width 0.1"):
        load_source(lenet_source, model="lenet300", width=0.5)


def test_shape_that_cannot_be_matched(lenet_source, tmp_path):
    copy = tmp_path / "two_channels"
    shutil.copytree(lenet_source, copy)
    stored = json.loads((copy / "results.json").read_text())
    stored["meta"]["dataset"]["input_shape"] = [2, 8, 8]
    (copy / "results.json").write_text(json.dumps(stored))
    with pytest.raises(ValueError, match="cannot match 2 channels"):
        TransferRun(TransferConfig(str(copy), "synthetic"), tmp_path / "out")


def test_bad_options():
    with pytest.raises(ValueError, match="output_mask: got 'half'"):
        TransferConfig("x", "digits", output_mask="half").validate()
    with pytest.raises(ValueError, match="random_weights: got 'new'"):
        TransferConfig("x", "digits", random_weights="new").validate()


def test_cli_reports_bad_source(tmp_path, capsys):
    code = main(["transfer", "--source", str(tmp_path), "--dataset", "digits",
                 "--out", str(tmp_path / "out"), "--no-progress"])
    assert code == 2
    assert "not a finished lottery run" in capsys.readouterr().err


def test_cli_runs_a_transfer(lenet_source, tmp_path, capsys):
    out = tmp_path / "cli"
    code = main(["transfer", "--source", str(lenet_source), "--dataset", "digits",
                 "--optimizer", "sgd", "--lr", "0.05", "--iterations", "6",
                 "--max-train", "200", "--out", str(out), "--no-progress"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "transferred %" in printed and "digits/sgd" in printed
    assert (out / "transfer.png").is_file() and (out / "target" / "results.json").is_file()
