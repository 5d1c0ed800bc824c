"""A restricted unpickler for the CIFAR python batches and mnist.pkl.gz: data, never code.

The CIFAR python batches are pickles, and ``pickle.load`` calls whatever
function a file names (``os.system`` included) while it reads. A batch from
a mirror, a shared drive or a colleague must not be able to do that, so the
batches are read by an unpickler that admits only what the official files
contain. They were written by Python 2's cPickle: dicts with bytes keys whose
values are lists, bytes, strings, numbers and NumPy arrays. The plain values
need no import at all (their pickle opcodes build them directly); a NumPy
array is rebuilt by a few names, and these are the only ones admitted:

- ``numpy.core.multiarray._reconstruct`` (``numpy._core.multiarray`` in NumPy
  2, the same function), which makes an empty array of a given type;
- ``numpy.ndarray``, the type it is asked to make;
- ``numpy.dtype``, the element type (e.g. uint8);
- and ``numpy.core.numeric._frombuffer`` (``numpy._core.numeric``), which
  makes an array over given bytes: how NumPy pickles an array under protocol
  5, the default from Python 3.14, so a batch re-saved there still loads.

The same unpickler reads ``mnist.pkl.gz`` for ``minilottery fetch mnist``
(data/fetch.py): a Python 2 pickle of a tuple of (images, labels) array
pairs, which needs nothing more than the names above; its array bytes are
Python 2 strings, so it is read with ``encoding="latin1"``.

Any other name -- a function, a class, a module -- is refused before anything
is called, with one line naming the file and the refused object. Every other
way a pickle can call something (INST, OBJ, the extension registry) goes
through the same ``find_class``; persistent ids are refused by the base class.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path

import numpy as np

try:  # NumPy 2
    from numpy._core.multiarray import _reconstruct
    from numpy._core.numeric import _frombuffer
except ImportError:  # NumPy 1
    from numpy.core.multiarray import _reconstruct
    from numpy.core.numeric import _frombuffer

# (module, name) as a pickle spells it -> the object it stands for
ADMITTED = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    # Pickle protocol 5 (Python 3.14's default) rebuilds an array from its bytes with it
    ("numpy.core.numeric", "_frombuffer"): _frombuffer,
    ("numpy._core.numeric", "_frombuffer"): _frombuffer,
}


class RefusedPickleError(ValueError):
    """A pickle asked for an object the restricted unpickler does not admit; nothing ran."""


class _CifarUnpickler(pickle.Unpickler):
    """An Unpickler whose only importable names are NumPy's array reconstruction."""

    def __init__(self, handle, path: str, encoding: str = "bytes"):
        # encoding="bytes": Python 2 str values stay bytes, as the official keys b"data" are
        super().__init__(handle, encoding=encoding)
        self.path = path

    def find_class(self, module: str, name: str):
        admitted = ADMITTED.get((module, name))
        if admitted is None:
            raise RefusedPickleError(
                f"{self.path}: refused to unpickle {module}.{name}: a data file holds "
                "only dicts, tuples, lists, bytes, strings, numbers and NumPy arrays, and "
                "this file asks for something else (it could run code); nothing was run. "
                "Use the official files"
            )
        return admitted


def safe_load(path: str | Path):
    """Unpickle the file at ``path`` admitting only CIFAR's contents (see the module's doc).

    A refused object raises RefusedPickleError (a ValueError); a file that is not a
    complete pickle raises ValueError naming the file.
    """
    path = Path(path)
    return safe_loads(path.read_bytes(), str(path))


def safe_loads(data: bytes, name: str, encoding: str = "bytes"):
    """Unpickle ``data`` as safe_load does; ``name`` stands for the file in the errors.

    encoding: how Python 2 strings are read; "latin1" for a Python 2 pickle of
    NumPy arrays alone (mnist.pkl.gz), whose array bytes are such strings.
    """
    try:
        return _CifarUnpickler(io.BytesIO(data), name, encoding).load()
    except RefusedPickleError:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError,
            IndexError, KeyError, MemoryError) as error:
        raise ValueError(
            f"{name}: not a complete pickle ({type(error).__name__}: {error}); "
            "the file may be truncated or of another format"
        ) from None
