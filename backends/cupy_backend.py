"""The CuPy backend: arrays in GPU memory, cuBLAS for the matrix products.

This is the only module of minilottery that imports cupy, and it does so only
when the backend is asked for, so the package imports cleanly on a machine
without CuPy or without a GPU.
"""

from __future__ import annotations

import numpy as np

from .base import Backend


class BackendUnavailableError(RuntimeError):
    """The requested backend cannot run on this machine; the message says what is missing."""


def _import_cupy():
    """Import cupy and check that a GPU is visible; raise a clear error otherwise."""
    try:
        import cupy
    except ImportError as error:
        raise BackendUnavailableError(
            "backend 'cupy' needs the CuPy package, which is not installed: "
            "pip install 'minilottery[gpu]' (CUDA 12) or pip install cupy-cuda13x (CUDA 13)"
        ) from error
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as error:  # CUDA driver missing or broken: cupy raises its own types
        raise BackendUnavailableError(
            f"backend 'cupy': CuPy is installed but no usable GPU was found ({error})"
        ) from error
    if count == 0:
        raise BackendUnavailableError("backend 'cupy': CuPy is installed but no GPU was found")
    return cupy


def cupy_status() -> str | None:
    """None when the CuPy backend can run here, else the reason it cannot."""
    try:
        _import_cupy()
    except BackendUnavailableError as error:
        return str(error)
    return None


class CupyBackend(Backend):
    """Runs every layer on the GPU with CuPy; weights still start from host-drawn values."""

    name = "cupy"

    def __init__(self):
        self.xp = _import_cupy()

    def to_numpy(self, array) -> np.ndarray:
        if isinstance(array, self.xp.ndarray):
            return self.xp.asnumpy(array)
        return np.asarray(array)

    def channel_sum(self, a, b=None):
        # CuPy's two-operand einsum turns this into a batched matrix product over
        # transposed copies of both operands; one product kernel and one reduction
        # read each array once.
        axes = (0, *range(2, a.ndim))
        return (a if b is None else a * b).sum(axis=axes)

    def synchronize(self) -> None:
        self.xp.cuda.get_current_stream().synchronize()
