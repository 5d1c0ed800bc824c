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
    macs = sum(c.macs for c in costs)
    sparse = sum(c.sparse_macs for c in costs)
    weights, kept = sum(c.weights for c in costs), sum(c.kept for c in costs)
    return {
        "inference_flops": 2 * macs,
        "inference_flops_sparse": 2 * sparse,
        "training_flops_per_example": 2 * TRAINING_MULTIPLIER * macs,
        "training_flops_per_example_sparse": 2 * TRAINING_MULTIPLIER * sparse,
        "weights": weights,
        "kept_weights": kept,
        "compression": weights / kept if kept else float("inf"),
    }


def training_flops(cost: Mapping[str, float], iterations: int, batch_size: int,
                   sparse: bool = True) -> float:
    """FLOPs of ``iterations`` steps of ``batch_size`` examples at ``cost``'s density."""
    key = "training_flops_per_example_sparse" if sparse else "training_flops_per_example"
    return float(cost[key]) * iterations * batch_size
