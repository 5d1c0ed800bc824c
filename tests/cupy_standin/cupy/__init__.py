"""A strict stand-in for CuPy, for minilottery's tests on a machine without a GPU.

Its arithmetic is NumPy's; what it adds are CuPy's rules (see _ndarray.py), a
namespace holding only functions that CuPy also has (a name CuPy lacks is an
AttributeError here too), CuPy's own random Generator (a stream distinct from
NumPy's), a device count, and counters of host round trips (``counting()``).
It cannot check rounding, kernel compile time, asynchronous errors or speed:
only a GPU can.

It is imported only on purpose: with MINILOTTERY_CUPY_STANDIN=1 and this
folder on the path (tests/conftest.py does both), never in place of a real
CuPy by accident.
"""

from __future__ import annotations

import os
import sys
import types

import numpy as np

if os.environ.get("MINILOTTERY_CUPY_STANDIN") != "1":
    raise ImportError("this is minilottery's test stand-in for CuPy (tests/cupy_standin), "
                      "not CuPy; set MINILOTTERY_CUPY_STANDIN=1 to use it on purpose")

from . import _log, cuda, random  # noqa: E402
from ._log import Counts, counting  # noqa: E402
from ._ndarray import ndarray, refuse_host, unwrap, wrap  # noqa: E402

STANDIN = True
__version__ = "0.0-minilottery-standin"

# Scalar types and constants: CuPy re-exports NumPy's own.
for _name in ("bool_", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
              "uint64", "float16", "float32", "float64", "complex64", "complex128", "intp",
              "dtype", "integer", "floating", "number", "generic", "finfo", "iinfo",
              "newaxis", "pi", "e", "inf", "nan", "min_scalar_type", "result_type",
              "can_cast", "promote_types", "isscalar"):
    globals()[_name] = getattr(np, _name)

# Functions that take and give device arrays (each one exists in CuPy too).
_DEVICE_FUNCTIONS = (
    "zeros", "ones", "empty", "full", "zeros_like", "ones_like", "empty_like", "full_like",
    "arange", "linspace", "eye", "concatenate", "stack", "where", "einsum", "tensordot",
    "matmul", "dot", "outer", "sqrt", "exp", "log", "log1p", "expm1", "abs", "absolute",
    "sign", "square", "power", "maximum", "minimum", "fmax", "fmin", "clip", "equal",
    "not_equal", "less", "less_equal", "greater", "greater_equal", "logical_and",
    "logical_or", "logical_not", "logical_xor", "add", "subtract", "multiply", "divide",
    "true_divide", "floor_divide", "negative", "reciprocal", "floor", "ceil", "rint",
    "around", "round", "bitwise_and", "bitwise_or", "bitwise_xor", "invert", "left_shift",
    "right_shift", "sum", "mean", "std", "var", "max", "min", "amax", "amin", "argmax",
    "argmin", "argsort", "sort", "cumsum", "prod", "count_nonzero", "flatnonzero",
    "nonzero", "any", "all", "isfinite", "isnan", "isinf", "allclose", "array_equal",
    "reshape", "transpose", "ravel", "broadcast_to", "expand_dims", "squeeze", "take",
    "take_along_axis", "shares_memory", "may_share_memory", "shape", "size", "ndim",
    "copyto", "tanh", "flip",
)
_RETURNS_DEVICE_BOOL = {"allclose", "array_equal"}  # CuPy answers with a 0-d device array


def _device_function(name):
    numpy_function = getattr(np, name)

    def function(*args, **kwargs):
        refuse_host(args, f"cupy.{name}")
        refuse_host(tuple(kwargs.values()), f"cupy.{name}")
        result = numpy_function(*unwrap(args), **unwrap(kwargs))
        out = kwargs.get("out")
        if isinstance(out, ndarray) and result is out._array:
            return out
        if name in _RETURNS_DEVICE_BOOL:
            return wrap(np.bool_(result))
        return wrap(result)
    function.__name__ = function.__qualname__ = name
    function.__module__ = __name__
    return function


_namespace = {name: _device_function(name) for name in _DEVICE_FUNCTIONS}
globals().update(_namespace)


def asarray(a, dtype=None, order=None):
    """Host data -> a device array (a counted transfer); a device array stays as it is."""
    if isinstance(a, ndarray):
        return a if dtype is None or a.dtype == dtype else a.astype(dtype)
    _log.record("host_to_device")
    return wrap(np.array(a, dtype=dtype, order=order or "K", copy=True))


def array(obj, dtype=None, copy=True, order="K", ndmin=0):
    """A new device array (from host data: a counted transfer)."""
    if isinstance(obj, ndarray):
        return wrap(np.array(obj._array, dtype=dtype, copy=copy, order=order, ndmin=ndmin))
    _log.record("host_to_device")
    return wrap(np.array(obj, dtype=dtype, copy=True, order=order, ndmin=ndmin))


def ascontiguousarray(a, dtype=None):
    return wrap(np.ascontiguousarray(asarray(a)._array, dtype=dtype))


def asnumpy(a, stream=None, order="C", out=None):
    """The host copy of a device array (a counted transfer); host data as NumPy."""
    if isinstance(a, ndarray):
        return a.get()
    return np.asarray(a, order=order)


def get_array_module(*args):
    """This module for device arrays, numpy otherwise (CuPy's idiom)."""
    return sys.modules[__name__] if any(isinstance(a, ndarray) for a in args) else np


def _sliding_window_view(x, window_shape, axis=None):
    refuse_host(x, "cupy.lib.stride_tricks.sliding_window_view")
    return wrap(np.lib.stride_tricks.sliding_window_view(x._array, window_shape, axis=axis))


for _name in ("asarray", "array", "ascontiguousarray"):
    _namespace[_name] = globals()[_name]

lib = types.SimpleNamespace(
    stride_tricks=types.SimpleNamespace(sliding_window_view=_sliding_window_view))

__all__ = ["Counts", "counting", "cuda", "ndarray", "random"]


class MemoryPool:
    """CuPy's memory pool, as far as gpu_check uses it: the stand-in holds no device memory,
    so it reports none."""

    def total_bytes(self) -> int:
        return 0

    def used_bytes(self) -> int:
        return 0

    def free_all_blocks(self) -> None:
        pass


_default_pool = MemoryPool()


def get_default_memory_pool() -> MemoryPool:
    return _default_pool
