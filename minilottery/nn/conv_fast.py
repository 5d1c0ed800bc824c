"""The fast path of Conv2d: the reference's products, chunk by chunk, on the pool's threads.

The reference (conv.py) builds one column matrix of the whole batch, kh·kw
times its input, writes it to memory and reads it back for a product. This
path keeps the algorithm (im2col over the kh x kw strided slices of
columns.py, one product per pass, the stride-1 input gradient as a
convolution of dY with the flipped kernel) and changes where the data lives:

- the batch is cut into chunks of whole images (CHUNK_BYTES of columns
  each, fixed by the shapes: nn/parallel.py); a chunk pads its images, builds
  their columns in its thread's workspace (reused by every layer and
  iteration) and multiplies them while they are in the cache. The chunks
  run on the pool's threads; a weight gradient is a sum of one partial
  product per chunk, added in the order of the chunks;
- small column matrices (up to KEEP_COLUMNS_BYTES in all) are kept by the
  layer from forward to backward; large ones are rebuilt in the backward
  pass from the padded input that forward keeps (a buffer of the layer's,
  made with zeros and reused between iterations: only its interior is
  written, so its border stays zero);
- the output is an NCHW-shaped view of the (o, n, h, w) product, with no
  transposing copy; the element-wise layers after it keep that memory order,
  so the next convolution's input is channels-first and its padding streams;
  the input gradient is returned the same way;
- 1x1 convolutions need no column matrix: with stride s they read
  x[:, :, ::s, ::s], one product a chunk each way.

It applies wherever padding < kernel (every convolution of the model zoo);
the reference runs the rest. At stride 1 the input gradient is a convolution
of dY with the flipped kernel; at larger strides it is Wᵀ dY put back in
place by ``add_columns`` (col2im), a chunk of images at a time. In evaluation mode
(``training`` False, large batches) it allocates afresh, so neither the
workspace nor the kept buffers grow to the evaluation batch;
``release_workspace()`` frees the workspace. Everything is written against
``xp``, so it runs unchanged on CuPy (as one chunk, never on the pool).
Measurements: docs/speed.md.
"""

from __future__ import annotations

import threading

from . import parallel
from .columns import add_columns, columns, pad_cnhw

_local = threading.local()

# A column matrix up to this size in all is kept by its layer from forward to backward; a
# chunk of a larger one holds about CHUNK_BYTES (at least one image).
KEEP_COLUMNS_BYTES = 4 * 2**20
CHUNK_BYTES = 2 * 2**20


def applies(kernel: tuple[int, int], stride: tuple[int, int], padding: tuple[int, int]) -> bool:
    """True for the convolutions this path computes: padding < kernel on both axes."""
    (kh, kw), (ph, pw) = kernel, padding
    return ph < kh and pw < kw


def workspace(xp, slot: str, shape: tuple[int, ...], dtype):
    """An uninitialised array of ``shape`` from this thread's reusable buffer ``slot``.

    Each slot grows to the largest size asked for and is then reused: its
    contents are whatever the last user left there. Every thread of the pool
    has its own.
    """
    size = 1
    for extent in shape:
        size *= int(extent)
    buffers = getattr(_local, "buffers", None)
    if buffers is None:
        buffers = _local.buffers = {}
    key = (slot, id(xp), str(dtype))
    buffer = buffers.get(key)
    if buffer is None or buffer.size < size:
        buffers[key] = None  # drop the old one before allocating the larger
        buffer = buffers[key] = xp.empty(size, dtype=dtype)
    return buffer[:size].reshape(shape)


def release_workspace() -> None:
    """Free this thread's column and gradient buffers (they are rebuilt on demand)."""
    _local.buffers = {}


def scratch(xp, slot: str, shape, dtype, reuse: bool):
    """An array of ``shape`` from the workspace ``slot`` (``reuse``), else a new one."""
    return workspace(xp, slot, shape, dtype) if reuse else xp.empty(shape, dtype=dtype)


def kept_buffer(kept: dict, name, xp, shape, dtype, zeros: bool = False):
    """``kept[name]`` of this shape and dtype, made afresh (uninitialised, or with ``zeros``)
    when either changed."""
    buffer = kept.get(name)
    if buffer is None or buffer.shape != tuple(shape) or buffer.dtype != dtype:
        kept[name] = None
        buffer = kept[name] = (xp.zeros if zeros else xp.empty)(shape, dtype=dtype)
    return buffer


class FastConv:
    """The fast path of one Conv2d layer; owns what it keeps between its passes.

    forward: x (n, c, h, w) -> y (n, o, out_h, out_w), a view of an (o, n, out_h, out_w)
    array. backward: fills ``layer.grads``, returns dX (n, c, h, w) as a view, or None.
    """

    applies = staticmethod(applies)

    def __init__(self, layer):
        self.layer = layer
        self.kept = {}  # buffers reused between iterations: the padded input, small columns
        self.padded = None  # forward's (padded) input, channels first, for backward
        self.cols = None  # forward's kept column matrices, one per chunk, or None

    def _chunks(self, n: int, per_image: int, macs: int) -> list[tuple[int, int]]:
        return parallel.image_chunks(self.layer.xp, n, per_image, CHUNK_BYTES, macs)

    def forward(self, x):
        layer = self.layer
        xp, weight, o, training = layer.xp, layer.params["weight"], layer.out_channels, \
            layer.training
        n, c, h, w = x.shape
        (kh, kw), (sh, sw), (ph, pw) = layer.kernel_size, layer.stride, layer.padding
        self.x_shape, self.cols = x.shape, None
        x_cnhw = x.transpose(1, 0, 2, 3)  # n c h w -> c n h w, a view
        if (kh, kw) == (1, 1):
            # 1x1: the (strided) input, channels first, is the column matrix itself
            x_cnhw = x_cnhw[:, :, ::sh, ::sw]
            out_h, out_w = x_cnhw.shape[2:]
            copy = not x_cnhw.flags.c_contiguous
            padded = (kept_buffer(self.kept, "x", xp, x_cnhw.shape, x.dtype) if training
                      else xp.empty(x_cnhw.shape, dtype=x.dtype)) if copy else x_cnhw
        else:
            out_h, out_w = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
            shape = (c, n, h + 2 * ph, w + 2 * pw)
            copy = ph > 0 or pw > 0
            # made with zeros and then written only inside: its border stays zero
            padded = (kept_buffer(self.kept, "padded", xp, shape, x.dtype, zeros=True)
                      if training else xp.zeros(shape, dtype=x.dtype)) if copy else x_cnhw
        hw = out_h * out_w
        rows = c * kh * kw
        chunks = self._chunks(n, rows * hw * x.dtype.itemsize, o * rows * hw)
        keep = training and (kh, kw) != (1, 1) and rows * n * hw * x.dtype.itemsize \
            <= KEEP_COLUMNS_BYTES
        if keep:
            self.cols = [kept_buffer(self.kept, ("col", i), xp, (rows, (b - a) * hw), x.dtype)
                         for i, (a, b) in enumerate(chunks)]
        y = xp.empty((o, n * hw), dtype=x.dtype)
        w2 = weight.reshape(o, rows)
        bias = layer.params["bias"][:, None] if layer.has_bias else None

        def chunk(i):
            a, b = chunks[i]
            if (kh, kw) == (1, 1):
                if copy:
                    padded[:, a:b] = x_cnhw[:, a:b]
                col = padded[:, a:b].reshape(c, -1)
            else:
                if copy:
                    pad_cnhw(xp, x_cnhw[:, a:b], ph, pw, padded[:, a:b], zero_border=False)
                out = self.cols[i] if keep else scratch(xp, "col", (rows, (b - a) * hw),
                                                         x.dtype, training)
                col = columns(xp, padded[:, a:b], (kh, kw), (sh, sw), (out_h, out_w), out)
            # o (c kh kw), (c kh kw) (b out_h out_w) -> o (b out_h out_w)
            part = xp.matmul(w2, col, out=y[:, a * hw:b * hw])
            if bias is not None:
                part += bias

        parallel.run(xp, len(chunks), chunk)
        self.padded = padded
        # o n h w -> n o h w, as a view (the next layers keep this memory order)
        return y.reshape(o, n, out_h, out_w).transpose(1, 0, 2, 3)

    def backward(self, grad_out, need_input_grad: bool = True):
        layer = self.layer
        if self.padded is None:
            raise RuntimeError("Conv2d.backward: run forward first (each backward releases "
                               "the padded input that forward cached)")
        xp, weight, o = layer.xp, layer.params["weight"], layer.out_channels
        n, c, h, w = self.x_shape
        (kh, kw), (sh, sw), (ph, pw) = layer.kernel_size, layer.stride, layer.padding
        out_h, out_w = grad_out.shape[2:]
        hw, rows = out_h * out_w, c * kh * kw
        padded, cols, self.padded, self.cols = self.padded, self.cols, None, None
        dy = grad_out.transpose(1, 0, 2, 3)  # n o h w -> o n h w
        copy = not dy.flags.c_contiguous
        d = scratch(xp, "grad", dy.shape, dy.dtype, True) if copy else dy
        chunks = self._chunks(n, rows * hw * dy.dtype.itemsize, o * rows * hw)
        w2 = weight.reshape(o, rows)
        one = (kh, kw) == (1, 1)
        if one:
            dx = xp.empty((c, n, out_h, out_w), dtype=dy.dtype) if need_input_grad else None
            if need_input_grad and (sh, sw) != (1, 1):
                dx_all = xp.empty((c, n, h, w), dtype=dy.dtype)
        elif (sh, sw) == (1, 1):
            # dX = the convolution of dY, padded by k - 1 - p, with W'[c, o, i, j] = W[o, c, -i, -j]
            qh, qw = kh - 1 - ph, kw - 1 - pw
            flipped = weight[:, :, ::-1, ::-1].transpose(1, 0, 2, 3).reshape(c, -1)
            dx = xp.empty((c, n * h * w), dtype=dy.dtype) if need_input_grad else None
        elif need_input_grad:
            # strided: dX = col2im(Wᵀ dY), summed into a padded (c, n, hp, wp) array
            dx_padded = xp.empty((c, n, h + 2 * ph, w + 2 * pw), dtype=dy.dtype)

        def chunk(i):
            a, b = chunks[i]
            if copy:
                d[:, a:b] = dy[:, a:b]
            d_i = d[:, a:b].reshape(o, -1)  # o (b h w)
            # db = Σ_{n,h,w} dY, this chunk's part
            db = d_i.sum(axis=1) if layer.has_bias else None
            if one:
                x_i = padded[:, a:b].reshape(c, -1)
                # dW = dY · Xᵀ          (o (b h w), (b h w) c -> o c), this chunk's part
                dw = d_i @ x_i.T
                if need_input_grad:
                    # dX = Wᵀ · dY      (c o, o (b h w) -> c (b h w))
                    xp.matmul(w2.T, d_i, out=dx[:, a:b].reshape(c, -1))
                    if (sh, sw) != (1, 1):
                        dx_all[:, a:b] = 0
                        dx_all[:, a:b, ::sh, ::sw] = dx[:, a:b]
                return dw, db
            col = cols[i] if cols is not None else columns(
                xp, padded[:, a:b], (kh, kw), (sh, sw), (out_h, out_w),
                scratch(xp, "col", (rows, (b - a) * hw), dy.dtype, True))
            # dW = dY · colᵀ          (o (b h w), (b h w) (c kh kw) -> o (c kh kw)), this part
            dw = d_i @ col.T
            if need_input_grad and (sh, sw) != (1, 1):
                # dcol = Wᵀ · dY        ((c kh kw) o, o (b h w) -> (c kh kw) (b h w))
                dcol = xp.matmul(w2.T, d_i, out=scratch(xp, "col", (rows, (b - a) * hw),
                                                        dy.dtype, True))
                part = dx_padded[:, a:b]
                part[...] = 0
                add_columns(xp, dcol, part, (kh, kw), (sh, sw))
            elif need_input_grad:
                grad_padded = pad_cnhw(xp, dy[:, a:b], qh, qw, scratch(
                    xp, "grad_padded", (o, b - a, out_h + 2 * qh, out_w + 2 * qw),
                    dy.dtype, True))
                dy_col = columns(xp, grad_padded, (kh, kw), (1, 1), (h, w), scratch(
                    xp, "col", (o * kh * kw, (b - a) * h * w), dy.dtype, True))
                # dX = W' · col(dY)      (c (o kh kw), (o kh kw) (b h w) -> c (b h w))
                xp.matmul(flipped, dy_col, out=dx[:, a * h * w:b * h * w])
            return dw, db

        parts = parallel.run(xp, len(chunks), chunk)
        # the chunks' partial sums, added in the order of the chunks
        layer.grads["weight"] = parallel.ordered_sum([dw for dw, _ in parts]).reshape(
            weight.shape)
        if layer.has_bias:
            layer.grads["bias"] = parallel.ordered_sum([db for _, db in parts])
        if not need_input_grad:
            return None
        if one and (sh, sw) != (1, 1):
            dx = dx_all
        elif not one and (sh, sw) != (1, 1):
            # the interior is dX: c n h w -> n c h w, as a view
            return dx_padded[:, :, ph:ph + h, pw:pw + w].transpose(1, 0, 2, 3)
        # c n h w -> n c h w, as a view
        return dx.reshape(c, n, h, w).transpose(1, 0, 2, 3)
