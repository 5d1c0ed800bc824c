"""get_model: build one of the papers' architectures by name, and describe it."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial

import numpy as np

from .. import nn
from ..nn import prunable_layers
from .convnets import convnet
from .lenet import lenet300
from .resnet import resnet20, resnet50
from .vgg import vgg19

BUILDERS = {
    "lenet300": lenet300,
    "conv2": partial(convnet, 2),
    "conv4": partial(convnet, 4),
    "conv6": partial(convnet, 6),
    "vgg19": vgg19,
    "resnet20": resnet20,
    "resnet50": resnet50,
}
MODEL_NAMES = tuple(BUILDERS)


@dataclass(frozen=True)
class ModelSpec:
    """Everything needed to build the same network again (with another seed, say)."""

    name: str
    input_shape: tuple[int, int, int]
    num_classes: int
    width: float = 1.0
    seed: int = 0
    dropout: float = 0.0


def get_model(name: str, input_shape, num_classes: int, width: float = 1.0, seed: int = 0,
              *, dropout: float = 0.0, backend=None) -> nn.Sequential:
    """Build model ``name`` for inputs of ``input_shape`` (C, H, W) and ``num_classes``.

    ``width`` multiplies every layer's channels or units; ``seed`` fixes the
    initial weights, drawn on the host so every backend starts from the same
    ticket; ``dropout`` > 0 adds Dropout(p) to the dense layers. The model's
    ``spec`` attribute records these arguments.
    """
    if name not in BUILDERS:
        raise ValueError(f"model: got {name!r}, expected one of {', '.join(MODEL_NAMES)}")
    if len(tuple(input_shape)) != 3:
        raise ValueError(f"input_shape: got {tuple(input_shape)!r}, expected (C, H, W)")
    if int(num_classes) < 2:
        raise ValueError(f"num_classes: got {num_classes!r}, expected an int >= 2")
    if not (math.isfinite(width) and width > 0):
        raise ValueError(f"width: got {width!r}, expected a number > 0")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout: got {dropout!r}, expected a probability in [0, 1)")
    spec = ModelSpec(name, tuple(int(d) for d in input_shape), int(num_classes),
                     float(width), int(seed), float(dropout))
    rng = np.random.default_rng(seed)
    model = BUILDERS[name](spec.input_shape, spec.num_classes, spec.width, rng,
                           dropout=spec.dropout, backend=backend)
    # Dropout masks draw from their own stream, so adding dropout changes no initial weight
    dropouts = [m for m in model.modules() if isinstance(m, nn.Dropout)]
    streams = np.random.SeedSequence([seed, 1]).spawn(len(dropouts))
    for module, child in zip(dropouts, streams, strict=True):
        module.reseed(int(child.generate_state(1)[0]))
    model.spec = spec
    return model


def build_like(model: nn.Module, seed: int) -> nn.Sequential:
    """The same architecture as ``model`` (built by get_model) with fresh weights from ``seed``."""
    spec = model.spec
    return get_model(spec.name, spec.input_shape, spec.num_classes, spec.width, seed,
                     dropout=spec.dropout, backend=model.backend)


def count_weights(model: nn.Module) -> int:
    """The number of prunable weights (Linear and Conv2d weights): the papers' "weights"."""
    return sum(int(layer.params["weight"].size) for _, layer in prunable_layers(model))


def summary(model: nn.Module) -> str:
    """A table of every parameter: name, shape, count and whether it can be pruned."""
    prunable = {name for name, _ in prunable_layers(model)}
    rows = [(name, "x".join(map(str, array.shape)), int(array.size), name in prunable)
            for name, array in model.named_parameters()]
    width = max([len(r[0]) for r in rows] + [9])
    lines = [f"{'parameter':<{width}}  {'shape':>14}  {'count':>11}  prunable"]
    lines += [f"{n:<{width}}  {s:>14}  {c:>11,}  {'yes' if p else ''}" for n, s, c, p in rows]
    total = sum(r[2] for r in rows)
    lines.append(f"{'total':<{width}}  {'':>14}  {total:>11,}  {count_weights(model):,} prunable")
    return "\n".join(lines)
