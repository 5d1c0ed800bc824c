"""im2col's two steps, shared by every convolution path: zero padding, then the columns.

The reference (conv.py ``im2col``) applies them to the whole batch; the fast
paths (conv_fast.py, winograd.py) to a few images at a time, into buffers
they reuse (``out``). Both work on channels-first (c, n, h, w) arrays: a
convolution's output is that memory order (see conv_fast.py), so padding it
streams.
"""

from __future__ import annotations


def pad_cnhw(xp, x_cnhw, ph: int, pw: int, out=None, zero_border: bool = True):
    """x (c, n, h, w) -> (c, n, h + 2ph, w + 2pw) with a zero border.

    Into ``out`` when given: its border is zeroed (unless ``zero_border`` is
    False: a buffer made with zeros and since written only inside), then the
    interior written. Without padding and ``out``, x itself.
    """
    c, n, h, w = x_cnhw.shape
    if out is None:
        if ph == 0 and pw == 0:
            return x_cnhw
        out = xp.zeros((c, n, h + 2 * ph, w + 2 * pw), dtype=x_cnhw.dtype)
    elif zero_border:
        out[:, :, :ph] = 0
        out[:, :, ph + h:] = 0
        out[:, :, ph:ph + h, :pw] = 0
        out[:, :, ph:ph + h, pw + w:] = 0
    out[:, :, ph:ph + h, pw:pw + w] = x_cnhw
    return out


def columns(xp, padded, kernel: tuple[int, int], stride: tuple[int, int],
            out_hw: tuple[int, int], out=None):
    """padded (c, n, hp, wp) -> col (c·kh·kw, n·out_h·out_w), one strided slice per offset.

    col[(ci, i, j), (b, y, z)] = padded[ci, b, y·sh + i, z·sw + j]; into ``out``
    (any array of c·kh·kw·n·out_h·out_w values, contiguous) when given.
    """
    c, n = padded.shape[:2]
    (kh, kw), (sh, sw), (out_h, out_w) = kernel, stride, out_hw
    shape = (c, kh, kw, n, out_h, out_w)
    col = xp.empty(shape, dtype=padded.dtype) if out is None else out.reshape(shape)
    for i in range(kh):
        for j in range(kw):
            col[:, i, j] = padded[:, :, i:i + sh * out_h:sh, j:j + sw * out_w:sw]
    return col.reshape(c * kh * kw, n * out_h * out_w)


def add_columns(xp, col, padded, kernel: tuple[int, int], stride: tuple[int, int]):
    """The adjoint of ``columns``: padded (c, n, hp, wp) += col (c·kh·kw, n·out_h·out_w).

    Every receptive field adds its column back where it was read from; fields
    that overlap sum, which the loop over kernel offsets does with plain `+=`.
    """
    c, n = padded.shape[:2]
    (kh, kw), (sh, sw) = kernel, stride
    out_h = (padded.shape[2] - kh) // sh + 1
    out_w = (padded.shape[3] - kw) // sw + 1
    col = col.reshape(c, kh, kw, n, out_h, out_w)
    for i in range(kh):
        for j in range(kw):
            padded[:, :, i:i + sh * out_h:sh, j:j + sw * out_w:sw] += col[:, i, j]
    return padded
