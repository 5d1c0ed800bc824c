"""Pooling: MaxPool2d, AvgPool2d (windows over h and w) and GlobalAvgPool2d.

Windows are strided views of the input (no copy until a reduction needs one);
backward passes loop only over kernel offsets or scatter by flat index.
"""

from __future__ import annotations

from .conv import conv_output_size, pair
from .module import Module


class _Pool2d(Module):
    def __init__(self, kernel_size, stride=None, *, backend=None):
        super().__init__(backend)
        self.kernel_size = pair(kernel_size, "kernel_size")
        self.stride = self.kernel_size if stride is None else pair(stride, "stride")
        if min(self.kernel_size) < 1 or min(self.stride) < 1:
            raise ValueError(
                f"{type(self).__name__}: kernel_size and stride must be >= 1, "
                f"got {self.kernel_size} and {self.stride}"
            )

    def _output_hw(self, x) -> tuple[int, int]:
        if x.ndim != 4:
            raise ValueError(
                f"{type(self).__name__}.forward: x has shape {tuple(x.shape)}, "
                "expected (n, c, h, w)"
            )
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        out_h = conv_output_size(x.shape[2], kh, sh, 0)
        out_w = conv_output_size(x.shape[3], kw, sw, 0)
        if out_h < 1 or out_w < 1:
            raise ValueError(
                f"{type(self).__name__}.forward: input {tuple(x.shape[2:])} is smaller "
                f"than the kernel {self.kernel_size}"
            )
        return out_h, out_w

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}"


class MaxPool2d(_Pool2d):
    """Max over each kh x kw window (floor mode, no padding).

    forward: x (n, c, h, w) -> y (n, c, out_h, out_w). The gradient goes to the
    first maximum of each window, as in PyTorch.
    """

    def forward(self, x):
        n, c = x.shape[:2]
        out_h, out_w = self._output_hw(x)
        (kh, kw) = self.kernel_size
        windows = self.backend.sliding_windows(x, self.kernel_size, self.stride)
        # n c oh ow kh kw -> n c oh ow (kh kw): one copy, so argmax can see a flat window
        flat = windows[:, :, :out_h, :out_w].reshape(n, c, out_h, out_w, kh * kw)
        self.argmax = flat.argmax(axis=-1)
        self.x_shape = x.shape
        return flat.max(axis=-1)

    def backward(self, grad_out, need_input_grad: bool = True):
        xp = self.xp
        n, c, h, w = self.x_shape
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        out_h, out_w = self.argmax.shape[2:]
        # Where each window's maximum sits in the input, as a flat index into x
        rows = (xp.arange(out_h) * sh)[:, None] + self.argmax // kw
        cols = (xp.arange(out_w) * sw)[None, :] + self.argmax % kw
        plane = xp.arange(n * c).reshape(n, c, 1, 1)
        index = ((plane * h + rows) * w + cols).ravel()
        dx = xp.zeros(n * c * h * w, dtype=grad_out.dtype)
        if sh >= kh and sw >= kw:
            # Windows do not overlap: every index is distinct, plain assignment
            dx[index] = grad_out.ravel()
        else:
            # Overlapping windows can share a maximum: gradients must add up
            self.backend.scatter_add(dx, index, grad_out.ravel())
        return dx.reshape(self.x_shape)


class AvgPool2d(_Pool2d):
    """Mean over each kh x kw window (floor mode, no padding).

    forward: x (n, c, h, w) -> y (n, c, out_h, out_w).
    """

    def forward(self, x):
        out_h, out_w = self._output_hw(x)
        self.x_shape = x.shape
        windows = self.backend.sliding_windows(x, self.kernel_size, self.stride)
        return windows[:, :, :out_h, :out_w].mean(axis=(-2, -1))

    def backward(self, grad_out, need_input_grad: bool = True):
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        out_h, out_w = grad_out.shape[2:]
        dx = self.xp.zeros(self.x_shape, dtype=grad_out.dtype)
        share = grad_out / (kh * kw)
        # Each kernel offset (i, j) is one strided slice: dx[.., y·s + i, z·s + j] += dY / (kh kw)
        for i in range(kh):
            for j in range(kw):
                dx[:, :, i:i + sh * out_h:sh, j:j + sw * out_w:sw] += share
        return dx


class GlobalAvgPool2d(Module):
    """Mean over all of h and w: x (n, c, h, w) -> y (n, c)."""

    def forward(self, x):
        if x.ndim != 4:
            raise ValueError(
                f"GlobalAvgPool2d.forward: x has shape {tuple(x.shape)}, expected (n, c, h, w)"
            )
        self.x_shape = x.shape
        return x.mean(axis=(2, 3))

    def backward(self, grad_out, need_input_grad: bool = True):
        h, w = self.x_shape[2:]
        dx = self.xp.empty(self.x_shape, dtype=grad_out.dtype)
        # dX[n, c, :, :] = dY[n, c] / (h w)
        dx[...] = (grad_out / (h * w))[:, :, None, None]
        return dx
