"""The stand-in's cupyx: scatter_add, the one function minilottery's CuPy backend uses."""

from __future__ import annotations

import numpy as np
from cupy import ndarray, refuse_host, unwrap


def scatter_add(a, slices, value) -> None:
    """a[slices] += value in place, repeated indices summed (device arrays only)."""
    if not isinstance(a, ndarray):
        raise TypeError(f"cupyx.scatter_add: got {type(a)}, expected a cupy.ndarray")
    refuse_host((slices, value), "cupyx.scatter_add")
    np.add.at(a._array, unwrap(slices), unwrap(value))
