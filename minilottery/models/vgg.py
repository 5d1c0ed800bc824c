"""VGG-19 with batch norm, in the CIFAR form the LTH paper and Morcos et al. use.

Sixteen 3x3 convolutions (2x64, pool, 2x128, pool, 4x256, pool, 4x512, pool,
4x512), each followed by batch norm and ReLU, then global average pooling and
one dense layer to the classes. At width 1 on 32x32x3: 20,018,880 conv weights
+ 5,120 dense = 20,024,000 (paper: 20.0M). Kaiming-normal init.
"""

from __future__ import annotations

import numpy as np

from .. import nn
from .common import check_input_shape, scaled

# Channels per conv layer; "M" is a 2x2 max pool.
VGG19 = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
         512, 512, 512, 512)


def vgg19(input_shape, num_classes: int, width: float, rng: np.random.Generator,
          dropout: float = 0.0, backend=None) -> nn.Sequential:
    """VGG-19-BN; parameters "features.0.weight", "features.1.weight" (BN), ..., "fc.weight".

    Needs H, W >= 16 (four pools). ``dropout`` > 0 puts Dropout before the dense layer.
    """
    c, _, _ = check_input_shape("vgg19", input_shape, min_size=16)
    features: list[nn.Module] = []
    for item in VGG19:
        if item == "M":
            features.append(nn.MaxPool2d(2, backend=backend))
            continue
        out = scaled(item, width)
        features += [nn.Conv2d(c, out, 3, padding=1, bias=False, init="kaiming_normal",
                               rng=rng, backend=backend),
                     nn.BatchNorm2d(out, backend=backend),
                     nn.ReLU(backend=backend)]
        c = out
    head: dict[str, nn.Module] = {"features": nn.Sequential(*features),
                                  "pool": nn.GlobalAvgPool2d(backend=backend)}
    if dropout:
        head["dropout"] = nn.Dropout(dropout, backend=backend)
    head["fc"] = nn.Linear(c, num_classes, init="kaiming_normal", rng=rng, backend=backend)
    return nn.Sequential(head)
