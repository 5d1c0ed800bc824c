"""Conv2d as im2col plus one matrix product, in the manner of chainer's utils/conv.py.

im2col copies the padded input into a matrix whose columns are the receptive
fields, looping only over the kh x kw kernel offsets (each offset is one
strided slice of the whole batch), so it is pure slicing and runs unchanged on
CuPy. The column matrix is laid out (c·kh·kw, n·out_h·out_w): then the forward
pass and both backward products are each a single large matrix product, and
col2im is a sum of strided slices that needs no scatter-add.

This is the reference a reader learns from. Where it applies (padding <
kernel: every convolution of the model zoo), a faster path computes the
same products (conv_fast.py's ``FastConv``: column matrices built a few
images at a time, on the threads of nn/parallel.py, the padded input cached
instead of the columns, 1x1 kernels as one product, outputs as channels-first
views). For 3x3 kernels at stride 1, a third path does fewer multiplications
(winograd.py's ``WinogradConv``: Winograd F(2x2, 3x3), 2.25x fewer). Each is
an object the layer keeps in ``engines``, owning its caches and buffers.
Which one runs: ``Conv2d.algorithm`` on a layer, else the module flag
``ALGORITHM``, which starts from the environment variable MINILOTTERY_CONV;
each is "auto" (Winograd where it applies and measured faster, see
``winograd.pays``; else the fast path where it applies; else the reference),
"fast" (the fast path where it applies, never Winograd), "winograd" (Winograd
wherever it applies, else as "fast") or "reference". ``Conv2d.path`` says
which path the last forward took.
"""

from __future__ import annotations

import os

import numpy as np

from .columns import add_columns, columns, pad_cnhw
from .conv_fast import FastConv
from .init import as_generator, draw
from .module import Module
from .winograd import WinogradConv

ALGORITHMS = ("auto", "fast", "winograd", "reference")
ALGORITHM = os.environ.get("MINILOTTERY_CONV", "auto")


def pair(value, name: str) -> tuple[int, int]:
    """(a, b) from an int or a pair of ints; a clear error otherwise."""
    if isinstance(value, (int, np.integer)):
        return int(value), int(value)
    if isinstance(value, (tuple, list)) and len(value) == 2:
        return int(value[0]), int(value[1])
    raise ValueError(f"{name}: got {value!r}, expected an int or a pair of ints")


def conv_output_size(size: int, kernel: int, stride: int, padding: int) -> int:
    """Output length of a convolution or pooling along one axis (floor mode)."""
    return (size + 2 * padding - kernel) // stride + 1


def im2col(xp, x, kernel: tuple[int, int], stride: tuple[int, int],
           padding: tuple[int, int]):
    """x (n, c, h, w) -> col (c·kh·kw, n·out_h·out_w): pad, then one strided slice per
    kernel offset (columns.py).

    col[(ci, i, j), (b, y, z)] = x_padded[b, ci, y·sh + i, z·sw + j]
    """
    n, c, h, w = x.shape
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    out_h = conv_output_size(h, kh, sh, ph)
    out_w = conv_output_size(w, kw, sw, pw)
    # n c h w -> c n h w, zero-padded
    padded = pad_cnhw(xp, x.transpose(1, 0, 2, 3), ph, pw)
    return columns(xp, padded, kernel, stride, (out_h, out_w))


def col2im(xp, col, x_shape: tuple[int, int, int, int], kernel: tuple[int, int],
           stride: tuple[int, int], padding: tuple[int, int]):
    """The adjoint of im2col: col (c·kh·kw, n·out_h·out_w) -> dx (n, c, h, w).

    Every receptive field adds its column back where it was read from; fields
    that overlap sum, which the loop over kernel offsets does with plain `+=`.
    The sums go into a zero-padded (c, n, h, w) buffer, the layout of col, and
    dx is returned as a transposed view of its inner part: no copy to drop the
    border or to reorder the axes (the next layer's element-wise pass does it).
    """
    n, c, h, w = x_shape
    (ph, pw) = padding
    padded = xp.zeros((c, n, h + 2 * ph, w + 2 * pw), dtype=col.dtype)
    add_columns(xp, col, padded, kernel, stride)
    # c n h w -> n c h w, as a view
    return padded[:, :, ph:ph + h, pw:pw + w].transpose(1, 0, 2, 3)


class Conv2d(Module):
    """2-D convolution (cross-correlation, as in PyTorch).

    weight: (out_channels, in_channels, kh, kw); bias: (out_channels,).
    forward: x (n, in_channels, h, w) -> y (n, out_channels, out_h, out_w),
    out = (size + 2·padding - kernel) // stride + 1.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size,
        stride=1,
        padding=0,
        bias: bool = True,
        *,
        init: str = "glorot_normal",
        rng: np.random.Generator | int | None = None,
        dtype=np.float32,
        backend=None,
    ):
        super().__init__(backend)
        if in_channels < 1 or out_channels < 1:
            raise ValueError(
                f"Conv2d: in_channels and out_channels must be >= 1, "
                f"got {in_channels} and {out_channels}"
            )
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = pair(kernel_size, "kernel_size")
        self.stride = pair(stride, "stride")
        self.padding = pair(padding, "padding")
        if min(self.kernel_size) < 1 or min(self.stride) < 1 or min(self.padding) < 0:
            raise ValueError(
                f"Conv2d: kernel_size and stride must be >= 1 and padding >= 0, got "
                f"{self.kernel_size}, {self.stride}, {self.padding}"
            )
        self.init, self.dtype, self.has_bias = init, dtype, bias
        self.col = None
        self.algorithm: str | None = None  # None: the module flag ALGORITHM decides
        self.path = "reference"  # the path the last forward took: reference, fast, winograd
        # the other paths, each an object owning its caches and buffers, made on first use
        self.engines: dict[str, FastConv | WinogradConv] = {}
        self.reset_parameters(rng)

    def reset_parameters(self, rng: np.random.Generator | int | None = None) -> None:
        """Draw a fresh weight (on the host, then to the device) and zero the bias."""
        shape = (self.out_channels, self.in_channels, *self.kernel_size)
        self.params["weight"] = self.backend.asarray(
            draw(self.init, shape, as_generator(rng), self.dtype)
        )
        if self.has_bias:
            self.params["bias"] = self.xp.zeros(self.out_channels, dtype=self.dtype)

    def output_shape(self, input_shape: tuple[int, int, int]) -> tuple[int, int, int]:
        """(c, h, w) -> (out_channels, out_h, out_w) for one example."""
        _, h, w = input_shape
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        return (self.out_channels, conv_output_size(h, kh, sh, ph),
                conv_output_size(w, kw, sw, pw))

    def forward(self, x):
        xp = self.xp
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"Conv2d.forward: x has shape {tuple(x.shape)}, "
                f"expected (n, {self.in_channels}, h, w)"
            )
        n = x.shape[0]
        o, out_h, out_w = self.output_shape(x.shape[1:])
        if out_h < 1 or out_w < 1:
            raise ValueError(
                f"Conv2d.forward: input {tuple(x.shape[2:])} is smaller than the kernel "
                f"{self.kernel_size} with padding {self.padding}"
            )
        self.path = self._choose_path(out_h, out_w)
        if self.path != "reference":
            self.col = None
            return self.engine(self.path).forward(x)
        self.x_shape = x.shape
        # col: (c kh kw, n out_h out_w). Drop the previous one first (a forward without a
        # backward, as in evaluation, leaves it): two never need to be alive at once.
        self.col = None
        self.col = im2col(xp, x, self.kernel_size, self.stride, self.padding)
        # o (c kh kw), (c kh kw) (n out_h out_w) -> o (n out_h out_w)
        y = self.params["weight"].reshape(o, -1) @ self.col
        out = xp.empty((n, o, out_h, out_w), dtype=y.dtype)
        # o n h w -> n o h w, adding the bias on the way
        y = y.reshape(o, n, out_h, out_w).transpose(1, 0, 2, 3)
        if self.has_bias:
            xp.add(y, self.params["bias"][:, None, None], out=out)
        else:
            out[...] = y
        return out

    def engine(self, path: str):
        """The object that runs ``path`` ("fast" or "winograd") for this layer."""
        if path not in self.engines:
            self.engines[path] = (FastConv if path == "fast" else WinogradConv)(self)
        return self.engines[path]

    @property
    def fast(self) -> bool:
        """Whether the last forward took a path other than the reference."""
        return self.path != "reference"

    def _choose_path(self, out_h: int, out_w: int) -> str:
        """The path of the next forward, for this output size (see the module docstring)."""
        name, choice = (("Conv2d.algorithm", self.algorithm) if self.algorithm is not None
                        else ("MINILOTTERY_CONV / conv.ALGORITHM", ALGORITHM))
        if choice not in ALGORITHMS:
            raise ValueError(f"{name}: got {choice!r}, expected one of {', '.join(ALGORITHMS)}")
        kernel, stride, padding = self.kernel_size, self.stride, self.padding
        if choice == "reference" or not FastConv.applies(kernel, stride, padding):
            return "reference"
        if choice == "fast" or not WinogradConv.applies(kernel, stride, padding):
            return "fast"
        if choice == "winograd" or WinogradConv.pays(self.in_channels, self.out_channels,
                                                     out_h, out_w):
            return "winograd"
        return "fast"

    def backward(self, grad_out, need_input_grad: bool = True):
        if self.path != "reference":
            return self.engine(self.path).backward(grad_out, need_input_grad)
        if self.col is None:
            raise RuntimeError("Conv2d.backward: run forward first (each backward releases "
                               "the column matrix that forward cached)")
        weight = self.params["weight"]
        o = self.out_channels
        # dY: n o h w -> o (n h w), the layout of the forward product
        dy = grad_out.transpose(1, 0, 2, 3).reshape(o, -1)
        # dW = dY · colᵀ        (o (n h w), (n h w) (c kh kw) -> o (c kh kw))
        self.grads["weight"] = (dy @ self.col.T).reshape(weight.shape)
        # The column matrix is this layer's largest array (kh·kw times its input): free it
        # now, before dX needs memory of its own, rather than keep it until the next forward.
        self.col = None
        if self.has_bias:
            # db = Σ_{n,h,w} dY   (n o h w -> o, one pass)
            self.grads["bias"] = self.xp.einsum("nohw->o", grad_out)
        if not need_input_grad:
            return None
        (kh, kw), (ph, pw) = self.kernel_size, self.padding
        if self.stride == (1, 1) and ph < kh and pw < kw:
            return self._input_grad_as_convolution(grad_out)
        # dcol = Wᵀ · dY        ((c kh kw) o, o (n h w) -> (c kh kw) (n h w))
        dcol = weight.reshape(o, -1).T @ dy
        return col2im(self.xp, dcol, self.x_shape, self.kernel_size, self.stride, self.padding)

    def _input_grad_as_convolution(self, grad_out):
        """dX for stride 1: the convolution of dY, padded by k - 1 - p, with the flipped kernel.

        dX[n, c, u, v] = Σ_{o,i,j} W[o, c, i, j] · dY[n, o, u + p - i, v + p - j], which is
        a forward convolution of dY with W'[c, o, i, j] = W[o, c, kh-1-i, kw-1-j]. Its
        column matrix is as large as dY's receptive fields, and one product gives dX:
        no (c kh kw) x (n h w) gradient to scatter back with col2im.
        """
        (kh, kw), (ph, pw) = self.kernel_size, self.padding
        n, c, h, w = self.x_shape
        # col of dY: (o kh kw, n h w)
        dy_col = im2col(self.xp, grad_out, self.kernel_size, (1, 1), (kh - 1 - ph, kw - 1 - pw))
        # W': o c kh kw -> c o kh kw, flipped in both spatial axes
        flipped = self.params["weight"][:, :, ::-1, ::-1].transpose(1, 0, 2, 3).reshape(c, -1)
        # dX = W' · col(dY)      (c (o kh kw), (o kh kw) (n h w) -> c (n h w))
        dx = flipped @ dy_col
        # c n h w -> n c h w, as a view
        return dx.reshape(c, n, h, w).transpose(1, 0, 2, 3)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, bias={self.has_bias}")
