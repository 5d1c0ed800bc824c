"""Winograd F(2x2, 3x3): a stride-1 3x3 convolution with 2.25x fewer multiplications.

The output is cut into 2x2 tiles; tile (ty, tx) reads the 4x4 input patch d
at rows 2ty..2ty+3 and columns 2tx..2tx+3 of the zero-padded input (patches
overlap by two). Winograd's minimal filtering algorithm computes the 2x2
output of a 3x3 kernel g on that patch as

    Y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A

with the constant matrices

    Bᵀ = [[1,  0, -1,  0],     G = [[1,    0,    0  ],     Aᵀ = [[1, 1,  1,  0],
          [0,  1,  1,  0],          [1/2,  1/2,  1/2],           [0, 1, -1, -1]]
          [0, -1,  1,  0],          [1/2, -1/2,  1/2],
          [0,  1,  0, -1]]          [0,    0,    1  ]]

Bᵀ d B takes the patch to 16 "frequencies" (sums and differences of input
values), G g Gᵀ takes the kernel there, and Aᵀ · A brings the 16 products
back to the 2x2 output: 16 multiplications per tile and channel pair where
the direct sum needs 2·2·9 = 36. Summed over input channels, the element-wise
product becomes a matrix product per frequency k:

    M[k] = U[k] · V[k]        (o c, c (n th tw) -> o (n th tw)), k = 0..15

with U = G g Gᵀ (16, o, c) and V = Bᵀ d B (16, c, n·th·tw): 16 batched
products of 16·o·c·n·th·tw = 4·o·c·n·out_h·out_w multiply-adds in all, where
im2col's one product has 9·o·c·n·out_h·out_w.

The backward pass is the same algebra transposed (no new approximation):

    dM = A dY Aᵀ,  dU[k] = dM[k] · V[k]ᵀ,  dV[k] = U[k]ᵀ · dM[k],
    dW = Gᵀ dU G,  dd = B dV Bᵀ,  summed back over the overlapping patches.

Odd output sizes: the padded input is extended with zeros to whole tiles and
the output cropped (the extra outputs only ever see zeros; their gradient is
zero). The matrices hold halves and small integers, so float32 rounding grows
only a little (see docs/speed.md for the measured error). As in conv_fast.py,
V and M are never whole: they are built a few images at a time in the
workspace of the pool's thread that takes the chunk, and the backward pass
rebuilds V from the cached padded input. Everything is written against
``xp``: it runs unchanged on CuPy (as one chunk, never on the pool).
"""

from __future__ import annotations

import numpy as np

from . import parallel
from .conv_fast import kept_buffer, scratch

# The constant matrices, for the reader and the tests; the code below applies each by hand
# as sums and differences (no matrix crosses to the device, no multiplication by 0 or 1).
B_T = np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], dtype=np.float64)
G = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]], dtype=np.float64)
A_T = np.array([[1, 1, 1, 0], [0, 1, -1, -1]], dtype=np.float64)


def applies(kernel: tuple[int, int], stride: tuple[int, int], padding: tuple[int, int]) -> bool:
    """3x3, stride 1, padding < 3 on each side (the convolutions this file computes)."""
    return kernel == (3, 3) and stride == (1, 1) and max(padding) < 3


# Where "auto" takes this path: where it measured faster than conv_fast, 64 channels and
# more on outputs of 16x16 and more (Conv-4's layers); below, the products are too small for
# their 2.25x to pay for the transforms (docs/speed.md has the per-layer figures).
MIN_CHANNELS = 64
MIN_OUTPUT = 16


def pays(in_channels: int, out_channels: int, out_h: int, out_w: int) -> bool:
    """Whether "auto" takes this path for a layer of these channels and output size."""
    return (min(in_channels, out_channels) >= MIN_CHANNELS
            and min(out_h, out_w) >= MIN_OUTPUT)


def _g(xp, a):
    """G a along the last axis: (..., 3) -> (..., 4): a0, (a0 + a1 + a2)/2, (a0 - a1 + a2)/2, a2."""
    half = (a[..., 0] + a[..., 2]) * 0.5
    return xp.stack([a[..., 0], half + a[..., 1] * 0.5, half - a[..., 1] * 0.5, a[..., 2]],
                    axis=-1)


def _g_transposed(xp, a):
    """Gᵀ a along the last axis: (..., 4) -> (..., 3).

    a0 + (a1 + a2)/2, (a1 - a2)/2, (a1 + a2)/2 + a3."""
    half = (a[..., 1] + a[..., 2]) * 0.5
    return xp.stack([a[..., 0] + half, (a[..., 1] - a[..., 2]) * 0.5, half + a[..., 3]], axis=-1)


def _kernel_transform(xp, weight):
    """U = G g Gᵀ: weight (o, c, 3, 3) -> (16, o, c), frequency first.

    G is applied by hand (_g), not as a host matrix: nothing crosses to the device.
    """
    o, c = weight.shape[:2]
    # g Gᵀ: o c i j -> o c i l; then G (g Gᵀ): o c l i -> o c l k
    u = _g(xp, _g(xp, weight).swapaxes(-1, -2))
    # o c l k -> k l o c
    return xp.ascontiguousarray(u.transpose(3, 2, 0, 1)).reshape(16, o, c)


def _input_transform(xp, padded, tiles, out):
    """V = Bᵀ d B for every patch: padded (c, n, 2th + 2, 2tw + 2) -> out (4, 4, c, n, th, tw).

    Rows first (Bᵀ · d), on strided views of the padded input, then columns (· B).
    """
    th, tw = tiles
    # row r of every patch: padded rows r, r + 2, ..., (c, n, th, wp)
    r = [padded[:, :, i:i + 2 * th:2] for i in range(4)]
    # t = Bᵀ d: t0 = d0 - d2, t1 = d1 + d2, t2 = d2 - d1, t3 = d1 - d3
    rows = (r[0] - r[2], r[1] + r[2], r[2] - r[1], r[1] - r[3])
    for k, t in enumerate(rows):
        col = [t[..., j:j + 2 * tw:2] for j in range(4)]
        # V[k] = t B: the same combinations along the columns
        xp.subtract(col[0], col[2], out=out[k, 0])
        xp.add(col[1], col[2], out=out[k, 1])
        xp.subtract(col[2], col[1], out=out[k, 2])
        xp.subtract(col[1], col[3], out=out[k, 3])
    return out


def _output_transform(xp, m, out):
    """Y = Aᵀ M A for every tile: m (4, 4, o, n, th, tw) -> out (o, n, 2th, 2tw)."""
    # s = Aᵀ M: s0 = m0 + m1 + m2, s1 = m1 - m2 - m3 (rows of each tile)
    for a, s in enumerate((m[0] + m[1] + m[2], m[1] - m[2] - m[3])):
        # y[a] = s A: the same along the columns; output (2ty + a, 2tx + b)
        out[:, :, a::2, 0::2] = s[0] + s[1] + s[2]
        out[:, :, a::2, 1::2] = s[1] - s[2] - s[3]
    return out


def _output_gradient(xp, dy, tiles, out):
    """dM = A dY Aᵀ: dy (o, n, 2th, 2tw) -> out (4, 4, o, n, th, tw)."""
    d = [[dy[:, :, a::2, b::2] for b in range(2)] for a in range(2)]  # dY[a, b]: (o, n, th, tw)
    for b in range(2):
        # e = A dY (rows): e0 = dy0, e1 = dy0 + dy1, e2 = dy0 - dy1, e3 = -dy1, into column b
        out[0, b] = d[0][b]
        xp.add(d[0][b], d[1][b], out=out[1, b])
        xp.subtract(d[0][b], d[1][b], out=out[2, b])
        xp.negative(d[1][b], out=out[3, b])
    for k in range(4):
        # dM[k] = e Aᵀ (columns): e0, e0 + e1, e0 - e1, -e1; columns 0 and 1 hold e0 and e1
        xp.subtract(out[k, 0], out[k, 1], out=out[k, 2])
        xp.negative(out[k, 1], out=out[k, 3])
        out[k, 1] += out[k, 0]
    return out


def _input_gradient(xp, dv, out):
    """dpadded = Σ over patches of B dV Bᵀ: dv (4, 4, c, n, th, tw) -> out (c, n, 2th + 2, 2tw + 2).

    Separable, columns then rows. Patches overlap by two, so patch column j of
    tile x and column j + 2 of tile x - 1 land on the same place: even places
    get dd[.., 0] + dd[.., 2] shifted, odd places dd[.., 1] + dd[.., 3] shifted.
    """
    c, n, th, tw = dv.shape[2:]
    # z[k]: row k of every patch, its columns summed into place: (4, c, n, th, 2tw + 2)
    z = xp.empty((4, c, n, th, 2 * tw + 2), dtype=dv.dtype)
    for k in range(4):
        v = dv[k]
        # dd[k, :] = dV[k] Bᵀ: v0, v1 - v2 + v3, v1 + v2 - v0, -v3 (columns 0..3)
        even, odd = z[k, ..., 0::2], z[k, ..., 1::2]
        even[..., :tw] = v[0]
        even[..., tw] = 0
        even[..., 1:] += v[1] + v[2] - v[0]
        xp.subtract(v[1], v[2], out=odd[..., :tw])
        odd[..., :tw] += v[3]
        odd[..., tw] = 0
        odd[..., 1:] -= v[3]
    # dd[i, :] = Σ_k B[i, k] z[k]: z0, z1 - z2 + z3, z1 + z2 - z0, -z3 (patch rows 0..3),
    # rows summed into place as the columns were
    even, odd = out[:, :, 0::2], out[:, :, 1::2]
    even[:, :, :th] = z[0]
    even[:, :, th] = 0
    even[:, :, 1:] += z[1] + z[2] - z[0]
    xp.subtract(z[1], z[2], out=odd[:, :, :th])
    odd[:, :, :th] += z[3]
    odd[:, :, th] = 0
    odd[:, :, 1:] -= z[3]
    return out


# A chunk of whole images holds about CHUNK_BYTES of V and M (at least one image), built in
# its thread's workspace and used while it is in the cache (as conv_fast does with its
# column matrices): no transformed array of the whole batch (4x the input for V, 4x the
# output for M) is ever held. The chunks run on the pool's threads (nn/parallel.py).
CHUNK_BYTES = 2 * 2**20


class WinogradConv:
    """The Winograd path of one 3x3 stride-1 Conv2d layer; owns what it keeps between passes.

    forward: x (n, c, h, w) -> y (n, o, out_h, out_w), a view of an (o, n, 2th, 2tw) array.
    backward: fills ``layer.grads``, returns dX (n, c, h, w) as a view, or None.
    """

    applies = staticmethod(applies)
    pays = staticmethod(pays)

    def __init__(self, layer):
        self.layer = layer
        self.kept = {}  # the tile-padded input buffer, reused between iterations
        self.cache = None  # (U, padded input) from forward, for backward

    def _chunks(self, n: int, tiles: tuple[int, int], dtype) -> list[tuple[int, int]]:
        c, o = self.layer.in_channels, self.layer.out_channels
        per_image = 16 * (c + o) * tiles[0] * tiles[1] * dtype.itemsize
        return parallel.image_chunks(self.layer.xp, n, per_image, CHUNK_BYTES,
                                     16 * o * c * tiles[0] * tiles[1])

    def _vm(self, b: int, tiles, dtype):
        """Workspace for the V and M of b images: (4, 4, c, b, th, tw), (4, 4, o, b, th, tw)."""
        layer, (th, tw) = self.layer, tiles
        c, o, xp, reuse = layer.in_channels, layer.out_channels, layer.xp, layer.training
        return (scratch(xp, "winograd_v", (4, 4, c, b, th, tw), dtype, reuse),
                scratch(xp, "winograd_m", (4, 4, o, b, th, tw), dtype, reuse))

    def forward(self, x):
        """Caches the tile-padded input and the transformed kernel U for backward."""
        layer = self.layer
        xp, weight = layer.xp, layer.params["weight"]
        n, c, h, w = x.shape
        o = layer.out_channels
        ph, pw = layer.padding
        out_h, out_w = h + 2 * ph - 2, w + 2 * pw - 2
        th, tw = (out_h + 1) // 2, (out_w + 1) // 2
        # the padded input, extended with zeros to whole tiles: (c, n, 2th + 2, 2tw + 2); a
        # buffer of this object's in training, made with zeros and reused between iterations
        # (only its interior is written: the border stays zero)
        shape = (c, n, 2 * th + 2, 2 * tw + 2)
        padded = kept_buffer(self.kept, "tiles", xp, shape, x.dtype, zeros=True) \
            if layer.training else xp.zeros(shape, dtype=x.dtype)
        x_cnhw = x.transpose(1, 0, 2, 3)  # n c h w -> c n h w, a view
        u = _kernel_transform(xp, weight)
        y = xp.empty((o, n, 2 * th, 2 * tw), dtype=x.dtype)
        bias = layer.params["bias"][:, None, None, None] if layer.has_bias else None
        chunks = self._chunks(n, (th, tw), x.dtype)

        def chunk(i):
            a, b = chunks[i]
            part = padded[:, a:b]
            part[:, :, ph:ph + h, pw:pw + w] = x_cnhw[:, a:b]
            v, m = self._vm(b - a, (th, tw), x.dtype)
            _input_transform(xp, part, (th, tw), v)
            # M[k] = U[k] · V[k]      (16 o c, 16 c (b th tw) -> 16 o (b th tw))
            xp.matmul(u, v.reshape(16, c, -1), out=m.reshape(16, o, -1))
            part = _output_transform(xp, m, y[:, a:b])
            if bias is not None:
                part += bias

        parallel.run(xp, len(chunks), chunk)
        self.x_shape, self.cache = x.shape, (u, padded)
        # o n h w -> n o h w, cropped to the true output, as a view
        return y[:, :, :out_h, :out_w].transpose(1, 0, 2, 3)

    def backward(self, grad_out, need_input_grad: bool = True):
        """V is rebuilt chunk by chunk from the cached padded input (one more input
        transform, in exchange for never holding V of the whole batch)."""
        if self.cache is None:
            raise RuntimeError("Conv2d.backward: run forward first (each backward releases "
                               "the transformed input that forward cached)")
        layer = self.layer
        xp = layer.xp
        n, c, h, w = self.x_shape
        o = layer.out_channels
        ph, pw = layer.padding
        (u, padded), self.cache = self.cache, None
        th, tw = (padded.shape[2] - 2) // 2, (padded.shape[3] - 2) // 2
        out_h, out_w = grad_out.shape[2:]
        dy = grad_out.transpose(1, 0, 2, 3)  # n o h w -> o n h w
        cropped = (out_h, out_w) != (2 * th, 2 * tw)
        whole = xp.empty((o, n, 2 * th, 2 * tw), dtype=dy.dtype) if cropped else dy
        dpadded = xp.empty(padded.shape, dtype=dy.dtype) if need_input_grad else None
        chunks = self._chunks(n, (th, tw), dy.dtype)

        def chunk(i):
            a, b = chunks[i]
            # db = Σ_{n,h,w} dY, this chunk's part
            db = xp.einsum("onhw->o", dy[:, a:b]) if layer.has_bias else None
            if cropped:
                # the outputs cropped in forward get a zero gradient
                whole[:, a:b] = 0
                whole[:, a:b, :out_h, :out_w] = dy[:, a:b]
            v, dm = self._vm(b - a, (th, tw), dy.dtype)
            _input_transform(xp, padded[:, a:b], (th, tw), v)
            # dM = A dY Aᵀ per tile: (4, 4, o, b, th, tw)
            _output_gradient(xp, whole[:, a:b], (th, tw), dm)
            v, dm = v.reshape(16, c, -1), dm.reshape(16, o, -1)
            # dU[k] = dM[k] · V[k]ᵀ   (16 o (b th tw), 16 (b th tw) c -> 16 o c), this part
            du = dm @ v.transpose(0, 2, 1)
            if need_input_grad:
                # dV[k] = U[k]ᵀ · dM[k]   (16 c o, 16 o (b th tw) -> 16 c (b th tw)), into V
                dv = xp.matmul(u.transpose(0, 2, 1), dm, out=v)
                # dpadded = Σ_patches B dV Bᵀ
                _input_gradient(xp, dv.reshape(4, 4, c, b - a, th, tw), dpadded[:, a:b])
            return du, db

        parts = parallel.run(xp, len(chunks), chunk)
        if layer.has_bias:
            layer.grads["bias"] = parallel.ordered_sum([db for _, db in parts])
        # dU: the chunks' parts added in their order
        du = parallel.ordered_sum([du for du, _ in parts])
        # dW = Gᵀ dU G: k l o c -> o c k l; dU G: -> o c k j; Gᵀ (dU G): o c j k -> o c j i
        du = du.reshape(4, 4, o, c).transpose(2, 3, 0, 1)
        dw = _g_transposed(xp, _g_transposed(xp, du).swapaxes(-1, -2)).swapaxes(-1, -2)
        layer.grads["weight"] = xp.ascontiguousarray(dw)
        if not need_input_grad:
            return None
        # the interior is dX: c n h w -> n c h w, as a view
        return dpadded[:, :, ph:ph + h, pw:pw + w].transpose(1, 0, 2, 3)
