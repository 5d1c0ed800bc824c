"""The fast path of Conv2d: the reference's products, without its large temporaries.

The reference (conv.py) is GEMM-bound: for Conv-4's second layer the three
matrix products take 184 of its 234 ms (one thread), and the rest is the
copies around them. Those copies cost more than their bytes because every
im2col writes a fresh column matrix of kh·kw times the input, and a fresh
array of 141 MB is 35,000 first-touch page faults. So this path keeps the
algorithm (im2col over the kh x kw strided slices, one product per pass, the
stride-1 input gradient as a convolution of dY with the flipped kernel) and
changes where the data lives:

- a large column matrix is never whole: it is built a few images at a time
  (CHUNK_BYTES, 8 MiB) into one workspace per thread, reused by every layer
  and every iteration, and each chunk is multiplied while it is still in the
  cache (no page faults, no 141 MB array written to memory and read back:
  Conv-4's forward convolutions 372 -> 171 ms CPU, one thread); a small one
  (up to KEEP_COLUMNS_BYTES) is kept by its layer for the backward pass;
- the forward pass caches the zero-padded input (kept per layer between
  iterations: only its interior is rewritten), and the backward pass rebuilds
  the large column matrices from it, chunk by chunk, for dW = Σ dY · colᵀ:
  one more im2col, but the peak memory of a network no longer holds a column
  matrix per layer;
- the output is returned as an NCHW-shaped view of the (o, n, h, w) product,
  with no transposing copy; the element-wise layers after it keep that memory
  order, so the next convolution's input is channels-first contiguous and its
  padding copy streams; the input gradient is returned the same way;
- 1x1 convolutions (ResNet's bottlenecks and projections) need no column
  matrix: with stride s they read x[:, :, ::s, ::s] and are one product each way.

It applies to stride 1 with padding < kernel, and to 1x1 kernels without
padding at any stride; the reference runs everything else. In evaluation mode
(``training`` False, large batches) it allocates afresh, so the workspace does
not grow to the evaluation batch. ``release_workspace()`` frees it.

Everything is written against ``xp``, so it runs unchanged on CuPy.
"""

from __future__ import annotations

import threading

_local = threading.local()


def applies(kernel: tuple[int, int], stride: tuple[int, int], padding: tuple[int, int]) -> bool:
    """True for the convolutions this path computes (see the module docstring)."""
    (kh, kw), (ph, pw) = kernel, padding
    if kernel == (1, 1):
        return padding == (0, 0)
    return stride == (1, 1) and ph < kh and pw < kw


def workspace(xp, slot: str, shape: tuple[int, ...], dtype):
    """An uninitialised array of ``shape`` from this thread's reusable buffer ``slot``.

    Each slot grows to the largest size asked for and is then reused: its
    contents are whatever the last user left there.
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


# A column matrix up to this size is kept by its layer from forward to backward
# (in a buffer of its own, reused between iterations). A larger one is never
# whole: it is built CHUNK_BYTES at a time (whole images) in the shared
# workspace, each chunk multiplied while it is still in the cache, and rebuilt
# the same way in the backward pass from the cached padded input.
KEEP_COLUMNS_BYTES = 4 * 2**20
CHUNK_BYTES = 8 * 2**20


def scratch(xp, slot: str, shape, dtype, reuse: bool):
    """An array of ``shape`` from the workspace ``slot`` (``reuse``), else a new one."""
    return workspace(xp, slot, shape, dtype) if reuse else xp.empty(shape, dtype=dtype)


def layer_buffer(layer, name: str, shape, dtype):
    """The layer's own buffer ``name`` of this shape, made afresh when the shape changes."""
    kept = getattr(layer, name, None)
    if kept is None or kept.shape != shape or kept.dtype != dtype:
        setattr(layer, name, None)
        kept = layer.xp.empty(shape, dtype=dtype)
        setattr(layer, name, kept)
    return kept


def _im2col(xp, padded, kernel, out_hw, reuse: bool, out=None):
    """padded (c, n, hp, wp) -> col (c·kh·kw, n·out_h·out_w), stride 1, as the reference.

    col[(ci, i, j), (b, y, z)] = padded[ci, b, y + i, z + j]; written into
    ``out`` when given, else into the workspace (``reuse``) or a new array.
    """
    c, n = padded.shape[:2]
    (kh, kw), (out_h, out_w) = kernel, out_hw
    shape = (c, kh, kw, n, out_h, out_w)
    col = scratch(xp, "col", shape, padded.dtype, reuse) if out is None else out.reshape(shape)
    for i in range(kh):
        for j in range(kw):
            col[:, i, j] = padded[:, :, i:i + out_h, j:j + out_w]
    return col.reshape(c * kh * kw, n * out_h * out_w)


def _pad(xp, x_cnhw, ph: int, pw: int, buffer=None):
    """x (c, n, h, w) in the interior of a zero-bordered (c, n, h + 2ph, w + 2pw) array.

    ``buffer``, when given, has that shape; only its border is zeroed, then
    the interior is written.
    """
    c, n, h, w = x_cnhw.shape
    if ph == 0 and pw == 0:
        return x_cnhw
    if buffer is None:
        buffer = xp.zeros((c, n, h + 2 * ph, w + 2 * pw), dtype=x_cnhw.dtype)
    else:
        buffer[:, :, :ph] = 0
        buffer[:, :, ph + h:] = 0
        buffer[:, :, ph:ph + h, :pw] = 0
        buffer[:, :, ph:ph + h, pw + w:] = 0
    buffer[:, :, ph:ph + h, pw:pw + w] = x_cnhw
    return buffer


def _chunks(layer, padded, out_hw):
    """(first, last, col) for runs of whole images whose column matrix fits CHUNK_BYTES.

    padded: (c, n, hp, wp); col covers output columns first:last of the whole
    (c kh kw, n out_h out_w) matrix, in the workspace (a new array in evaluation).
    """
    c, n = padded.shape[:2]
    (kh, kw), (out_h, out_w) = layer.kernel_size, out_hw
    per_image = c * kh * kw * out_h * out_w * padded.dtype.itemsize
    step = max(1, CHUNK_BYTES // per_image)
    for start in range(0, n, step):
        stop = min(n, start + step)
        col = _im2col(layer.xp, padded[:, start:stop], layer.kernel_size, out_hw,
                      layer.training)
        yield start * out_h * out_w, stop * out_h * out_w, col


def forward(layer, x):
    """y (n, o, out_h, out_w) of ``layer`` for x (n, c, h, w); caches the (padded) input."""
    xp, weight = layer.xp, layer.params["weight"]
    n, c, h, w = x.shape
    o = layer.out_channels
    (kh, kw), (sh, sw), (ph, pw) = layer.kernel_size, layer.stride, layer.padding
    x_cnhw = x.transpose(1, 0, 2, 3)
    layer.x_shape = x.shape
    layer.col = None
    if (kh, kw) == (1, 1):
        # 1x1: the (strided) input, channels first, is the column matrix itself
        x_cnhw = x_cnhw[:, :, ::sh, ::sw]
        out_h, out_w = x_cnhw.shape[2:]
        layer.padded = xp.ascontiguousarray(x_cnhw).reshape(c, -1)
        # o c, c (n out_h out_w) -> o (n out_h out_w)
        y = weight.reshape(o, c) @ layer.padded
    else:
        out_h, out_w = h + 2 * ph - kh + 1, w + 2 * pw - kw + 1
        shape = (c, n, h + 2 * ph, w + 2 * pw)
        kept = getattr(layer, "_kept_padded", None)
        reuse = layer.training and kept is not None and kept.shape == shape \
            and kept.dtype == x.dtype
        padded = _pad(xp, x_cnhw, ph, pw, kept if reuse else None)
        if layer.training and (ph or pw):
            layer._kept_padded = padded
        layer.padded = padded
        rows, cols = c * kh * kw, n * out_h * out_w
        if layer.training and rows * cols * x.dtype.itemsize <= KEEP_COLUMNS_BYTES:
            # col: (c kh kw, n out_h out_w), small: kept by the layer for backward
            layer.col = _im2col(xp, padded, layer.kernel_size, (out_h, out_w), True,
                                layer_buffer(layer, "_kept_col", (rows, cols), x.dtype))
            # o (c kh kw), (c kh kw) (n out_h out_w) -> o (n out_h out_w)
            y = weight.reshape(o, -1) @ layer.col
        else:
            y = xp.empty((o, cols), dtype=x.dtype)
            for first, last, col in _chunks(layer, padded, (out_h, out_w)):
                # the same product, a few images at a time
                xp.matmul(weight.reshape(o, -1), col, out=y[:, first:last])
    if layer.has_bias:
        y += layer.params["bias"][:, None]
    # o n h w -> n o h w, as a view (the next layers keep this memory order)
    return y.reshape(o, n, out_h, out_w).transpose(1, 0, 2, 3)


def backward(layer, grad_out, need_input_grad: bool):
    """Fill ``layer.grads``; return dX (n, c, h, w) as a view, or None."""
    xp, weight = layer.xp, layer.params["weight"]
    n, c, h, w = layer.x_shape
    o = layer.out_channels
    (kh, kw), (sh, sw), (ph, pw) = layer.kernel_size, layer.stride, layer.padding
    out_h, out_w = grad_out.shape[2:]
    dy = grad_out.transpose(1, 0, 2, 3)  # n o h w -> o n h w
    if dy.flags.c_contiguous:
        d = dy.reshape(o, -1)
    else:
        d = scratch(xp, "grad", dy.shape, dy.dtype, True)
        d[...] = dy
        d = d.reshape(o, -1)
    if layer.has_bias:
        # db = Σ_{n,h,w} dY
        layer.grads["bias"] = d.sum(axis=1)
    padded, layer.padded = layer.padded, None
    if (kh, kw) == (1, 1):
        # dW = dY · Xᵀ          (o (n h w), (n h w) c -> o c)
        layer.grads["weight"] = (d @ padded.T).reshape(weight.shape)
        if not need_input_grad:
            return None
        # dX = Wᵀ · dY          (c o, o (n h w) -> c (n h w))
        dx_sub = (weight.reshape(o, c).T @ d).reshape(c, n, out_h, out_w)
        if (sh, sw) == (1, 1):
            return dx_sub.transpose(1, 0, 2, 3)
        dx = xp.zeros((c, n, h, w), dtype=dx_sub.dtype)
        dx[:, :, ::sh, ::sw] = dx_sub
        return dx.transpose(1, 0, 2, 3)
    col, layer.col = layer.col, None
    if col is not None:
        # dW = dY · colᵀ          (o (n h w), (n h w) (c kh kw) -> o (c kh kw))
        dw = d @ col.T
    else:
        # the same sum, chunk by chunk, over columns rebuilt from the cached padded input
        dw = xp.zeros((o, c * kh * kw), dtype=d.dtype)
        for first, last, col in _chunks(layer, padded, (out_h, out_w)):
            dw += d[:, first:last] @ col.T
    layer.grads["weight"] = dw.reshape(weight.shape)
    del col, padded
    if not need_input_grad:
        return None
    # dX = the convolution of dY, padded by k - 1 - p, with W'[c, o, i, j] = W[o, c, -i, -j]
    qh, qw = kh - 1 - ph, kw - 1 - pw
    grad_padded = _pad(xp, dy, qh, qw,
                       scratch(xp, "grad_padded", (o, n, out_h + 2 * qh, out_w + 2 * qw),
                               dy.dtype, True))
    flipped = weight[:, :, ::-1, ::-1].transpose(1, 0, 2, 3).reshape(c, -1)
    dx = xp.empty((c, n * h * w), dtype=d.dtype)
    # dX = W' · col(dY)      (c (o kh kw), (o kh kw) (n h w) -> c (n h w)), chunk by chunk
    for first, last, dy_col in _chunks(layer, grad_padded, (h, w)):
        xp.matmul(flipped, dy_col, out=dx[:, first:last])
    # c n h w -> n c h w, as a view
    return dx.reshape(c, n, h, w).transpose(1, 0, 2, 3)
