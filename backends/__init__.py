"""Array backends for minilottery: NumPy on the CPU, CuPy on the GPU.

Installed as ``minilottery.backends``. Nothing here imports minilottery:
backends sit at the bottom of the stack.
"""

from .base import Backend
from .cupy_backend import BackendUnavailableError
from .numpy_backend import NumpyBackend
from .registry import BACKEND_NAMES, ENV_VAR, available_backends, get_backend, unavailable_reason

__all__ = [
    "BACKEND_NAMES",
    "ENV_VAR",
    "Backend",
    "BackendUnavailableError",
    "NumpyBackend",
    "available_backends",
    "get_backend",
    "unavailable_reason",
]
