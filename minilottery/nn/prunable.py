"""Which parameters can be pruned: the weights of Linear and Conv2d layers, nothing else.

Biases and batch-norm scales are never pruned. The test is the layer's type,
never its parameter's name: a batch-norm scale is also called "weight".
"""

from __future__ import annotations

from .conv import Conv2d
from .linear import Linear
from .module import Module

PRUNABLE_TYPES = (Linear, Conv2d)


def prunable_layers(model: Module) -> list[tuple[str, Module]]:
    """(qualified weight name, layer) for every Linear and Conv2d, in forward order."""
    return [(f"{name}.weight" if name else "weight", module)
            for name, module in model.named_modules()
            if isinstance(module, PRUNABLE_TYPES)]
