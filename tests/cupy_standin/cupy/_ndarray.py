"""The stand-in's device array: NumPy's arithmetic behind the rules of cupy.ndarray.

What it enforces, as CuPy does:
- it is not a numpy.ndarray, and implicit conversion to one (``__array__``,
  so ``numpy.asarray(x)``) raises TypeError: only ``.get()`` / ``cupy.asnumpy``
  cross to the host, and each such crossing is counted;
- a NumPy array as an operand of an element-wise operation raises TypeError;
- an all-integer index gives a 0-d device array (a view), never a host scalar,
  and so do reductions: ``x.sum()`` stays on the device;
- ``float(x)``, ``int(x)``, ``bool(x)``, ``x.item()``, ``x.tolist()``, ``repr``
  and formatting are device-to-host transfers, and are counted as such;
- a NumPy function or ufunc given a device array dispatches to the stand-in's
  own function of that name (CuPy's ``__array_function__`` / ``__array_ufunc__``),
  and is counted: layers are meant to call ``xp``, not ``numpy``.
"""

from __future__ import annotations

import operator

import numpy as np

from . import _log


def refuse_host(value, where: str) -> None:
    """TypeError for a NumPy array (of any rank) where CuPy takes only device arrays."""
    if isinstance(value, np.ndarray):
        raise TypeError(f"Unsupported type {type(value)} in {where}: a NumPy array cannot "
                        "be an operand of a CuPy operation (move it with cupy.asarray)")
    if isinstance(value, (list, tuple)):
        for item in value:
            refuse_host(item, where)


def unwrap(value):
    """Device arrays (also inside lists, tuples and dicts) -> their NumPy storage."""
    if isinstance(value, ndarray):
        return value._array
    if isinstance(value, (list, tuple)):
        return type(value)(unwrap(v) for v in value)
    if isinstance(value, dict):
        return {k: unwrap(v) for k, v in value.items()}
    return value


def wrap(value):
    """NumPy results -> device arrays; a NumPy scalar becomes a 0-d device array."""
    if isinstance(value, np.ndarray):
        return ndarray._from_numpy(value)
    if isinstance(value, np.generic):
        return ndarray._from_numpy(np.asarray(value))
    if isinstance(value, tuple):
        return tuple(wrap(v) for v in value)
    return value


def _host(array, what: str):
    """A device-to-host transfer: counted, a copy."""
    _log.record("device_to_host")
    return array._array.copy() if what == "copy" else array._array


# The ndarray methods the project may use; each returns device arrays.
_METHODS = frozenset({
    "all", "any", "argmax", "argmin", "argsort", "astype", "clip", "copy", "cumsum",
    "diagonal", "dot", "fill", "flatten", "max", "mean", "min", "nonzero", "prod", "ravel",
    "repeat", "reshape", "round", "sort", "squeeze", "std", "sum", "swapaxes", "take",
    "trace", "transpose", "var", "view",
})
_ATTRIBUTES = frozenset({"shape", "dtype", "ndim", "size", "itemsize", "nbytes", "strides",
                         "T", "real", "imag", "flags"})


def _binary(op, reflected: bool = False):
    def method(self, other):
        refuse_host(other, f"operator {op.__name__}")
        if not isinstance(other, (ndarray, int, float, complex, bool, np.generic)):
            return NotImplemented
        a, b = self._array, unwrap(other)
        return wrap(op(b, a) if reflected else op(a, b))
    return method


def _inplace(op):
    def method(self, other):
        refuse_host(other, f"operator {op.__name__}")
        op(self._array, unwrap(other))  # in place on the storage: views stay views
        return self
    return method


class ndarray:  # noqa: N801 (CuPy's name)
    """A device array of the stand-in (see the module docstring for the rules)."""

    __array_priority__ = 100
    __hash__ = None

    def __init__(self, shape, dtype=float):
        self._array = np.empty(shape, dtype=dtype)

    @classmethod
    def _from_numpy(cls, array: np.ndarray) -> ndarray:
        self = object.__new__(cls)
        self._array = array
        return self

    # Crossing to the host: only explicitly, and counted ---------------------

    def __array__(self, dtype=None, copy=None):
        raise TypeError("Implicit conversion to a NumPy array is not allowed. "
                        "Please use `.get()` to construct a NumPy array explicitly.")

    def get(self, stream=None, order="C", out=None):
        return _host(self, "copy")

    def item(self):
        return _host(self, "view").item()

    def tolist(self):
        return _host(self, "view").tolist()

    def __float__(self):
        return float(_host(self, "view"))

    def __int__(self):
        return int(_host(self, "view"))

    def __bool__(self):
        return bool(_host(self, "view"))

    def __repr__(self):
        return "stand-in " + repr(_host(self, "view"))

    def __str__(self):
        return str(_host(self, "view"))

    def __format__(self, spec):
        host = _host(self, "view")
        return format(host.item() if host.ndim == 0 else str(host), spec)

    def __reduce__(self):
        from . import array  # pickled as its host copy, rebuilt on the device
        return array, (_host(self, "copy"),)

    def __copy__(self):
        return wrap(self._array.copy())

    def __deepcopy__(self, memo):
        return wrap(self._array.copy())

    # Shape and methods -------------------------------------------------------

    def __len__(self):
        return len(self._array)

    def __iter__(self):
        for index in range(len(self)):
            yield self[index]

    def __getattr__(self, name):
        if name in _ATTRIBUTES:
            return wrap(getattr(self._array, name))
        if name in _METHODS:
            method = getattr(self._array, name)

            def call(*args, **kwargs):
                refuse_host(args, f"ndarray.{name}")
                return wrap(method(*unwrap(args), **unwrap(kwargs)))
            return call
        raise AttributeError(f"stand-in cupy.ndarray has no attribute {name!r}")

    # Indexing: an all-integer index gives a 0-d view, as CuPy ----------------

    def __getitem__(self, key):
        key = self._key(key)
        result = self._array[key]
        if isinstance(result, np.generic):
            result = self._array[(*key, ...) if isinstance(key, tuple) else (key, ...)]
        return wrap(result)

    def __setitem__(self, key, value):
        if isinstance(value, np.ndarray):
            _log.record("host_to_device")
        self._array[self._key(key)] = unwrap(value)

    @staticmethod
    def _key(key):
        if isinstance(key, np.ndarray):
            _log.record("host_to_device")
        return unwrap(key)

    # Operators ---------------------------------------------------------------

    def __neg__(self):
        return wrap(-self._array)

    def __pos__(self):
        return wrap(+self._array)

    def __abs__(self):
        return wrap(abs(self._array))

    def __invert__(self):
        return wrap(~self._array)

    # NumPy's functions on device arrays dispatch here, as with CuPy ---------

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        from . import _namespace
        function = _namespace.get(ufunc.__name__)
        if function is None or method != "__call__":
            return NotImplemented
        if not any(isinstance(i, np.generic) for i in inputs):  # a scalar's operator: not
            _log.record("numpy_calls", ufunc.__name__)         # a call someone wrote
        return function(*inputs, **kwargs)

    def __array_function__(self, func, types, args, kwargs):
        from . import _namespace
        function = _namespace.get(func.__name__)
        if function is None:
            return NotImplemented
        _log.record("numpy_calls", func.__name__)
        return function(*args, **kwargs)


for _name, _op in [("add", operator.add), ("sub", operator.sub), ("mul", operator.mul),
                   ("truediv", operator.truediv), ("floordiv", operator.floordiv),
                   ("mod", operator.mod), ("pow", operator.pow), ("matmul", operator.matmul),
                   ("and", operator.and_), ("or", operator.or_), ("xor", operator.xor),
                   ("lshift", operator.lshift), ("rshift", operator.rshift)]:
    setattr(ndarray, f"__{_name}__", _binary(_op))
    setattr(ndarray, f"__r{_name}__", _binary(_op, reflected=True))
    setattr(ndarray, f"__i{_name}__", _inplace(getattr(operator, f"i{_name}")))
for _name in ("lt", "le", "eq", "ne", "gt", "ge"):
    setattr(ndarray, f"__{_name}__", _binary(getattr(operator, _name)))
