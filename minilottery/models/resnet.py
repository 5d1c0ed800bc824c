"""ResNet-20 (CIFAR, basic blocks) and ResNet-50 (bottleneck blocks).

Both use the CIFAR stem (one 3x3 convolution, stride 1, no max pool), which
suits the small images this laboratory trains on; ResNet-50's ImageNet stem
(7x7 stride 2 and a max pool) would shrink a 32x32 image to 8x8 before the
first block. Kaiming-normal init, batch norm after every convolution, and
projection shortcuts (1x1 conv + batch norm) where the shape changes.

Weights at width 1 on 32x32x3: ResNet-20 270,256 conv + 640 dense = 270,896
(the LTH paper's table says 274K for its "ResNet-18", the same shape; with
the batch-norm parameters and the output bias ours has 272,474 in all);
ResNet-50 23,447,232 conv + 20,480 dense = 23,467,712 (the ImageNet
ResNet-50's 25.5M parameters include a 2048x1000 dense layer, the 7x7 stem
and the biases and batch-norm parameters).
"""

from __future__ import annotations

import numpy as np

from .. import nn
from .common import check_input_shape, scaled


def _stem(c, out, rng, backend) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c, out, 3, padding=1, bias=False, init="kaiming_normal", rng=rng,
                  backend=backend),
        nn.BatchNorm2d(out, backend=backend),
        nn.ReLU(backend=backend),
    )


def resnet20(input_shape, num_classes: int, width: float, rng: np.random.Generator,
             dropout: float = 0.0, backend=None) -> nn.Sequential:
    """Stem 16, then three stages of three basic blocks (16, 32, 64 channels; strides 1, 2, 2).

    Parameters: "stem.0.weight", "layer1.0.conv1.weight", ..., "fc.weight".
    """
    c, _, _ = check_input_shape("resnet20", input_shape, min_size=4)
    channels = scaled(16, width)
    stages: dict[str, nn.Module] = {"stem": _stem(c, channels, rng, backend)}
    c = channels
    for index, (base, stride) in enumerate(((16, 1), (32, 2), (64, 2)), start=1):
        out = scaled(base, width)
        blocks = []
        for block in range(3):
            blocks.append(nn.BasicBlock(c, out, stride if block == 0 else 1, rng=rng,
                                        backend=backend))
            c = out
        stages[f"layer{index}"] = nn.Sequential(*blocks)
    return _head(stages, c, num_classes, rng, dropout, backend)


def resnet50(input_shape, num_classes: int, width: float, rng: np.random.Generator,
             dropout: float = 0.0, backend=None) -> nn.Sequential:
    """Stem 64, then bottleneck stages [3, 4, 6, 3] of widths 64, 128, 256, 512 (x4 out).

    Parameters: "stem.0.weight", "layer1.0.conv1.weight", "layer1.0.shortcut.0.weight",
    ..., "fc.weight".
    """
    c, _, _ = check_input_shape("resnet50", input_shape, min_size=8)
    channels = scaled(64, width)
    stages: dict[str, nn.Module] = {"stem": _stem(c, channels, rng, backend)}
    c = channels
    plan = ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2))
    for index, (base, count, stride) in enumerate(plan, start=1):
        mid = scaled(base, width)
        blocks = []
        for block in range(count):
            blocks.append(nn.Bottleneck(c, mid, stride if block == 0 else 1, rng=rng,
                                        backend=backend))
            c = mid * nn.Bottleneck.expansion
        stages[f"layer{index}"] = nn.Sequential(*blocks)
    return _head(stages, c, num_classes, rng, dropout, backend)


def _head(stages, c, num_classes, rng, dropout, backend) -> nn.Sequential:
    stages["pool"] = nn.GlobalAvgPool2d(backend=backend)
    if dropout:
        stages["dropout"] = nn.Dropout(dropout, backend=backend)
    stages["fc"] = nn.Linear(c, num_classes, init="kaiming_normal", rng=rng, backend=backend)
    return nn.Sequential(stages)
