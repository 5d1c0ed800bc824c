"""Batches on the device: a shuffled, endless stream for training and an ordered pass for
evaluation.

The data moves to the device once; each training epoch draws a fresh
permutation on the host (so a NumPy run and a CuPy run of one seed see the
same batches) and sends only that index vector across.
"""

from __future__ import annotations

import numpy as np

from ..backends import get_backend


def _check_pair(where: str, x, y) -> None:
    if len(x) != len(y):
        raise ValueError(f"{where}: x has {len(x)} examples but y has {len(y)}, expected equal")


class BatchIterator:
    """Endless (x_batch, y_batch) device arrays, reshuffled every epoch, as the paper trains.

    x: (n, ...) and y: (n,) host arrays, moved to the device once. Each epoch
    is a fresh permutation from ``numpy.random.default_rng(seed)`` cut into
    n // batch_size batches of exactly ``batch_size``; the remainder of the
    permutation is dropped, so every step sees the same batch size.
    ``iteration`` counts batches yielded, ``epoch`` the epochs completed.
    """

    def __init__(self, x, y, batch_size: int, seed, backend=None):
        _check_pair("BatchIterator", x, y)
        if (isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer))
                or not 1 <= batch_size <= len(x)):
            raise ValueError(
                f"batch_size: got {batch_size!r}, expected an int in [1, {len(x)}] "
                f"(the number of examples)"
            )
        self.backend = get_backend(backend)
        self.x = self.backend.asarray(x)
        self.y = self.backend.asarray(y)
        self.batch_size = int(batch_size)
        self.num_examples = len(x)
        self.batches_per_epoch = self.num_examples // self.batch_size
        self.rng = np.random.default_rng(seed)
        self.iteration = 0
        self._order = None  # this epoch's permutation, on the device

    @property
    def epoch(self) -> int:
        """Epochs completed: every batch of one permutation has been yielded."""
        return self.iteration // self.batches_per_epoch

    def __iter__(self):
        return self

    def __next__(self):
        position = self.iteration % self.batches_per_epoch
        if position == 0:
            # Drawn on the host from the seeded generator, then one small transfer
            self._order = self.backend.asarray(self.rng.permutation(self.num_examples))
        start = position * self.batch_size
        index = self._order[start:start + self.batch_size]
        self.iteration += 1
        return self.x[index], self.y[index]

    def __repr__(self) -> str:
        return (
            f"BatchIterator(n={self.num_examples}, batch_size={self.batch_size}, "
            f"epoch={self.epoch}, iteration={self.iteration}, backend={self.backend.name!r})"
        )


def iterate_batches(x, y, batch_size: int, backend=None):
    """Every example once, in order: (x_batch, y_batch) device arrays, the last may be smaller.

    For evaluation. Arrays already on the backend's device are sliced without
    a copy; host arrays are moved a batch at a time.
    """
    _check_pair("iterate_batches", x, y)
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
            or batch_size < 1:
        raise ValueError(f"batch_size: got {batch_size!r}, expected an int >= 1")
    backend = get_backend(backend)
    # A generator inside, so the checks above run at the call, not at the first batch
    return _ordered_batches(x, y, int(batch_size), backend)


def _ordered_batches(x, y, batch_size: int, backend):
    for start in range(0, len(x), batch_size):
        stop = start + batch_size
        yield backend.asarray(x[start:stop]), backend.asarray(y[start:stop])
