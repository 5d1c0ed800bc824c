"""The backend interface: an array module plus the few operations not spelled the same.

A layer never imports numpy or cupy to work on data; it asks its backend for
``xp`` (the array module) and for the handful of operations below. Only
device transfer, per-channel sums and synchronisation differ between NumPy
and CuPy; everything else is the same code against ``xp`` (random draws are
made on the host with a seeded numpy Generator and moved, so both backends
see the same numbers).

A backend is identified by its name: copying or pickling one (with a model
that holds it) gives back ``get_backend(name)``, never a copy of the array
module, which cannot be pickled.
"""

from __future__ import annotations

import numpy as np


class Backend:
    """An array backend: ``name``, ``xp`` and the operations that differ by device."""

    name: str = "abstract"
    xp = np

    # Device transfer -------------------------------------------------------

    def asarray(self, array, dtype=None):
        """Move a host (NumPy) array, or any array-like, onto this backend's device."""
        return self.xp.asarray(array, dtype=dtype)

    def to_numpy(self, array) -> np.ndarray:
        """The array as a host NumPy array: a device-to-host copy on a GPU backend, but
        on NumPy the array itself (no copy). Take ``.copy()`` to keep a snapshot."""
        return np.asarray(array)

    # Operations that are not spelled the same ------------------------------

    def channel_sum(self, a, b=None):
        """Σ a (or Σ a·b) over every axis but axis 1, the channel: (n, c, ...) -> (c,).

        NumPy's einsum reads each input once, with no product array in between.
        """
        letters = "nc" + "hwdefg"[:a.ndim - 2]
        if b is None:
            return self.xp.einsum(f"{letters}->c", a)
        return self.xp.einsum(f"{letters},{letters}->c", a, b)

    def synchronize(self) -> None:
        """Wait until all queued work on the device has finished (a no-op on the CPU)."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"
