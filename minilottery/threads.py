"""How many threads a training uses: by default, every core this process may run on.

The command line says ``--threads N`` once, through :func:`configure`; the
training loop holds :func:`limit` while it runs, and the command line holds it
around the whole command. A configured count always wins; with nothing
configured the count is :func:`default_threads`, the cores of
``os.sched_getaffinity`` (what a container, ``taskset`` or a batch system
lets this process use, not the machine's total).

Inside :func:`limit` the threads are minilottery's own pool (nn/parallel.py):
the layers cut the batch into chunks and the pool's threads take them, each
matrix product on one BLAS thread. BLAS itself is held at one thread: the
pool's workers block while they wait, where OpenBLAS's threads spin, and
spinning threads collapse on a machine shared with other jobs. The chunks do
not depend on the count, so a run gives the same numbers at any count.
docs/speed.md has the measurements (idle, and beside other processes).
"""

from __future__ import annotations

import contextlib
import os

from .checks import check_int
from .nn import parallel

_configured: int | None = None


def default_threads() -> int:
    """The cores this process may run on (``os.sched_getaffinity``), at least one."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # no sched_getaffinity (macOS, Windows)
        return max(1, os.cpu_count() or 1)


def configure(threads: int | None) -> None:
    """Use ``threads`` threads from now on; None restores the default (the cores)."""
    global _configured
    _configured = None if threads is None else check_int("threads", threads, 1)


def configured() -> int | None:
    """The thread count given to :func:`configure`, or None."""
    return _configured


def count() -> int:
    """The threads :func:`limit` uses: the configured count, else the default."""
    return default_threads() if _configured is None else _configured


@contextlib.contextmanager
def limit():
    """Hold the block to :func:`count` threads: the pool's, and one BLAS thread each."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"), parallel.using(count()):
        yield
