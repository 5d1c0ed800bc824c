"""The NumPy backend: arrays in host memory, BLAS for the matrix products."""

from __future__ import annotations

import numpy as np

from .base import Backend


class NumpyBackend(Backend):
    """Runs every layer on the CPU with NumPy."""

    name = "numpy"
    xp = np
