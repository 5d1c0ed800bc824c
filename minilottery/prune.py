"""Masks, magnitude pruning (per layer or global) and random pruning.

A mask is a dict from qualified parameter name ("features.0.weight") to a
boolean NumPy array shaped like the weight: True keeps the weight. Only the
weights of Linear and Conv2d layers are prunable. The functions that take a
model also accept masks (and scores) that live on its device: they cross
through the model's backend, never through ``numpy.asarray``.

Magnitude pruning removes a fraction of the weights that are *still
unpruned*, smallest |w| first, so 20% a round leaves 0.8^n after n rounds.
The count removed is exact, round(fraction · remaining), and ties are broken
by position (layer order, then flat index), so a run is deterministic.
Pruning never changes a weight: ``apply_masks`` does that, and also hands the
masks to the model, where every optimizer step keeps them in force.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .checks import check_fraction
from .nn import Conv2d, Linear, Module, prunable_layers

Masks = dict[str, np.ndarray]
SCOPES = ("layer", "global")


def prunable_shapes(model: Module) -> dict[str, tuple[int, ...]]:
    """Name -> shape of every prunable weight, in forward order."""
    return {name: tuple(layer.params["weight"].shape) for name, layer in prunable_layers(model)}


def output_layer(model: Module) -> str:
    """The name of the last Linear weight: the output layer, pruned at half rate in the paper."""
    names = [name for name, layer in prunable_layers(model) if isinstance(layer, Linear)]
    if not names:
        raise ValueError("output_layer: the model has no Linear layer")
    return names[-1]


def ones_masks(model: Module) -> Masks:
    """Masks that keep every prunable weight."""
    return {name: np.ones(shape, dtype=bool) for name, shape in prunable_shapes(model).items()}


def check_masks(model: Module, masks: Mapping[str, np.ndarray]) -> None:
    """Raise a clear error for a mask naming no prunable weight, or of the wrong shape."""
    shapes = prunable_shapes(model)
    for name, mask in masks.items():
        if name not in shapes:
            raise KeyError(
                f"masks: {name!r} is not a prunable weight of this model; "
                f"prunable weights are {', '.join(shapes)}"
            )
        shape = tuple(mask.shape) if hasattr(mask, "shape") else np.shape(mask)
        if shape != shapes[name]:
            raise ValueError(f"masks: {name!r} has shape {shape}, expected {shapes[name]}")


def apply_masks(model: Module, masks: Mapping[str, np.ndarray]) -> None:
    """Zero the pruned weights in place and keep the masks in force from now on.

    The masks are copied to the model's device as ``model.masks``; every
    optimizer step reads them there, so a pruned weight stays exactly zero.
    """
    check_masks(model, masks)
    backend = model.backend
    layers = dict(prunable_layers(model))
    device_masks = {}
    for name, mask in masks.items():
        device_mask = backend.asarray(mask, dtype=bool)  # host or already on the device
        layers[name].params["weight"] *= device_mask
        device_masks[name] = device_mask
    model.masks = device_masks


def density(masks: Mapping[str, np.ndarray]) -> float:
    """Kept / total over all the masked weights."""
    total = sum(int(np.size(m)) for m in masks.values())
    return sum(int(np.count_nonzero(m)) for m in masks.values()) / total if total else 1.0


def layer_density(masks: Mapping[str, np.ndarray]) -> dict[str, float]:
    """Name -> kept / total of each mask."""
    return {name: int(np.count_nonzero(m)) / int(np.size(m)) for name, m in masks.items()}


def layer_rates_for(model: Module, conv_rate: float, fc_rate: float,
                    output_rate: float) -> dict[str, float]:
    """The paper's per-layer rate map: conv layers at ``conv_rate``, hidden dense layers
    at ``fc_rate``, the output layer at ``output_rate`` (half the dense rate, in the paper)."""
    out = output_layer(model)
    rates = {}
    for name, layer in prunable_layers(model):
        if name == out:
            rates[name] = output_rate
        else:
            rates[name] = conv_rate if isinstance(layer, Conv2d) else fc_rate
    return rates


def check_layer_rates(model: Module, layer_rates) -> dict[str, float]:
    """``layer_rates`` (name -> fraction), checked: prunable weights of ``model`` only,
    each a fraction in [0, 1)."""
    names = list(prunable_shapes(model))
    layer_rates = dict(layer_rates or {})
    unknown = sorted(set(layer_rates) - set(names))
    if unknown:
        raise KeyError(f"layer_rates: {unknown} are not prunable weights of this model; "
                       f"prunable weights are {', '.join(names)}")
    for name, rate in layer_rates.items():
        check_fraction(f"layer_rates[{name!r}]", rate)
    return layer_rates


def global_rates(rates: Mapping[str, float], fraction: float) -> dict[str, float]:
    """Global pruning's rate map: every layer with a rate takes part at ``fraction``; a
    layer at 0 stays out."""
    return {name: fraction if rate > 0 else 0.0 for name, rate in rates.items()}


def _resolve_rates(model, fraction, scope, layer_rates) -> dict[str, float]:
    shapes = prunable_shapes(model)
    layer_rates = check_layer_rates(model, layer_rates)
    for name, rate in layer_rates.items():
        if scope == "global" and rate not in (0.0, fraction):
            raise ValueError(
                f"layer_rates[{name!r}]: got {rate} with scope='global', expected 0 (leave "
                f"the layer out) or {fraction}: global pruning ranks all layers together"
            )
    return {name: layer_rates.get(name, fraction) for name in shapes}


def _host_weights(model: Module) -> dict[str, np.ndarray]:
    return {name: model.backend.to_numpy(layer.params["weight"])
            for name, layer in prunable_layers(model)}


def _drop_smallest(scores: np.ndarray, alive: np.ndarray, count: int) -> np.ndarray:
    """A copy of ``alive`` with its ``count`` lowest-scoring True entries set False.

    A stable sort breaks ties by flat index: the earlier weight goes first.
    """
    new = alive.copy()
    if count:
        candidates = np.flatnonzero(alive.ravel())
        order = np.argsort(scores.ravel()[candidates], kind="stable")
        new.ravel()[candidates[order[:count]]] = False
    return new


def prune_by_scores(model: Module, scores: Mapping[str, np.ndarray], fraction: float,
                    scope: str = "layer", masks: Mapping[str, np.ndarray] | None = None,
                    layer_rates: Mapping[str, float] | None = None) -> Masks:
    """New masks removing ``fraction`` of the still-unpruned weights, lowest score first.

    scope="layer": each layer loses round(rate · its remaining) weights, with
    rate = layer_rates.get(name, fraction) (0 leaves a layer unpruned).
    scope="global": round(fraction · remaining) weights go across all layers
    ranked together; layer_rates may only leave layers out (rate 0).
    ``masks`` (None: all ones) is narrowed, never widened; no weight changes.
    """
    fraction = check_fraction("fraction", fraction)
    if scope not in SCOPES:
        raise ValueError(f"scope: got {scope!r}, expected one of {', '.join(SCOPES)}")
    rates = _resolve_rates(model, fraction, scope, layer_rates)
    masks = dict(masks) if masks is not None else ones_masks(model)
    check_masks(model, masks)
    host = model.backend.to_numpy
    new = {name: host(m).astype(bool) for name, m in masks.items()}  # copies
    if scope == "layer":
        for name, rate in rates.items():
            if name in new:
                count = round(rate * int(np.count_nonzero(new[name])))
                new[name] = _drop_smallest(host(scores[name]), new[name], count)
        return new

    # Global: one ranking over every participating layer, in layer order
    names = [name for name, rate in rates.items() if rate > 0 and name in new]
    if not names:
        return new
    alive = np.concatenate([new[n].ravel() for n in names])
    flat_scores = np.concatenate([host(scores[n]).ravel() for n in names])
    kept = _drop_smallest(flat_scores, alive, round(fraction * int(np.count_nonzero(alive))))
    start = 0
    for name in names:
        size = new[name].size
        new[name] = kept[start:start + size].reshape(new[name].shape)
        start += size
    return new


def magnitude_prune(model: Module, fraction: float, scope: str = "layer",
                    masks: Mapping[str, np.ndarray] | None = None,
                    layer_rates: Mapping[str, float] | None = None) -> Masks:
    """New masks removing ``fraction`` of the still-unpruned weights, smallest |w| first.

    The scopes and ``layer_rates`` are those of ``prune_by_scores``. The
    current weights are read but not changed; ``apply_masks`` zeroes them.
    """
    scores = {name: np.abs(w) for name, w in _host_weights(model).items()}
    return prune_by_scores(model, scores, fraction, scope, masks, layer_rates)


def random_prune(model: Module, fraction: float, scope: str = "layer",
                 masks: Mapping[str, np.ndarray] | None = None,
                 layer_rates: Mapping[str, float] | None = None, seed: int = 0) -> Masks:
    """Like magnitude_prune, removing uniformly random unpruned weights in the same counts."""
    rng = np.random.default_rng(seed)
    scores = {name: rng.random(shape) for name, shape in prunable_shapes(model).items()}
    return prune_by_scores(model, scores, fraction, scope, masks, layer_rates)


def compound_rates(rates: Mapping[str, float], rounds: int) -> dict[str, float]:
    """The one-shot rate per layer equal to ``rounds`` iterative rounds: 1 - (1 - r)^n."""
    if rounds < 0:
        raise ValueError(f"rounds: got {rounds}, expected >= 0")
    return {name: 1.0 - (1.0 - rate) ** rounds for name, rate in rates.items()}


def random_masks_like(masks: Mapping[str, np.ndarray], seed: int) -> Masks:
    """Random masks keeping exactly as many weights per layer as ``masks`` do (the control)."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, mask in masks.items():
        kept = int(np.count_nonzero(mask))
        new = np.zeros(np.size(mask), dtype=bool)
        new[rng.choice(np.size(mask), size=kept, replace=False)] = True
        out[name] = new.reshape(np.shape(mask))
    return out
