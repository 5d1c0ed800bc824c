"""Structured pruning: whole channels and units removed, and the smaller network built.

A mask zeroes weights but leaves every product its full size, so a masked
network is no faster and no smaller. Pruning whole output channels of a
convolution (filters) or whole units of a dense layer can make the network
itself smaller: ``compact`` builds it, with the pruned channels gone from
their layer, from the batch norm after it and from the inputs of the next
layer (as Torch-Pruning's dependency graph does for a chain).

A selection ``keep`` maps a prunable layer's weight name to the sorted
indices of the output channels it keeps. The output layer is never pruned
(its outputs are the classes). Two criteria score a channel:

- "l1": the L1 norm of its filter (Li et al. 2017), sum |W[o]|;
- "bn": the magnitude of the scale of the batch norm after it (network
  slimming, Liu et al. 2017); layers without one fall back to "l1".

Scope: chains of layers (Sequential, nested or not: LeNet-300-100, Conv-2/4/6,
VGG-19). A residual block ties the channels of its input and output
together; ``compact`` refuses a model with one rather than guess.

``zero_channels`` is the same network kept at full size: the pruned
channels' filters, biases and batch-norm entries set to zero, so every one of
them outputs exactly zero after its ReLU. The tests hold ``compact`` to it.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping

import numpy as np

from .cost import input_shapes
from .nn import (
    BatchNorm1d,
    BatchNorm2d,
    Conv2d,
    Flatten,
    Linear,
    Module,
    Sequential,
)
from .nn.prunable import prunable_layers

CRITERIA = ("l1", "bn")
_BN = (BatchNorm1d, BatchNorm2d)


def leaves(model: Module, prefix: str = "") -> list[tuple[str, Module, Sequential, int]]:
    """(qualified name, layer, parent, index in parent) of every leaf, in forward order."""
    if not isinstance(model, Sequential):
        raise ValueError(f"structured pruning: {type(model).__name__} is not a chain of "
                         "layers; expected a Sequential model (LeNet, Conv-n, VGG)")
    out = []
    for index, (name, child) in enumerate(model._children.items()):
        qualified = f"{prefix}{name}"
        if isinstance(child, Sequential):
            out += leaves(child, qualified + ".")
        elif any(True for _ in child.named_children()):
            raise ValueError(f"structured pruning: {qualified} ({type(child).__name__}) "
                             "holds layers of its own (a residual block?); only chains of "
                             "layers can be compacted")
        else:
            out.append((qualified, child, model, index))
    return out


def prunable_channels(model: Module) -> list[tuple[str, Module, Module | None]]:
    """(weight name, layer, the batch norm right after it or None) for every Linear and
    Conv2d but the last (the output layer)."""
    chain = leaves(model)
    layers = {id(layer): name for name, layer in prunable_layers(model)}
    out = []
    for position, (_, layer, _, _) in enumerate(chain):
        if id(layer) in layers:
            follower = chain[position + 1][1] if position + 1 < len(chain) else None
            out.append((layers[id(layer)], layer, follower if isinstance(follower, _BN)
                        else None))
    return out[:-1]


def channel_scores(model: Module, criterion: str = "l1") -> dict[str, np.ndarray]:
    """A score per output channel of every prunable layer but the last (higher: kept)."""
    if criterion not in CRITERIA:
        raise ValueError(f"criterion: got {criterion!r}, expected one of {', '.join(CRITERIA)}")
    to_numpy = model.backend.to_numpy
    scores = {}
    for name, layer, bn in prunable_channels(model):
        if criterion == "bn" and bn is not None:
            scores[name] = np.abs(to_numpy(bn.params["weight"])).astype(np.float64)
        else:
            weight = np.abs(to_numpy(layer.params["weight"]).astype(np.float64))
            scores[name] = weight.reshape(weight.shape[0], -1).sum(axis=1)
    return scores


def select_channels(scores: Mapping[str, np.ndarray], fraction: float,
                    keep: Mapping[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """Per layer, remove ``round(fraction * kept)`` of the kept channels, lowest score
    first (ties by index), never the last one; ``keep``: the selection so far."""
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"fraction: got {fraction!r}, expected a fraction in [0, 1)")
    out = {}
    for name, score in scores.items():
        current = np.arange(len(score)) if keep is None else np.asarray(keep[name])
        remove = min(int(round(fraction * len(current))), len(current) - 1)
        order = np.argsort(score[current], kind="stable")
        out[name] = np.sort(current[order[remove:]])
    return out


def compact(model: Module, keep: Mapping[str, np.ndarray], input_shape) -> Module:
    """A new, smaller network: ``model`` with the channels ``keep`` leaves out removed.

    input_shape: one example's shape (C, H, W), to know what a Flatten sees.
    The result has the same layer names; ``model`` is not changed.
    """
    unknown = set(keep) - {name for name, _, _ in prunable_channels(model)}
    if unknown:
        raise ValueError(f"keep: {sorted(unknown)} are not prunable channels of the model "
                         "(the output layer is never pruned)")
    chain = leaves(model)
    shapes = input_shapes(model, [layer for _, layer, _, _ in chain], input_shape)
    small = copy.deepcopy(model)
    names = {id(layer): name for name, layer in prunable_layers(small)}
    backend, to_numpy = small.backend, small.backend.to_numpy
    inputs = None  # the kept indices of the current tensor's channels (None: all)
    for (_, old, _, _), (_, layer, parent, index) in zip(chain, leaves(small), strict=True):
        new = layer
        if isinstance(layer, (Conv2d, Linear)):
            weight = to_numpy(layer.params["weight"])
            outputs = keep.get(names[id(layer)])
            rows = np.arange(weight.shape[0]) if outputs is None else np.asarray(outputs)
            cols = np.arange(weight.shape[1]) if inputs is None else np.asarray(inputs)
            weight = weight[rows][:, cols]
            if isinstance(layer, Conv2d):
                new = Conv2d(len(cols), len(rows), layer.kernel_size, layer.stride,
                             layer.padding, bias=layer.has_bias, dtype=weight.dtype,
                             backend=backend)
            else:
                new = Linear(len(cols), len(rows), bias=layer.has_bias, dtype=weight.dtype,
                             backend=backend)
            new.params["weight"] = backend.asarray(np.ascontiguousarray(weight))
            if layer.has_bias:
                new.params["bias"] = backend.asarray(to_numpy(layer.params["bias"])[rows])
            inputs = None if outputs is None else rows
        elif isinstance(layer, _BN) and inputs is not None:
            new = type(layer)(len(inputs), layer.eps, layer.momentum, backend=backend,
                              dtype=layer.params["weight"].dtype)
            for store in ("params", "buffers"):
                for key, value in getattr(layer, store).items():
                    getattr(new, store)[key] = backend.asarray(to_numpy(value)[inputs])
        elif isinstance(layer, Flatten) and inputs is not None:
            # channel-major features: channel c holds features c*h*w ... (c+1)*h*w - 1
            per_channel = int(np.prod(shapes[id(old)][1:]))
            inputs = (inputs[:, None] * per_channel + np.arange(per_channel)).ravel()
        if new is not layer:
            new.train(layer.training)
            setattr(parent, list(parent._children)[index], new)
            parent.layers[index] = new
    return small


def zero_channels(model: Module, keep: Mapping[str, np.ndarray]) -> None:
    """In place: the removed channels' filters, biases and batch-norm scale and shift set
    to zero, so each outputs exactly zero (after a ReLU, and through a batch norm)."""
    backend = model.backend
    for name, layer, bn in prunable_channels(model):
        if name not in keep:
            continue
        removed = np.setdiff1d(np.arange(layer.params["weight"].shape[0]), keep[name])
        for module, keys in ((layer, ("weight", "bias")), (bn, ("weight", "bias"))):
            if module is None:
                continue
            for key in keys:
                if key in module.params:
                    value = backend.to_numpy(module.params[key]).copy()
                    value[removed] = 0
                    module.params[key] = backend.asarray(value)


def channel_masks(model: Module, keep: Mapping[str, np.ndarray], input_shape) -> dict:
    """The weight masks of a channel selection (host): a removed channel's row of its layer
    and its input columns in the next layer are False (through a Flatten, its h*w features).

    With these masks in force the removed channels contribute nothing, whatever their bias
    and batch norm hold, so ``compact`` of the same selection computes the same outputs:
    structured pruning runs as a scope of IMP on masks, and ends in ``compact``.
    """
    chain = leaves(model)
    shapes = input_shapes(model, [layer for _, layer, _, _ in chain], input_shape)
    names = {id(layer): name for name, layer in prunable_layers(model)}
    masks, inputs = {}, None
    for _, layer, _, _ in chain:
        if isinstance(layer, (Conv2d, Linear)):
            shape = tuple(layer.params["weight"].shape)
            outputs = keep.get(names[id(layer)])
            mask = np.zeros(shape, dtype=bool)
            rows = np.arange(shape[0]) if outputs is None else np.asarray(outputs)
            cols = np.arange(shape[1]) if inputs is None else inputs
            mask[np.ix_(rows, cols)] = True  # every kernel position of a kept (row, col)
            masks[names[id(layer)]] = mask
            inputs = None if outputs is None else np.asarray(outputs)
        elif isinstance(layer, Flatten) and inputs is not None:
            per_channel = int(np.prod(shapes[id(layer)][1:]))
            inputs = (inputs[:, None] * per_channel + np.arange(per_channel)).ravel()
    return masks


def kept_channels(model: Module, masks: Mapping[str, object]) -> dict[str, np.ndarray]:
    """The selection that channel masks encode: per layer, the output channels whose row
    keeps any weight."""
    to_numpy = model.backend.to_numpy
    out = {}
    for name, layer, _ in prunable_channels(model):
        mask = to_numpy(masks[name]).reshape(layer.params["weight"].shape[0], -1)
        out[name] = np.flatnonzero(mask.any(axis=1))
    return out


def channel_prune(model: Module, rates: Mapping[str, float], masks, input_shape,
                  criterion: str = "l1") -> dict:
    """One IMP round of structured pruning: each layer loses round(rate * its kept channels)
    (its rate from ``rates``; the output layer keeps its outputs), lowest score first; the
    channel masks of what is left (host). ``masks`` None: every channel kept so far."""
    scores = channel_scores(model, criterion)
    keep = None if masks is None else kept_channels(model, masks)
    out = {}
    for name, score in scores.items():
        current = np.arange(len(score)) if keep is None else keep[name]
        out[name] = select_channels({name: score}, rates.get(name, 0.0),
                                    {name: current})[name]
    return channel_masks(model, out, input_shape)


def parameter_count(model: Module) -> int:
    """Every parameter of ``model`` (weights, biases, batch-norm scales and shifts)."""
    return sum(int(np.prod(value.shape)) for _, value in model.named_parameters())


def structured_record(model: Module, masks, input_shape) -> dict:
    """What a structured round records: the channels each layer keeps and the parameters of
    the compacted network beside the masked one's."""
    keep = kept_channels(model, masks)
    small = compact(model, keep, input_shape)
    return {"channels": {name: int(len(k)) for name, k in keep.items()},
            "compact_parameters": parameter_count(small),
            "dense_parameters": parameter_count(model)}
