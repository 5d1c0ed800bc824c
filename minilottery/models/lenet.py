"""LeNet-300-100: the fully-connected network of the LTH paper's MNIST experiments."""

from __future__ import annotations

import numpy as np

from .. import nn
from .common import scaled


def lenet300(input_shape, num_classes: int, width: float, rng: np.random.Generator,
             dropout: float = 0.0, backend=None) -> nn.Sequential:
    """Flatten -> 300 -> ReLU -> 100 -> ReLU -> num_classes, Gaussian Glorot init.

    At 784 inputs and width 1: 784·300 + 300·100 + 100·10 = 266,200 weights,
    as in the paper. Parameters are "1.weight", "3.weight", "5.weight" (+ biases),
    and with dropout "1", "4", "7".
    """
    in_features = int(np.prod(input_shape))
    hidden = [scaled(300, width), scaled(100, width)]
    layers: list[nn.Module] = [nn.Flatten(backend=backend)]
    for size in hidden:
        layers += [nn.Linear(in_features, size, rng=rng, backend=backend),
                   nn.ReLU(backend=backend)]
        if dropout:
            layers.append(nn.Dropout(dropout, backend=backend))
        in_features = size
    layers.append(nn.Linear(in_features, num_classes, rng=rng, backend=backend))
    return nn.Sequential(*layers)
