"""Choosing a backend by name, and listing the ones that work on this machine."""

from __future__ import annotations

import copyreg
import os

from .base import Backend
from .cupy_backend import BackendUnavailableError, CupyBackend, cupy_status
from .numpy_backend import NumpyBackend

ENV_VAR = "MINILOTTERY_BACKEND"
BACKEND_NAMES = ("numpy", "cupy")

_cache: dict[str, Backend] = {}


def get_backend(name: str | Backend | None = None) -> Backend:
    """The backend called ``name``: "numpy", "cupy", or None for the default.

    The default is the environment variable MINILOTTERY_BACKEND, else "numpy".
    A Backend instance is returned as it is. Asking for "cupy" where CuPy or a
    GPU is missing raises BackendUnavailableError saying which.
    """
    if isinstance(name, Backend):
        return name
    if name is None:
        name = os.environ.get(ENV_VAR) or "numpy"
    if name not in BACKEND_NAMES:
        raise ValueError(f"backend: got {name!r}, expected one of {', '.join(BACKEND_NAMES)}")
    if name not in _cache:
        _cache[name] = NumpyBackend() if name == "numpy" else CupyBackend()
    return _cache[name]


def _by_name(backend: Backend):
    """Pickle and deep-copy a backend by its name: the copy is this process's backend of
    that name (a backend holds a module, which cannot be pickled, and a copy of a model
    must run on the same device as the model)."""
    return get_backend, (backend.name,)


for _backend_class in (NumpyBackend, CupyBackend):
    copyreg.pickle(_backend_class, _by_name)


def available_backends() -> list[str]:
    """The names of the backends that can run on this machine ("numpy" always)."""
    return ["numpy"] + (["cupy"] if cupy_status() is None else [])


def unavailable_reason(name: str) -> str | None:
    """None if backend ``name`` works here, else why not (for test skips)."""
    if name == "numpy":
        return None
    if name == "cupy":
        return cupy_status()
    raise ValueError(f"backend: got {name!r}, expected one of {', '.join(BACKEND_NAMES)}")


__all__ = [
    "BackendUnavailableError",
    "available_backends",
    "get_backend",
    "unavailable_reason",
]
