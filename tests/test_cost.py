"""Cost of a network (minilottery.cost): hand counts of dense nets, and d of the MACs at d."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from minilottery.cost import layer_costs, network_cost, training_flops
from minilottery.models import get_model
from minilottery.nn import Conv2d, Flatten, Linear, ReLU, Sequential
from minilottery.prune import magnitude_prune


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
