"""Conv-2, Conv-4 and Conv-6: the LTH paper's VGG-like networks for CIFAR-10.

Pairs of 3x3 "same" convolutions (64, then 128, then 256 channels), each pair
followed by 2x2 max pooling, then fully-connected 256 -> 256 -> classes.
Gaussian Glorot init, as in the paper.

Weights (Linear and Conv2d) at width 1 on 32x32x3 input: Conv-2 4,300,992
(paper 4.3M), Conv-4 2,425,024 (paper 2.4M), Conv-6 2,261,184. The paper's
table gives 1.7M for Conv-6; that figure does not follow from its own
architecture with "same" padding (the first dense layer alone has
4·4·256·256 = 1,048,576 weights), so we build the architecture as described
and count 2.26M.
"""

from __future__ import annotations

import numpy as np

from .. import nn
from .common import check_input_shape, scaled

STAGES = (64, 128, 256)


def convnet(depth: int, input_shape, num_classes: int, width: float,
            rng: np.random.Generator, dropout: float = 0.0, backend=None) -> nn.Sequential:
    """Conv-``depth`` (2, 4 or 6): ``depth // 2`` stages of conv-conv-pool, then the dense head.

    Parameters are named "features.0.weight" ... and "classifier.1.weight" ...;
    ``dropout`` > 0 puts Dropout(p) after each hidden dense layer (the paper's
    dropout experiments).
    """
    if depth not in (2, 4, 6):
        raise ValueError(f"depth: got {depth}, expected 2, 4 or 6")
    stages = depth // 2
    c, h, w = check_input_shape(f"conv{depth}", input_shape, min_size=2**stages)
    features: list[nn.Module] = []
    for stage in range(stages):
        out = scaled(STAGES[stage], width)
        for _ in range(2):
            features += [nn.Conv2d(c, out, 3, padding=1, rng=rng, backend=backend),
                         nn.ReLU(backend=backend)]
            c = out
        features.append(nn.MaxPool2d(2, backend=backend))
        h, w = h // 2, w // 2
    hidden = scaled(256, width)
    classifier: list[nn.Module] = [nn.Flatten(backend=backend)]
    in_features = c * h * w
    for _ in range(2):
        classifier += [nn.Linear(in_features, hidden, rng=rng, backend=backend),
                       nn.ReLU(backend=backend)]
        if dropout:
            classifier.append(nn.Dropout(dropout, backend=backend))
        in_features = hidden
    classifier.append(nn.Linear(in_features, num_classes, rng=rng, backend=backend))
    return nn.Sequential({"features": nn.Sequential(*features),
                          "classifier": nn.Sequential(*classifier)})
