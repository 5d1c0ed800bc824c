"""Pooling: MaxPool2d, AvgPool2d (windows over h and w) and GlobalAvgPool2d.

Windows are never copied: for each kernel offset (i, j), the values
x[.., y·s + i, z·s + j] of all windows form one strided view of x, so both
passes loop over the kh·kw offsets only (chainer's im2col idea, without the
column matrix), and the backward passes need no scatter-add.
"""

from __future__ import annotations

from . import parallel
from .conv import conv_output_size, pair
from .module import Module


def offset_views(x, kernel, stride, out_h: int, out_w: int) -> list:
    """For each kernel offset (i, j), in row-major order, the view x[.., i + s·y, j + s·z].

    x (n, c, h, w) -> kh·kw views of shape (n, c, out_h, out_w), no copies.
    """
    (kh, kw), (sh, sw) = kernel, stride
    return [x[:, :, i:i + sh * out_h:sh, j:j + sw * out_w:sw]
            for i in range(kh) for j in range(kw)]


def channels_first(x) -> bool:
    """Whether x (n, c, h, w) is a view of a (c, n, h, w) array: a convolution's output."""
    return x.ndim == 4 and not x.flags.c_contiguous and x.transpose(1, 0, 2, 3).flags.c_contiguous


def empty_nchw(xp, shape, dtype, first: bool):
    """An uninitialised (n, c, h, w) array, channels first underneath when ``first``."""
    if not first:
        return xp.empty(shape, dtype=dtype)
    n, c, h, w = shape
    return xp.empty((c, n, h, w), dtype=dtype).transpose(1, 0, 2, 3)


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
    first maximum of each window, as in PyTorch. Each kernel offset (i, j) is one
    strided view of x (``offset_views``), so both passes loop over the kh·kw
    offsets only, with whole-batch element-wise operations and no copy of x.
    """

    def forward(self, x):
        out_h, out_w = self._output_hw(x)
        xp = self.xp
        n, c = x.shape[:2]
        # y in x's memory order: after a convolution, channels first, as the next one reads
        self.channels_first = channels_first(x)
        y = empty_nchw(xp, (n, c, out_h, out_w), x.dtype, self.channels_first)
        # the index of the offset holding the maximum, in the smallest integer type that
        # holds kh·kw (uint8 up to 255 offsets)
        offsets = self.kernel_size[0] * self.kernel_size[1]
        self.argmax = empty_nchw(xp, y.shape, xp.min_scalar_type(offsets), self.channels_first)
        parallel.over_images(xp, x, lambda a, b: self._forward(x[a:b], y[a:b],
                                                               self.argmax[a:b]))
        self.x_shape = x.shape
        return y

    def _forward(self, x, y, argmax) -> None:
        """y and argmax of the images x (b, c, h, w), written into y and argmax."""
        xp = self.xp
        views = offset_views(x, self.kernel_size, self.stride, *y.shape[2:])
        # y = max over offsets of x[.., y·s + i, z·s + j]
        y[...] = views[0]
        for view in views[1:]:
            xp.maximum(y, view, out=y)
        # The index of the first offset holding the maximum, without an argmax over a
        # copied window axis: `found` turns true at the first maximum and stays true,
        # so summing it over offsets 0..K-2 counts K-1-first.
        found = xp.zeros_like(y, dtype=bool)
        hit = xp.empty_like(y, dtype=bool)
        argmax[...] = 0
        for view in views[:-1]:
            xp.equal(view, y, out=hit)
            xp.logical_or(found, hit, out=found)
            argmax += found
        xp.subtract(argmax.dtype.type(len(views) - 1), argmax, out=argmax)

    def backward(self, grad_out, need_input_grad: bool = True):
        # dX in x's memory order (channels first after a convolution, as its backward reads)
        dx = empty_nchw(self.xp, self.x_shape, grad_out.dtype, self.channels_first)
        parallel.over_images(self.xp, grad_out, lambda a, b: self._backward(
            grad_out[a:b], self.argmax[a:b], dx[a:b]))
        return dx

    def _backward(self, grad_out, argmax, dx) -> None:
        """dX of the images of grad_out (b, c, out_h, out_w), written into dx."""
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        out_h, out_w = grad_out.shape[2:]
        overlapping = sh < kh or sw < kw
        tiled = (sh, sw) == (kh, kw) and (out_h * sh, out_w * sw) == tuple(dx.shape[2:])
        if not tiled:
            dx[...] = 0  # windows that overlap add up; pixels that no window reads stay 0
        for k, view in enumerate(offset_views(dx, self.kernel_size, self.stride, out_h, out_w)):
            # dX[.., y·s + i, z·s + j] gets dY where offset (i, j) held the maximum;
            # overlapping windows can share an input pixel, so their gradients add
            if overlapping:
                view += grad_out * (argmax == k)
            else:
                self.xp.multiply(grad_out, argmax == k, out=view)


class AvgPool2d(_Pool2d):
    """Mean over each kh x kw window (floor mode, no padding).

    forward: x (n, c, h, w) -> y (n, c, out_h, out_w).
    """

    def forward(self, x):
        out_h, out_w = self._output_hw(x)
        self.x_shape = x.shape
        views = offset_views(x, self.kernel_size, self.stride, out_h, out_w)
        # y = Σ over offsets of x[.., y·s + i, z·s + j] / (kh kw)
        y = views[0].copy()
        for view in views[1:]:
            y += view
        y /= len(views)
        return y

    def backward(self, grad_out, need_input_grad: bool = True):
        out_h, out_w = grad_out.shape[2:]
        dx = self.xp.zeros(self.x_shape, dtype=grad_out.dtype)
        share = grad_out / (self.kernel_size[0] * self.kernel_size[1])
        # Each kernel offset (i, j) is one strided slice: dx[.., y·s + i, z·s + j] += dY / (kh kw)
        for view in offset_views(dx, self.kernel_size, self.stride, out_h, out_w):
            view += share
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
