"""How many BLAS threads the matrix products of a training may use.

The command line says ``--threads N`` once, through :func:`configure`; the
training loop asks :func:`limit` for the limit in force while it runs. With
nothing configured the library's own default applies.
"""

from __future__ import annotations

import contextlib

from .checks import check_int

_configured: int | None = None


def configure(threads: int | None) -> None:
    """Use ``threads`` BLAS threads from now on; None restores the default."""
    global _configured
    _configured = None if threads is None else check_int("threads", threads, 1)


def configured() -> int | None:
    """The thread count given to :func:`configure`, or None."""
    return _configured


@contextlib.contextmanager
def limit():
    """Hold the configured BLAS thread limit for the duration of the block."""
    if _configured is None:
        yield
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=_configured, user_api="blas"):
        yield
