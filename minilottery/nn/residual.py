"""Residual blocks for ResNet-20 (basic) and ResNet-50 (bottleneck).

y = relu(F(x) + shortcut(x)); the shortcut is the identity, or a 1x1
convolution with batch norm (a projection) where the shape changes. The
backward pass sends dY through both branches and adds what comes back.
"""

from __future__ import annotations

from . import parallel
from .activation import ReLU
from .container import Sequential
from .conv import Conv2d
from .module import Module
from .normalization import BatchNorm2d


def _projection(in_channels, out_channels, stride, rng, init, backend):
    """The shortcut where shapes differ: 1x1 conv (strided) then batch norm."""
    if stride == 1 and in_channels == out_channels:
        return None
    return Sequential(
        Conv2d(in_channels, out_channels, 1, stride=stride, bias=False, init=init, rng=rng,
               backend=backend),
        BatchNorm2d(out_channels, backend=backend),
    )


class _Residual(Module):
    """Shared wiring: subclasses set ``branch`` (the layers of F, in order) and ``shortcut``."""

    branch: list[Module]
    shortcut: Module | None

    def forward(self, x):
        out = x
        for layer in self.branch:
            out = layer.forward(out)
        identity = x if self.shortcut is None else self.shortcut.forward(x)
        return self.relu_out.forward(self._add(out, identity))

    def _add(self, a, b):
        """a + b (n, c, h, w), into a new array in a's memory order, by chunks on the pool."""
        xp = self.xp
        total = xp.empty_like(a)
        parallel.over_images(xp, a, lambda i, j: xp.add(a[i:j], b[i:j], out=total[i:j]))
        return total

    def backward(self, grad_out, need_input_grad: bool = True):
        grad_sum = self.relu_out.backward(grad_out)
        grad = grad_sum
        for layer in reversed(self.branch):
            grad = layer.backward(grad)
        # d(F(x) + s(x)) / dx = dF + ds: the two branches add
        grad_identity = grad_sum if self.shortcut is None else self.shortcut.backward(grad_sum)
        return self._add(grad, grad_identity)


class BasicBlock(_Residual):
    """Two 3x3 convolutions with batch norm: the block of ResNet-18/20.

    x (n, in_channels, h, w) -> y (n, out_channels, h / stride, w / stride).
    """

    expansion = 1

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, *, rng=None,
                 init: str = "kaiming_normal", backend=None):
        super().__init__(backend)
        self.conv1 = Conv2d(in_channels, out_channels, 3, stride=stride, padding=1,
                            bias=False, init=init, rng=rng, backend=backend)
        self.bn1 = BatchNorm2d(out_channels, backend=backend)
        self.relu1 = ReLU(backend=backend)
        self.conv2 = Conv2d(out_channels, out_channels, 3, padding=1, bias=False, init=init,
                            rng=rng, backend=backend)
        self.bn2 = BatchNorm2d(out_channels, backend=backend)
        self.shortcut = _projection(in_channels, out_channels, stride, rng, init, backend)
        self.relu_out = ReLU(backend=backend)
        self.branch = [self.conv1, self.bn1, self.relu1, self.conv2, self.bn2]


class Bottleneck(_Residual):
    """1x1 reduce, 3x3 (strided), 1x1 expand by 4: the block of ResNet-50.

    x (n, in_channels, h, w) -> y (n, 4·width, h / stride, w / stride). The
    stride sits on the 3x3 convolution (torchvision's "ResNet v1.5").
    """

    expansion = 4

    def __init__(self, in_channels: int, width: int, stride: int = 1, *, rng=None,
                 init: str = "kaiming_normal", backend=None):
        super().__init__(backend)
        out_channels = width * self.expansion
        self.conv1 = Conv2d(in_channels, width, 1, bias=False, init=init, rng=rng,
                            backend=backend)
        self.bn1 = BatchNorm2d(width, backend=backend)
        self.relu1 = ReLU(backend=backend)
        self.conv2 = Conv2d(width, width, 3, stride=stride, padding=1, bias=False, init=init,
                            rng=rng, backend=backend)
        self.bn2 = BatchNorm2d(width, backend=backend)
        self.relu2 = ReLU(backend=backend)
        self.conv3 = Conv2d(width, out_channels, 1, bias=False, init=init, rng=rng,
                            backend=backend)
        self.bn3 = BatchNorm2d(out_channels, backend=backend)
        self.shortcut = _projection(in_channels, out_channels, stride, rng, init, backend)
        self.relu_out = ReLU(backend=backend)
        self.branch = [self.conv1, self.bn1, self.relu1, self.conv2, self.bn2, self.relu2,
                       self.conv3, self.bn3]
