"""What a sparse network costs: multiply-adds, FLOPs, parameters and compression.

Reported FLOPs of one network differ up to 4x across papers (Blalock et al.
2020, arXiv 2003.03033) because each counts differently, so the convention
is written here once and every figure of ours uses it:

- only the products of Linear and Conv2d layers are counted, as
  multiply-adds (MACs): a Linear layer does in x out of them per example, a
  Conv2d out_h x out_w x out_channels x in_channels x kh x kw. Biases,
  batch norm, activations, pooling and the loss are left out (together
  under 1% of LeNet-300-100 and of the conv nets here);
- FLOPs = 2 x MACs (a multiply and an add);
- dense-equivalent: every weight counted; sparse: a layer at density d
  counts d of its MACs (zeros skipped, as a sparse kernel would);
- a training step costs 3x the forward pass (the forward product, the
  input gradient and the weight gradient, each as many MACs; zeros skipped
  in all three for the sparse count), per example.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from .nn import Conv2d, Linear, Module
from .nn.prunable import prunable_layers

TRAINING_MULTIPLIER = 3  # forward, input gradient, weight gradient


@dataclass(frozen=True)
class LayerCost:
    """One prunable layer: its weights and its multiply-adds per example."""

    name: str
    weights: int
    kept: int
    macs: int  # dense, per example

    @property
    def density(self) -> float:
        return self.kept / self.weights

    @property
    def sparse_macs(self) -> float:
        return self.macs * self.density


def layer_macs(layer: Module, input_shape: tuple[int, ...]) -> int:
    """Multiply-adds of one Linear or Conv2d for one example of ``input_shape`` (no batch)."""
    if isinstance(layer, Linear):
        return layer.in_features * layer.out_features
    if isinstance(layer, Conv2d):
        channels, out_h, out_w = layer.output_shape(input_shape)
        kh, kw = layer.kernel_size
        return out_h * out_w * channels * layer.in_channels * kh * kw
    raise TypeError(f"layer: got {type(layer).__name__}, expected Linear or Conv2d")


def input_shapes(model: Module, layers, input_shape) -> dict[int, tuple[int, ...]]:
    """id(layer) -> the shape of one example entering it, for each of ``layers`` (one
    forward pass of a zero example in evaluation mode; weights and mode left as they were)."""
    seen = {}
    for layer in layers:
        def record(x, _layer=layer, _forward=layer.forward):
            seen[id(_layer)] = tuple(x.shape[1:])
            return _forward(x)

        layer.forward = record
    was_training = model.training
    try:
        model.eval()
        model.forward(model.xp.zeros((1, *input_shape), dtype=np.float32))
    finally:
        model.train(was_training)
        for layer in layers:
            del layer.forward  # the class's forward again
    return seen


def layer_costs(model: Module, input_shape: tuple[int, ...],
                masks: Mapping[str, object] | None = None) -> list[LayerCost]:
    """Every prunable layer's weights, kept weights and MACs, in forward order.

    input_shape: one example's (C, H, W) (or (features,)). The spatial size
    each layer sees is found by one forward pass of a single zero example in
    evaluation mode; the model's weights and mode are left as they were.
    masks: name -> boolean array (None: dense).
    """
    layers = prunable_layers(model)
    shapes = input_shapes(model, [layer for _, layer in layers], input_shape)
    seen = {name: shapes[id(layer)] for name, layer in layers}
    out = []
    for name, layer in layers:
        weights = int(np.prod(layer.params["weight"].shape))
        kept = weights if masks is None or name not in masks else int(
            model.backend.to_numpy(masks[name]).sum())
        out.append(LayerCost(name, weights, kept, layer_macs(layer, seen[name])))
    return out


def network_cost(model: Module, input_shape: tuple[int, ...],
                 masks: Mapping[str, object] | None = None) -> dict[str, float]:
    """The costs a round records, per example (see the module's doc for the convention):
    inference FLOPs dense and sparse, training FLOPs per example-step dense and sparse,
    prunable weights, kept weights and compression (total / kept)."""
    costs = layer_costs(model, input_shape, masks)
    table = {c.name: {"weights": c.weights, "macs": c.macs} for c in costs}
    return density_cost(table, {c.name: c.density for c in costs})


def training_flops(cost: Mapping[str, float], iterations: int, batch_size: int,
                   sparse: bool = True) -> float:
    """FLOPs of ``iterations`` steps of ``batch_size`` examples at ``cost``'s density."""
    key = "training_flops_per_example_sparse" if sparse else "training_flops_per_example"
    return float(cost[key]) * iterations * batch_size


# -- the cost of every record of a run ---------------------------------------------------
#
# A lottery run keeps, in its meta, each prunable layer's weights and dense MACs per
# example (``dense_layer_costs``). Every later cost is then a function of a record's
# ``layer_density`` and ``iterations`` alone, so a run stored before costs were recorded
# gets them too (``annotate_costs``) and nothing needs the model again.

def dense_layer_costs(model: Module, input_shape: tuple[int, ...]) -> dict[str, dict]:
    """name -> {"weights", "macs"} of every prunable layer of the dense ``model``."""
    return {c.name: {"weights": c.weights, "macs": c.macs}
            for c in layer_costs(model, input_shape)}


def density_cost(table: Mapping[str, Mapping], layer_density: Mapping[str, float]) -> dict:
    """``network_cost``'s fields for a network whose layer ``name`` keeps the fraction
    ``layer_density[name]`` of its weights (a layer not named is dense)."""
    for name in layer_density:
        if name not in table:
            raise ValueError(f"layer_density: got a layer {name!r}, expected one of "
                             f"{sorted(table)}")
    macs = sum(t["macs"] for t in table.values())
    sparse = sum(t["macs"] * layer_density.get(n, 1.0) for n, t in table.items())
    weights = sum(t["weights"] for t in table.values())
    kept = sum(round(t["weights"] * layer_density.get(n, 1.0)) for n, t in table.items())
    return {
        "inference_flops": 2 * macs,
        "inference_flops_sparse": 2 * sparse,
        "training_flops_per_example": 2 * TRAINING_MULTIPLIER * macs,
        "training_flops_per_example_sparse": 2 * TRAINING_MULTIPLIER * sparse,
        "weights": weights,
        "kept_weights": kept,
        "compression": weights / kept if kept else float("inf"),
    }


def record_cost(table: Mapping[str, Mapping], record: Mapping, batch_size: int,
                search_flops: float) -> dict:
    """What one trained network cost: its inference FLOPs (dense-equivalent and zeros
    skipped), its compression, the FLOPs of its own training (``record["iterations"]``
    steps of ``batch_size``, zeros skipped), ``search_flops`` (the trainings that chose its
    mask) and their sum, ``total_flops``: what the trained network cost to obtain."""
    cost = density_cost(table, record["layer_density"])
    training = training_flops(cost, int(record["iterations"]), batch_size)
    return {"inference_flops": cost["inference_flops"],
            "inference_flops_sparse": cost["inference_flops_sparse"],
            "compression": cost["compression"],
            "training_flops": training,
            "search_flops": float(search_flops),
            "total_flops": float(search_flops) + training}


def annotate_costs(results: dict) -> dict:
    """Add a ``cost`` (``record_cost``) to every round and control of a lottery run's
    ``results``, in place; returns ``results``. Needs ``meta.layer_costs``.

    The search of round r's ticket is the trainings whose weights chose its mask:
    rounds 0 to r - 1 (iterative), round 0 (one-shot). The reinit control has the
    ticket's mask and so its search; the random-prune control's mask is random with the
    ticket's per-layer counts, which cost nothing with layer-wise rates and the ticket's
    search with global pruning (where the counts come from the trained weights).
    """
    table = results["meta"]["layer_costs"]
    config = results["config"]
    batch = int(config["batch_size"])
    rounds = results["rounds"]
    spent = [record_cost(table, r, batch, 0.0)["training_flops"] for r in rounds]

    def search(index: int) -> float:
        if index == 0:
            return 0.0
        return spent[0] if config.get("strategy") == "oneshot" else sum(spent[:index])

    for r in rounds:
        r["cost"] = record_cost(table, r, batch, search(r["round"]))
    for name, records in results.get("controls", {}).items():
        for r in records:
            free = name == "random_prune" and config.get("scope") == "layer"
            r["cost"] = record_cost(table, r, batch, 0.0 if free else search(r["round"]))
    return results
