"""The lottery engine on tiny runs: what each reset really starts from, masks, controls.

Each run here is LeNet-300-100 at width 0.1 (30-10-10 units) on scikit-learn's
digits, 40 iterations a round, 2 pruned rounds. A spy wraps ``lottery.train``
to record the weights and masks each training starts from, which the
checkpoints alone do not keep.
"""

from __future__ import annotations

import numpy as np
import pytest

from minilottery import lottery, nn, recipe
from minilottery.config import LotteryConfig
from minilottery.models import get_model
from minilottery.prune import (
    compound_rates,
    density,
    layer_density,
    magnitude_prune,
    output_layer,
)
from minilottery.runs import RunDirectory

TINY = dict(model="lenet300", dataset="digits", width=0.1, iterations=40, eval_every=20,
            rounds=2, seed=3)
REWIND_AT = 7


def tiny(**changes) -> LotteryConfig:
    return LotteryConfig(**{**TINY, **changes})


class Spy:
    """Wraps the training of recipe.train_masked: records (label, start weights, masks,
    start iteration, the optimizer's schedule position) of every training."""

    def __init__(self):
        self.calls: list[dict] = []
        self.real = recipe.train

    def __call__(self, model, dataset, optimizer, **kwargs):
        masks = {n: np.array(model.backend.to_numpy(m)) for n, m in model.masks.items()}
        self.calls.append({"label": kwargs["description"], "state": model.state_dict(),
                           "masks": masks, "start": kwargs.get("start_iteration", 0),
                           "schedule_at": optimizer.iteration})
        return self.real(model, dataset, optimizer, **kwargs)

    def ticket(self, round_index: int) -> dict:
        [call] = [c for c in self.calls if c["label"].startswith(f"round {round_index} ")]
        return call

    def control(self, name: str, round_index: int) -> dict:
        calls = [c for c in self.calls if c["label"].strip().startswith(name)]
        return calls[round_index - 1]


def spied_run(path, config):
    spy = Spy()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(recipe, "train", spy)
        results = lottery.run_lottery(config, path, progress=False)
    return results, spy, RunDirectory(path)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One tiny run per reset, both controls on the init run."""
    out = {}
    for reset, extra in [("init", {"controls": ("reinit", "random_prune")}),
                         ("rewind", {"rewind_iteration": REWIND_AT}),
                         ("reinit", {})]:
        out[reset] = spied_run(tmp_path_factory.mktemp(reset), tiny(reset=reset, **extra))
    return out


def assert_start_is(start: dict, masks: dict, reference: dict) -> None:
    """Surviving weights equal ``reference`` exactly, pruned ones are zero, all else too."""
    for name, value in start.items():
        if name in masks:
            m = masks[name]
            assert np.array_equal(value[m], reference[name][m]), name
            assert np.all(value[~m] == 0), name
        else:
            assert np.array_equal(value, reference[name]), name


# -- round records and masks -------------------------------------------------------------

def test_rounds_record_what_design_lists(runs):
    results, _, directory = runs["init"]
    assert [r["round"] for r in results["rounds"]] == [0, 1, 2]
    previous = None
    for record in results["rounds"]:
        masks = directory.load_checkpoint(f"round_{record['round']:02d}")["masks"]
        assert record["density"] == density(masks)
        assert record["layer_density"] == layer_density(masks)
        history = record["history"]
        assert [h["iteration"] for h in history] == [0, 20, 40]
        assert record["final_test_accuracy"] == history[-1]["test_accuracy"]
        best = min(history, key=lambda h: h["val_loss"])
        assert record["early_stop_iteration"] == best["iteration"]
        assert record["early_stop_test_accuracy"] == best["test_accuracy"]
        for key in ("final_test_accuracy", "early_stop_test_accuracy"):
            assert 0.0 <= record[key] <= 1.0
        if previous is not None:  # masks only lose entries
            assert all(not np.any(masks[n] & ~previous[n]) for n in masks)
            assert record["density"] < density(previous)
        previous = masks
    # the paper's rates: hidden layers 20% a round, the output 10%
    assert results["rounds"][1]["layer_density"]["1.weight"] == pytest.approx(0.8, abs=1e-3)
    assert results["rounds"][1]["layer_density"]["5.weight"] == pytest.approx(0.9, abs=1e-2)
    assert results["rounds"][2]["layer_density"]["1.weight"] == pytest.approx(0.64, abs=1e-3)


@pytest.mark.parametrize("reset", ["init", "rewind", "reinit"])
def test_each_round_prunes_the_weights_the_previous_round_trained(runs, reset):
    results, spy, directory = runs[reset]
    c = LotteryConfig.from_dict(results["config"])
    model = get_model(c.model, (1, 8, 8), 10, c.width, c.seed)
    rates, fraction = c.layer_rate_map(model)
    masks = None
    for r in (1, 2):
        trained = directory.load_checkpoint(f"round_{r - 1:02d}")["weights"]
        model.load_state_dict(trained)
        masks = magnitude_prune(model, fraction, c.scope, masks, rates)
        saved = directory.load_checkpoint(f"round_{r:02d}")
        assert all(np.array_equal(saved["masks"][n], masks[n]) for n in masks)
        assert all(np.array_equal(spy.ticket(r)["masks"][n], masks[n]) for n in masks)
        # trained under the mask: pruned weights are still exactly zero at the end
        assert all(np.all(saved["weights"][n][~masks[n]] == 0) for n in masks)


# -- resets ------------------------------------------------------------------------------

def test_init_reset_starts_every_round_from_iteration_zero(runs):
    results, spy, directory = runs["init"]
    init = directory.load_checkpoint("init")["weights"]
    fresh = get_model("lenet300", (1, 8, 8), 10, 0.1, TINY["seed"]).state_dict()
    assert all(np.array_equal(init[n], fresh[n]) for n in fresh)
    for r in (0, 1, 2):
        call = spy.ticket(r)
        assert_start_is(call["state"], call["masks"], init)
        assert results["rounds"][r]["reset"] == "init"
    # and not from the trained weights it was pruned from
    trained = directory.load_checkpoint("round_00")["weights"]
    assert not np.array_equal(spy.ticket(1)["state"]["1.weight"], trained["1.weight"])


def test_rewind_reset_starts_from_iteration_k_of_the_dense_run(runs, tmp_path):
    results, spy, directory = runs["rewind"]
    assert results["config"]["rewind_iteration"] == REWIND_AT
    rewind = directory.load_checkpoint("rewind")["weights"]
    # the snapshot equals the weights of the same dense run stopped at k
    stopped = lottery.run_lottery(tiny(reset="init", iterations=REWIND_AT, rounds=0,
                                       eval_every=REWIND_AT), tmp_path, progress=False)
    assert len(stopped["rounds"]) == 1
    at_k = RunDirectory(tmp_path).load_checkpoint("round_00")["weights"]
    assert all(np.array_equal(rewind[n], at_k[n]) for n in at_k)
    init = directory.load_checkpoint("init")["weights"]
    assert not np.array_equal(rewind["1.weight"], init["1.weight"])
    assert_start_is(spy.ticket(0)["state"], spy.ticket(0)["masks"], init)
    for r in (1, 2):
        call = spy.ticket(r)
        assert_start_is(call["state"], call["masks"], rewind)


def test_rewind_rounds_continue_from_k_for_the_remaining_iterations(runs):
    """Late reset continues the dense training from iteration k (as OpenLTH): the
    schedule resumes at k and a pruned round, like its controls, trains T - k iterations.
    (It used to restart the schedule at 0, warmup again, and train T from θ_k.)"""
    results, spy, _ = runs["rewind"]
    total = TINY["iterations"]
    assert [h["iteration"] for h in results["rounds"][0]["history"]][0] == 0
    assert results["rounds"][0]["iterations"] == total
    for record in results["rounds"][1:] + results["controls"]["reinit"]:
        iterations = [h["iteration"] for h in record["history"]]
        assert iterations[0] == REWIND_AT and iterations[-1] == total
        assert record["iterations"] == total - REWIND_AT
        assert REWIND_AT <= record["early_stop_iteration"] <= total
    for r in (1, 2):
        assert spy.ticket(r)["start"] == REWIND_AT == spy.ticket(r)["schedule_at"]
        assert spy.control("reinit", r)["start"] == REWIND_AT
    assert spy.ticket(0)["start"] == 0 == spy.ticket(0)["schedule_at"]


def test_reinit_reset_keeps_the_mask_with_fresh_values(runs):
    results, spy, directory = runs["reinit"]
    init = directory.load_checkpoint("init")["weights"]
    starts = []
    for r in (1, 2):
        call = spy.ticket(r)
        masks, start = call["masks"], call["state"]
        saved = directory.load_checkpoint(f"round_{r:02d}")
        assert all(np.array_equal(saved["masks"][n], masks[n]) for n in masks)
        # the fresh weights are saved with the round, and are what training started from
        assert_start_is(start, masks, saved["start"])
        for n, m in masks.items():
            assert np.all(start[n][~m] == 0)
            # fresh values: (almost) no surviving weight keeps its iteration-0 value
            assert np.mean(start[n][m] == init[n][m]) < 0.01, n
        starts.append(start)
        assert results["rounds"][r]["reset"] == "reinit"
    assert not np.array_equal(starts[0]["1.weight"], starts[1]["1.weight"])


# -- one-shot ----------------------------------------------------------------------------

@pytest.mark.parametrize("scope", ["layer", "global"])
def test_oneshot_reaches_the_density_of_n_rounds_directly(runs, tmp_path, scope):
    iterative, _, it_dir = runs["init"]
    if scope == "global":
        iterative = lottery.run_lottery(tiny(scope="global", controls=()), tmp_path / "it",
                                        progress=False)
        it_dir = RunDirectory(tmp_path / "it")
    oneshot, spy, directory = spied_run(tmp_path / "os",
                                        tiny(strategy="oneshot", scope=scope, controls=()))
    dense = directory.load_checkpoint("round_00")["weights"]
    assert all(np.array_equal(dense[n], v)
               for n, v in it_dir.load_checkpoint("round_00")["weights"].items())
    c = LotteryConfig.from_dict(oneshot["config"])
    model = get_model("lenet300", (1, 8, 8), 10, 0.1, c.seed)
    model.load_state_dict(dense)
    rates, fraction = c.layer_rate_map(model)
    for r in (1, 2):
        expected = it_dir.load_checkpoint(f"round_{r:02d}")["masks"]
        got = directory.load_checkpoint(f"round_{r:02d}")["masks"]
        # pruned from the dense trained network in one step, at the compounded rate
        if scope == "layer":
            direct = magnitude_prune(model, fraction, "layer", None, compound_rates(rates, r))
        else:
            direct = magnitude_prune(model, 1 - (1 - fraction) ** r, "global")
        assert all(np.array_equal(got[n], direct[n]) for n in got)
        assert all(np.array_equal(spy.ticket(r)["masks"][n], got[n]) for n in got)
        if scope == "layer":  # the same count per layer as r iterative rounds, to rounding
            assert all(abs(int(got[n].sum()) - int(expected[n].sum())) <= 1 for n in got)
        else:
            assert abs(sum(int(m.sum()) for m in got.values())
                       - sum(int(m.sum()) for m in expected.values())) <= 1
        assert oneshot["rounds"][r]["density"] == pytest.approx(
            iterative["rounds"][r]["density"], abs=3 / 430)


# -- controls ----------------------------------------------------------------------------

def test_controls_one_record_per_pruned_round_at_the_ticket_density(runs):
    results, spy, directory = runs["init"]
    init = directory.load_checkpoint("init")["weights"]
    for name in ("reinit", "random_prune"):
        records = results["controls"][name]
        assert [r["round"] for r in records] == [1, 2]
        for record in records:
            ticket = results["rounds"][record["round"]]
            assert record["control"] == name
            assert record["density"] == ticket["density"]
            assert record["layer_density"] == ticket["layer_density"]
            for key in ("final_test_accuracy", "early_stop_iteration",
                        "early_stop_test_accuracy", "history"):
                assert key in record
    for r in (1, 2):
        ticket = directory.load_checkpoint(f"round_{r:02d}")["masks"]
        reinit, random = spy.control("reinit", r), spy.control("random_prune", r)
        # reinit: the ticket's mask, fresh values
        assert all(np.array_equal(reinit["masks"][n], ticket[n]) for n in ticket)
        assert np.mean(reinit["state"]["1.weight"][ticket["1.weight"]]
                       == init["1.weight"][ticket["1.weight"]]) < 0.01
        # random prune: the ticket's per-layer counts, another mask, the ticket's start
        for n in ticket:
            assert random["masks"][n].sum() == ticket[n].sum()
        assert not np.array_equal(random["masks"]["1.weight"], ticket["1.weight"])
        assert_start_is(random["state"], random["masks"], init)


# -- configuration errors ----------------------------------------------------------------

@pytest.mark.parametrize("changes, match", [
    (dict(rate=1.0), r"rate: got 1.0, expected a fraction in \[0, 1\)"),
    (dict(rate=-0.2), r"rate: got -0.2"),
    (dict(fc_rate=1.2), r"fc_rate: got 1.2"),
    (dict(layer_rates={"1.weight": 1.0}), r"layer_rates\['1.weight'\]: got 1.0"),
    (dict(reset="rewind", rewind_iteration=41), r"rewind_iteration: got 41.*\[0, 40\]"),
    (dict(reset="restart"), r"reset: got 'restart', expected one of init, rewind, reinit"),
    (dict(strategy="twoshot"), r"strategy: got 'twoshot'"),
    (dict(controls=("shuffle",)), r"controls: got 'shuffle'"),
    (dict(model="lenet5"), r"model: got 'lenet5', expected one of lenet300, conv2"),
    # an explicit 0 is refused, never replaced by the preset's value
    (dict(batch_size=0), r"batch_size: got 0, expected 1 to the training set's size 1000"),
    (dict(iterations=0), r"iterations: got 0, expected >= 1"),
    (dict(eval_every=0), r"eval_every: got 0, expected >= 1"),
    (dict(lr=0.0), r"lr: got 0.0, expected a finite number > 0"),
    (dict(weight_decay=-1e-4), r"weight_decay: got -0.0001"),
])
def test_bad_configuration_is_named(changes, match):
    with pytest.raises(ValueError, match=match):
        tiny(**changes).resolved(1000)


def test_unknown_names_are_refused_before_anything_is_written(tmp_path):
    with pytest.raises(ValueError, match="dataset name: got 'digitz', expected one of"):
        lottery.run_lottery(tiny(dataset="digitz"), tmp_path / "a", progress=False)
    with pytest.raises(ValueError, match="model: got 'lenet5'"):
        lottery.run_lottery(tiny(model="lenet5"), tmp_path / "b", progress=False)
    with pytest.raises(KeyError, match=r"\['9.weight'\] are not prunable weights"):
        lottery.run_lottery(tiny(layer_rates={"9.weight": 0.0}), tmp_path / "c",
                            progress=False)
    assert not any(tmp_path.iterdir())


def test_paper_rates_give_the_papers_lenet_density_sequence():
    """fc 20% and output 10% a round at full width: docs/papers.md's 100, 80, 64.1, ..., 1.2 %."""
    paper = [100, 80, 64.1, 51.3, 41.1, 32.9, 26.3, 21.1, 16.9, 13.5, 10.8, 8.7, 7.0, 5.6,
             4.5, 3.6, 2.9, 2.3, 1.9, 1.5, 1.2]
    config = LotteryConfig(model="lenet300").resolved(3500)
    model = get_model("lenet300", (1, 28, 28), 10)
    rates, _ = config.layer_rate_map(model)
    assert rates == {"1.weight": 0.2, "3.weight": 0.2, "5.weight": 0.1}
    assert config.rounds == 20 and config.scope == "layer" and config.reset == "init"
    # counts only: round(rate · remaining) per layer, as magnitude_prune removes
    sizes = {"1.weight": 784 * 300, "3.weight": 300 * 100, "5.weight": 100 * 10}
    kept = dict(sizes)
    got = [100.0]
    for _ in range(20):
        kept = {n: k - round(rates[n] * k) for n, k in kept.items()}
        got.append(100 * sum(kept.values()) / sum(sizes.values()))
    assert got == pytest.approx(paper, abs=0.051)


@pytest.mark.parametrize("model, conv, fc, scope", [
    ("conv2", 0.1, 0.2, "layer"), ("conv4", 0.1, 0.2, "layer"), ("conv6", 0.15, 0.2, "layer"),
    ("vgg19", 0.2, 0.0, "global"), ("resnet20", 0.2, 0.0, "global"),
])
def test_paper_rates_for_the_conv_networks(model, conv, fc, scope):
    """Conv-2/4: conv 10%; Conv-6: conv 15%; hidden fc 20%, output at half; VGG and
    ResNet: global 20% over the convolutions, the dense output layer unpruned."""
    config = LotteryConfig(model=model, dataset="cifar10").resolved(45_000)
    net = get_model(model, (3, 32, 32), 10, width=1 / 16)
    rates, fraction = config.layer_rate_map(net)
    assert config.scope == scope
    for name, layer in nn.prunable_layers(net):
        is_conv = layer.params["weight"].ndim == 4
        if is_conv:
            assert rates[name] == conv, name
        elif scope == "layer":
            assert rates[name] == (fc / 2 if name == output_layer(net) else fc), name
        else:
            assert rates[name] == 0.0, name
    assert fraction == pytest.approx(0.2)



def test_a_given_dataset_is_used_instead_of_loading_the_configs(tmp_path):
    """dataset=: every runner trains on the Dataset it is handed (here digits, while the
    config names MNIST files that do not exist) and records its name."""
    from minilottery.data import load_dataset
    from minilottery.experiments.prune_at_init_run import run_prune_at_init
    from minilottery.experiments.stability_run import StabilityOptions, run_stability
    from minilottery.experiments.supermask import run_supermask
    from minilottery.transfer import TransferConfig, run_transfer

    digits = load_dataset("digits")
    config = tiny(dataset="mnist", data_dir=str(tmp_path / "no-such-dir"), rounds=1)
    results = lottery.run_lottery(config, tmp_path / "run", dataset=digits, progress=False)
    assert results["meta"]["dataset"]["name"] == "digits"
    assert results["config"]["dataset"] == "digits"
    stability = run_stability(config, tmp_path / "stab",
                              StabilityOptions(rewind_iterations=(0,), points=3),
                              dataset=digits, progress=False, log=lambda line: None)
    assert stability["meta"]["dataset"] == "digits"
    at_init = run_prune_at_init(tmp_path / "run", ["random"], tmp_path / "pai", dataset=digits,
                                progress=False, log=lambda line: None)
    assert [r["round"] for r in at_init["methods"]["random"]] == [1]
    masks = run_supermask(tmp_path / "run", tmp_path / "sm", dataset=digits, random_seeds=1,
                          log=lambda line: None)
    assert masks["dataset"] == "digits"
    moved = run_transfer(TransferConfig(source=str(tmp_path / "run"), dataset="mnist",
                                        data_dir=str(tmp_path / "no-such-dir")),
                         tmp_path / "transfer", dataset=digits, progress=False)
    assert moved["meta"]["dataset"]["name"] == "digits" and len(moved["rounds"]) == 1
    with pytest.raises(ValueError, match="dataset: got dict"):
        lottery.run_lottery(config, tmp_path / "bad", dataset={"x": 1}, progress=False)
