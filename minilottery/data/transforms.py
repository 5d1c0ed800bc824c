"""Image transforms on whole NCHW arrays: resize, channel matching, normalisation.

Everything here works on a full host array at once (no loop over images), so
a 60,000-image set is resized by two matrix products. Two datasets share one
input shape this way, which is what transferring a ticket between them needs
(e.g. digits 8x8 resized to MNIST's 28x28).
"""

from __future__ import annotations

import numpy as np

# ITU-R BT.601 luma weights: how RGB becomes one grey channel
LUMINANCE = (0.299, 0.587, 0.114)


def _check_images(x, where: str) -> None:
    if x.ndim != 4:
        raise ValueError(f"{where}: x has shape {tuple(x.shape)}, expected (n, c, h, w)")


def interpolation_matrix(in_size: int, out_size: int) -> np.ndarray:
    """The (out_size, in_size) float64 matrix that resizes one axis; every row sums to 1.

    Upsampling (and the same size) is bilinear with half-pixel centres and the
    edges clamped, as PyTorch's ``interpolate(mode="bilinear",
    align_corners=False)``. Downsampling averages the source area each output
    pixel covers (PyTorch's ``mode="area"`` for integer factors, OpenCV's
    INTER_AREA): every source pixel counts, so fine detail cannot alias.
    """
    if in_size < 1 or out_size < 1:
        raise ValueError(f"interpolation_matrix: got sizes {in_size} -> {out_size}, expected >= 1")
    rows = np.arange(out_size)
    scale = in_size / out_size
    if out_size >= in_size:
        # Output pixel j sits at source coordinate (j + ½)·scale - ½, clamped into the image
        coord = np.clip((rows + 0.5) * scale - 0.5, 0.0, in_size - 1)
        left = np.floor(coord).astype(np.int64)
        right = np.minimum(left + 1, in_size - 1)
        t = coord - left
        matrix = np.zeros((out_size, in_size), dtype=np.float64)
        # add.at: at the clamped edge left == right and both weights land on one pixel
        np.add.at(matrix, (rows, left), 1.0 - t)
        np.add.at(matrix, (rows, right), t)
        return matrix
    # Output pixel j covers source [j·scale, (j+1)·scale); source pixel i covers [i, i+1)
    start, stop = rows[:, None] * scale, (rows[:, None] + 1) * scale
    source = np.arange(in_size)[None, :]
    overlap = np.minimum(stop, source + 1) - np.maximum(start, source)
    return np.clip(overlap, 0.0, None) / scale


def check_size(size) -> tuple[int, int]:
    """resize=(H, W) (or one int for a square) as two ints >= 1; a clear error otherwise."""
    if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
        size = (size, size)
    try:
        height, width = size
        valid = all(isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d >= 1
                    for d in (height, width))
    except (TypeError, ValueError):
        valid = False
    if not valid:
        raise ValueError(f"resize: got {size!r}, expected (height, width) with two ints >= 1")
    return int(height), int(width)


def resize(x: np.ndarray, size) -> np.ndarray:
    """Resize every image: x (n, c, h, w) -> (n, c, H, W) float32, as y = A_h · x · A_wᵀ.

    ``size`` is (H, W); each axis is bilinear when it grows and area-averaged
    when it shrinks (see interpolation_matrix), independently of the other.
    """
    _check_images(x, "resize")
    out_h, out_w = check_size(size)
    a_h = interpolation_matrix(x.shape[2], out_h).astype(np.float32)
    a_w = interpolation_matrix(x.shape[3], out_w).astype(np.float32)
    x = np.asarray(x, dtype=np.float32)
    # n c h w, W w -> n c h W
    y = x @ a_w.T
    # H h, n c h W -> n c H W   (matmul broadcasts A_h over n and c)
    return np.ascontiguousarray(a_h @ y)


def match_channels(x: np.ndarray, channels: int) -> np.ndarray:
    """Give x (n, c, h, w) ``channels`` channels: 1 -> 3 repeats grey, 3 -> 1 takes luminance."""
    _check_images(x, "match_channels")
    if isinstance(channels, bool) or channels not in (1, 3):
        raise ValueError(f"channels: got {channels!r}, expected 1 (grey) or 3 (RGB)")
    have = x.shape[1]
    if have == channels:
        return x
    if have == 1 and channels == 3:
        return np.repeat(x, 3, axis=1)
    if have == 3 and channels == 1:
        weights = np.asarray(LUMINANCE, dtype=np.float32)
        # c, n c h w -> n 1 h w
        return np.einsum("c,nchw->nhw", weights, x)[:, None].astype(np.float32, copy=False)
    raise ValueError(
        f"channels: cannot turn images with {have} channels into {channels}; "
        "only 1 -> 3 and 3 -> 1 are defined"
    )


def channel_stats(x: np.ndarray) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel (mean, std) of x (n, c, h, w), in float64, as tuples of Python floats.

    A channel that is constant gets std 1, so normalising only centres it
    instead of dividing by zero.
    """
    _check_images(x, "channel_stats")
    if len(x) == 0:
        raise ValueError("channel_stats: x is empty, expected at least one image")
    means, stds = [], []
    # One channel at a time: the float64 temporary stays a third of CIFAR's size
    for c in range(x.shape[1]):
        plane = x[:, c]
        mean = float(plane.mean(dtype=np.float64))
        std = float(np.sqrt(np.mean(np.square(plane - mean, dtype=np.float64))))
        means.append(mean)
        stds.append(std if std > 1e-12 else 1.0)
    return tuple(means), tuple(stds)


def normalize(x: np.ndarray, mean, std) -> np.ndarray:
    """(x - mean) / std per channel: x (n, c, h, w) float32, mean and std of length c."""
    _check_images(x, "normalize")
    if len(mean) != x.shape[1] or len(std) != x.shape[1]:
        raise ValueError(
            f"normalize: mean and std have {len(mean)} and {len(std)} values, "
            f"expected one per channel ({x.shape[1]})"
        )
    shape = (1, x.shape[1], 1, 1)
    mean = np.asarray(mean, dtype=np.float32).reshape(shape)
    std = np.asarray(std, dtype=np.float32).reshape(shape)
    return ((np.asarray(x, dtype=np.float32) - mean) / std).astype(np.float32, copy=False)
