"""CuPy's random Generator: device arrays from a stream of its own.

CuPy's default_rng is XORWOW-based, so its numbers differ from NumPy's
default_rng for the same seed. The stand-in draws from Philox (also not
NumPy's default PCG64), so code that assumes both libraries give the same
stream fails here as it would on a GPU.
"""

from __future__ import annotations

import numpy as np

from ._ndarray import wrap


class Generator:
    """The methods of cupy.random.Generator that minilottery may use."""

    def __init__(self, seed=None):
        self._rng = np.random.Generator(np.random.Philox(seed))

    def random(self, size=None, dtype=np.float64, out=None):
        return wrap(np.asarray(self._rng.random(size, dtype=dtype)))

    def integers(self, low, high=None, size=None, dtype=np.int64, endpoint=False):
        return wrap(np.asarray(self._rng.integers(low, high, size, dtype=dtype,
                                                  endpoint=endpoint)))

    def standard_normal(self, size=None, dtype=np.float64, out=None):
        return wrap(np.asarray(self._rng.standard_normal(size, dtype=dtype)))

    def uniform(self, low=0.0, high=1.0, size=None, dtype=np.float64):
        return wrap(np.asarray(self._rng.uniform(low, high, size).astype(dtype)))


def default_rng(seed=None) -> Generator:
    return Generator(seed)
