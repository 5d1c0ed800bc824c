"""The parallel CPU path: a pool of threads over chunks of the batch.

A layer cuts its work into chunks (whole images of the batch for the
convolutions, BatchNorm, pooling and ReLU; blocks of features for Linear) and
hands a function of the chunk's index to :func:`run`. The chunks are fixed
by the shapes alone, never by the number of threads, and every chunk writes
its own slice of the output or returns its own partial sum; partial sums (a
weight gradient, BatchNorm's statistics) are added in the order of the
chunks by :func:`ordered_sum`. So a run gives the same numbers, bit for bit,
at 1, 2 or 16 threads: the threads only change who computes a chunk, not
what it computes or the order of any sum.

NumPy releases the GIL inside copies, ufuncs and BLAS, which is where a
chunk spends its time, so the threads run at once on separate cores. Each
matrix product runs on one BLAS thread (``threads.limit`` holds BLAS at one):
the pool, not OpenBLAS, spreads the work.

The workers block on a queue while there is nothing to do (they never spin),
and the thread that calls :func:`run` takes chunks too; a chunk goes to
whichever thread is free, so a core taken by another process slows the pool
down by its share and no more. The pool is used only on NumPy and only while
:func:`using` is in force with more than one thread (``threads.limit`` holds
it around training and every command); everywhere else, and always on CuPy,
:func:`run` is a plain loop in the calling thread.
"""

from __future__ import annotations

import contextlib
import queue
import threading

import numpy as np

_active = 1  # threads of the pool in force (1: a plain loop)


class _Job:
    """One call of :func:`run`: ``count`` chunks handed out by index, results in order."""

    def __init__(self, task, count: int):
        self.task, self.count = task, count
        self.results = [None] * count
        self.error: BaseException | None = None
        self._next = 0
        self._left = count
        self._lock = threading.Lock()
        self.done = threading.Event()

    def work(self) -> None:
        """Take chunks until none is left (any thread: the caller or a worker)."""
        while True:
            with self._lock:
                index = self._next
                self._next += 1
            if index >= self.count:
                return
            try:
                self.results[index] = self.task(index)
            except BaseException as error:  # re-raised in the caller by run()
                self.error = error
            with self._lock:
                self._left -= 1
                if self._left == 0:
                    self.done.set()


class Pool:
    """Daemon workers blocked on a queue; the thread that calls :meth:`map` works too."""

    def __init__(self):
        self.workers = 0
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self.dispatched = 0  # jobs handed to the workers (a test reads it)

    def grow(self, workers: int) -> None:
        """At least ``workers`` workers (a worker without work costs nothing: it blocks)."""
        while self.workers < workers:
            threading.Thread(target=self._worker, daemon=True,
                             name=f"minilottery-pool-{self.workers}").start()
            self.workers += 1

    def _worker(self) -> None:
        while True:
            self._jobs.get().work()  # get() blocks: no spinning while idle

    def map(self, task, count: int, threads: int) -> list:
        """[task(0), ..., task(count - 1)] on up to ``threads`` threads, this one included."""
        job = _Job(task, count)
        self.dispatched += 1
        for _ in range(min(count, threads) - 1):
            self._jobs.put(job)  # a worker that takes it after the last chunk finds none
        job.work()
        job.done.wait()  # blocks until the workers' last chunks are written
        if job.error is not None:
            raise job.error
        return job.results


_pool = Pool()


@contextlib.contextmanager
def using(threads: int):
    """Run the chunks of the layers on ``threads`` threads inside the block (1: a loop)."""
    global _active
    previous = _active
    _pool.grow(threads - 1)
    _active = threads
    try:
        yield
    finally:
        _active = previous


def active_threads() -> int:
    """The threads that :func:`run` uses now (1 outside :func:`using`)."""
    return _active


def run(xp, count: int, task) -> list:
    """[task(0), ..., task(count - 1)]: on the pool where it is in force and ``xp`` is
    NumPy, else one after the other in this thread. Chunks must not depend on each other."""
    if _active < 2 or count < 2 or xp is not np:
        return [task(index) for index in range(count)]
    return _pool.map(task, count, _active)


def ordered_sum(partials: list):
    """partials[0] + partials[1] + ... in this order, into partials[0] (the same bits at
    any thread count)."""
    total = partials[0]
    for partial in partials[1:]:
        total += partial
    return total


# A chunk of a layer's products holds about this many multiply-adds at most (at least one
# image): enough work to outweigh handing it to a thread, and several chunks even where
# the images are small (VGG's and ResNet's deep layers), so those layers spread too.
CHUNK_MACS = 2**24


def image_chunks(xp, n: int, bytes_per_image: int, chunk_bytes: int,
                 macs_per_image: int = 0) -> list[tuple[int, int]]:
    """[(start, stop), ...]: runs of whole images of about ``chunk_bytes`` each, and of at
    most CHUNK_MACS multiply-adds where ``macs_per_image`` is given.

    Fixed by the shapes (never by the thread count). On CuPy one chunk, the
    whole batch: a GPU wants few large kernels, and nothing runs in parallel.
    """
    if xp is not np:
        return [(0, n)]
    step = max(1, chunk_bytes // max(1, bytes_per_image))
    if macs_per_image:
        step = max(1, min(step, CHUNK_MACS // macs_per_image))
    return [(start, min(n, start + step)) for start in range(0, n, step)]


# An element-wise pass (ReLU, BatchNorm, pooling) takes chunks of about this many bytes of
# its input: large enough that a chunk's ufunc loops outweigh handing it to a thread, small
# enough that a batch of activations makes several (one image at least).
ELEMENTWISE_BYTES = 4 * 2**20


def over_images(xp, x, task) -> list:
    """[task(start, stop), ...] over chunks of whole images of x (n, ...), on the pool.

    Each call handles x[start:stop] and writes only its own slices; the
    results come back in chunk order. On CuPy one call, the whole batch.
    """
    n = x.shape[0]
    chunks = image_chunks(xp, n, x.dtype.itemsize * (x.size // max(1, n)), ELEMENTWISE_BYTES)
    return run(xp, len(chunks), lambda i: task(*chunks[i]))


# A product split by blocks of features (Linear) takes blocks of about this many
# multiply-adds. Below it a product stays whole: LeNet-300-100's layers at batch 60 (14M
# multiply-adds at most, a tenth of a millisecond) gain nothing from a second thread;
# Conv-4's first dense layer (126M) makes eight blocks.
BLOCK_MACS = 2**24


def feature_blocks(xp, features: int, macs_per_feature: int) -> list[tuple[int, int]]:
    """[(start, stop), ...]: equal blocks of ``features`` of about BLOCK_MACS each.

    Fixed by the shapes; each block is a product of its own, so no sum is
    split. On CuPy one block.
    """
    count = 1 if xp is not np else max(1, min(features,
                                               -(-features * macs_per_feature // BLOCK_MACS)))
    size = -(-features // count)
    return [(start, min(features, start + size)) for start in range(0, features, size)]


def over_features(xp, features: int, macs_per_feature: int, task) -> None:
    """task(start, stop) for the blocks of ``feature_blocks``, on the pool."""
    blocks = feature_blocks(xp, features, macs_per_feature)
    run(xp, len(blocks), lambda i: task(*blocks[i]))
