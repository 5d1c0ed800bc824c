"""Cost of a network (minilottery.cost): hand counts of dense nets, and d of the MACs at d."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minilottery.cost import layer_costs, network_cost, training_flops
from minilottery.models import get_model
from minilottery.nn import Conv2d, Flatten, Linear, ReLU, Sequential
from minilottery.prune import magnitude_prune
from minilottery.runs import RunDirectory


def test_a_dense_lenet300_forward_is_the_hand_count():
    model = get_model("lenet300", (1, 28, 28), 10, seed=0)
    cost = network_cost(model, (1, 28, 28))
    macs = 784 * 300 + 300 * 100 + 100 * 10  # 266,200: one MAC per weight
    assert cost["inference_flops"] == cost["inference_flops_sparse"] == 2 * macs
    assert cost["training_flops_per_example"] == 6 * macs
    assert cost["weights"] == cost["kept_weights"] == macs and cost["compression"] == 1.0


def test_a_dense_conv4_forward_is_the_hand_count():
    model = get_model("conv4", (3, 32, 32), 10, seed=0)
    # 3x3 convolutions with "same" padding: 64, 64, pool, 128, 128, pool; then 256, 256, 10
    convs = [32 * 32 * 64 * 3 * 9, 32 * 32 * 64 * 64 * 9,
             16 * 16 * 128 * 64 * 9, 16 * 16 * 128 * 128 * 9]
    dense = [8 * 8 * 128 * 256, 256 * 256, 256 * 10]
    costs = layer_costs(model, (3, 32, 32))
    assert [c.macs for c in costs] == convs + dense
    assert network_cost(model, (3, 32, 32))["inference_flops"] == 2 * sum(convs + dense)


def test_the_count_leaves_the_model_as_it_was():
    model = get_model("lenet300", (1, 28, 28), 10, seed=0)
    before = {k: v.copy() for k, v in model.state_dict().items()}
    model.train()
    layer_costs(model, (1, 28, 28))
    assert model.training
    after = model.state_dict()
    assert all(np.array_equal(before[k], after[k]) for k in before)
    x = model.xp.ones((2, 1, 28, 28), dtype=np.float32)
    assert model.forward(x).shape == (2, 10)  # forward works as before (no recorder left)


@given(st.floats(0.0, 0.95), st.integers(1, 3), st.integers(4, 9))
def test_a_layer_at_density_d_counts_d_of_its_macs(fraction, channels, size):
    model = Sequential(Conv2d(channels, 4, 3, padding=1), ReLU(), Flatten(),
                       Linear(4 * size * size, 5))
    masks = magnitude_prune(model, fraction, scope="layer")
    for cost in layer_costs(model, (channels, size, size), masks):
        kept = int(model.backend.to_numpy(masks[cost.name]).sum())
        assert cost.kept == kept
        assert np.isclose(cost.sparse_macs, cost.macs * kept / cost.weights)
    total = network_cost(model, (channels, size, size), masks)
    assert np.isclose(total["compression"], total["weights"] / total["kept_weights"])
    assert total["inference_flops_sparse"] <= total["inference_flops"]


def test_training_flops_are_steps_times_batch_times_the_step_cost():
    model = get_model("lenet300", (1, 28, 28), 10, seed=0)
    cost = network_cost(model, (1, 28, 28))
    assert training_flops(cost, 100, 60, sparse=False) == 100 * 60 * 6 * 266_200


# -- the cost of every record of a run ---------------------------------------------------

TABLE = {"0.weight": {"weights": 100, "macs": 1000}, "2.weight": {"weights": 10, "macs": 10}}


def record(round_index, d0, d2, iterations=50):
    return {"round": round_index, "layer_density": {"0.weight": d0, "2.weight": d2},
            "iterations": iterations}


def fake_run(strategy="iterative", scope="layer"):
    rounds = [record(0, 1.0, 1.0), record(1, 0.5, 1.0), record(2, 0.25, 0.5)]
    controls = {"reinit": [record(1, 0.5, 1.0), record(2, 0.25, 0.5)],
                "random_prune": [record(1, 0.5, 1.0), record(2, 0.25, 0.5)]}
    return {"config": {"batch_size": 4, "strategy": strategy, "scope": scope},
            "meta": {"layer_costs": TABLE}, "rounds": rounds, "controls": controls}


def test_density_cost_counts_each_layer_at_its_density():
    from minilottery.cost import density_cost

    cost = density_cost(TABLE, {"0.weight": 0.25, "2.weight": 0.5})
    assert cost["inference_flops"] == 2 * 1010
    assert cost["inference_flops_sparse"] == 2 * (250 + 5)
    assert cost["kept_weights"] == 30 and cost["compression"] == 110 / 30
    with pytest.raises(ValueError, match="layer_density: got a layer 'nope'"):
        density_cost(TABLE, {"nope": 1.0})


def test_the_search_of_an_iterative_round_is_every_round_before_it():
    from minilottery.cost import annotate_costs

    results = annotate_costs(fake_run())
    step = [6 * 1010, 6 * (500 + 10), 6 * (250 + 5)]  # training FLOPs per example
    spent = [s * 50 * 4 for s in step]  # x iterations x batch
    rounds = results["rounds"]
    assert [r["cost"]["training_flops"] for r in rounds] == spent
    assert [r["cost"]["search_flops"] for r in rounds] == [0, spent[0], spent[0] + spent[1]]
    assert rounds[2]["cost"]["total_flops"] == sum(spent)
    # reinit: the ticket's mask, so its search; random pruning with layer rates: free
    reinit, random = results["controls"]["reinit"], results["controls"]["random_prune"]
    assert reinit[1]["cost"]["search_flops"] == spent[0] + spent[1]
    assert random[1]["cost"]["search_flops"] == 0
    assert random[1]["cost"]["total_flops"] == spent[2]


def test_a_one_shot_search_is_the_dense_training_and_global_counts_are_not_free():
    from minilottery.cost import annotate_costs

    results = annotate_costs(fake_run(strategy="oneshot", scope="global"))
    dense = 6 * 1010 * 50 * 4
    assert [r["cost"]["search_flops"] for r in results["rounds"]] == [0, dense, dense]
    assert results["controls"]["random_prune"][1]["cost"]["search_flops"] == dense


def test_a_lottery_run_records_the_cost_of_every_round_and_control(tmp_path):
    from minilottery.config import LotteryConfig
    from minilottery.lottery import run_lottery
    from minilottery.tables import cost_table

    config = LotteryConfig(model="lenet300", dataset="digits", width=0.1, iterations=20,
                           eval_every=10, rounds=1, seed=0,
                           controls=("reinit", "random_prune"))
    results = run_lottery(config, tmp_path / "run", progress=False, log=None)
    model = get_model("lenet300", (1, 8, 8), 10, width=0.1, seed=0)
    hand = {name: {"weights": w.size, "macs": w.size}
            for name, w in model.named_parameters() if name.endswith("weight")}
    assert results["meta"]["layer_costs"] == hand
    ticket = results["rounds"][1]
    masks = RunDirectory(tmp_path / "run").load_checkpoint("round_01")["masks"]
    kept = sum(int(m.sum()) for m in masks.values())
    assert ticket["cost"]["inference_flops_sparse"] == pytest.approx(2 * kept)
    assert ticket["cost"]["search_flops"] == results["rounds"][0]["cost"]["training_flops"]
    assert all("cost" in r for rs in results["controls"].values() for r in rs)
    table = cost_table(results)
    assert "total GFLOPs" in table and "reinit total GFLOPs" in table
    stored = RunDirectory(tmp_path / "run").load_results()
    assert stored["rounds"][1]["cost"] == ticket["cost"]
