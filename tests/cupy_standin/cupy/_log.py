"""What the stand-in counts: device-to-host transfers, host-to-device transfers,
synchronisations, and NumPy-namespace calls handed a device array.

On a GPU every device-to-host transfer waits for all queued kernels, so these
counts are the host round trips that a loop pays for; the tests bound them.
"""

from __future__ import annotations

import contextlib
import dataclasses


@dataclasses.dataclass
class Counts:
    """Events inside one ``counting()`` block; ``numpy_calls`` names each NumPy
    function or ufunc that was handed a device array (CuPy dispatches them)."""

    device_to_host: int = 0
    host_to_device: int = 0
    synchronize: int = 0
    numpy_calls: list = dataclasses.field(default_factory=list)


_open: list[Counts] = []


@contextlib.contextmanager
def counting():
    """``with counting() as c: ...``: afterwards c holds what happened in the block."""
    counts = Counts()
    _open.append(counts)
    try:
        yield counts
    finally:
        _open.remove(counts)


def record(event: str, name: str | None = None) -> None:
    for counts in _open:
        if event == "numpy_calls":
            counts.numpy_calls.append(name)
        else:
            setattr(counts, event, getattr(counts, event) + 1)
