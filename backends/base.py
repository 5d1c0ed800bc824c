"""The backend interface: an array module plus the few operations not spelled the same.

A layer never imports numpy or cupy to work on data; it asks its backend for
``xp`` (the array module) and for the handful of operations below. Only
device transfer, scatter-add, per-channel sums, random generators and
synchronisation differ between NumPy and CuPy; everything else is the same
code against ``xp``.

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

    def is_array(self, obj) -> bool:
        """True when ``obj`` is an array that lives on this backend's device."""
        return isinstance(obj, self.xp.ndarray)

    # Operations that are not spelled the same ------------------------------

    def scatter_add(self, target, indices, values) -> None:
        """``target[indices] += values`` in place, with repeated indices summed."""
        raise NotImplementedError

    def sliding_windows(self, x, window: tuple[int, int], stride: tuple[int, int] = (1, 1)):
        """Strided windows over the last two axes, as a view (no copy).

        x: (..., h, w) -> (..., out_h, out_w, kh, kw) with
        out = (size - k) // stride + 1 along each axis.
        """
        (kh, kw), (sh, sw) = window, stride
        view = self.xp.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(-2, -1))
        return view[..., ::sh, ::sw, :, :]

    def channel_sum(self, a, b=None):
        """Σ a (or Σ a·b) over every axis but axis 1, the channel: (n, c, ...) -> (c,).

        NumPy's einsum reads each input once, with no product array in between.
        """
        letters = "nc" + "hwdefg"[:a.ndim - 2]
        if b is None:
            return self.xp.einsum(f"{letters}->c", a)
        return self.xp.einsum(f"{letters},{letters}->c", a, b)

    def rng(self, seed):
        """A random generator on this backend's device (for dropout masks)."""
        return self.xp.random.default_rng(seed)

    def synchronize(self) -> None:
        """Wait until all queued work on the device has finished (a no-op on the CPU)."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"
