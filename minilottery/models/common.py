"""Helpers shared by the model builders."""

from __future__ import annotations


def scaled(channels: int, width: float) -> int:
    """A layer size times the width multiplier, at least 1."""
    return max(1, int(round(channels * width)))


def check_input_shape(name: str, input_shape, min_size: int = 1) -> tuple[int, int, int]:
    """(C, H, W) as ints, with H and W at least ``min_size``; a clear error otherwise."""
    if len(input_shape) != 3 or any(int(d) < 1 for d in input_shape):
        raise ValueError(f"{name}: input_shape got {tuple(input_shape)}, expected (C, H, W)")
    c, h, w = (int(d) for d in input_shape)
    if min(h, w) < min_size:
        raise ValueError(
            f"{name}: input_shape {(c, h, w)} is too small, expected H and W >= {min_size} "
            "(resize the dataset, e.g. load_dataset(..., resize=(32, 32)))"
        )
    return c, h, w
