"""minilottery: a lottery-ticket laboratory in NumPy, with a CuPy backend for the GPU."""

__version__ = "0.1.0"

from ._source_tree import map_backends as _map_backends

_map_backends()

from .backends import available_backends, get_backend  # noqa: E402

__all__ = ["__version__", "available_backends", "get_backend"]
