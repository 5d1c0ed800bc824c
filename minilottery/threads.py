"""How many BLAS threads the matrix products may use: one, unless you say otherwise.

The command line says ``--threads N`` once, through :func:`configure`; the
training loop holds :func:`limit` while it runs, and the command line holds it
around the whole command. A configured count always wins; with nothing
configured the limit is ``DEFAULT_THREADS`` = 1.

Why one, measured on a 2-core x86_64 machine (OpenBLAS 0.3.31, SkylakeX
kernels; docs/speed.md has the commands and the tables):

- idle, one thread was at least as fast as two for every network of the
  benchmark except LeNet-300-100, where two gave 1.25x: Conv-4 1.9 against
  1.8 iterations a second, VGG-19-BN at width 1/4 7.8 against 6.3, ResNet-50
  at width 1/4 2.2 against 2.0. Our convolutions spend much of their time in
  copies and element-wise passes that NumPy runs on one thread, and their
  products come in chunks small enough that a second thread's start-up and
  synchronisation cost what it saves;
- busy (other processes on the cores, as on any shared machine), OpenBLAS's
  threads spin while they wait for each other and collapse: with two other
  NumPy processes multiplying matrices beside it, a LeNet training took
  104.6 s with OpenBLAS's default of one thread per core and 4.7 s with one.

So the default gives up a little (LeNet idle) to never lose much, and
``--threads N`` (or ``configure(N)`` from Python) takes more where a machine
has cores to spare.
"""

from __future__ import annotations

import contextlib

from .checks import check_int

DEFAULT_THREADS = 1

_configured: int | None = None


def configure(threads: int | None) -> None:
    """Use ``threads`` BLAS threads from now on; None restores the default (one)."""
    global _configured
    _configured = None if threads is None else check_int("threads", threads, 1)


def configured() -> int | None:
    """The thread count given to :func:`configure`, or None."""
    return _configured


@contextlib.contextmanager
def limit():
    """Hold the BLAS thread limit for the block: the configured count, else one."""
    from threadpoolctl import threadpool_limits

    threads = DEFAULT_THREADS if _configured is None else _configured
    with threadpool_limits(limits=threads, user_api="blas"):
        yield
