"""How many BLAS threads the matrix products of a training may use.

The command line says ``--threads N`` once, through :func:`configure`; the
training loop holds :func:`limit` while it runs, and the command line holds it
around the whole command. A configured count always wins.

With nothing configured, the default is chosen by the size of the work. The
products of a small network (LeNet-300-100 at batch 60: 16 million
multiply-adds a forward pass, its largest product 60 x 784 x 300) are too
short for a second thread to pay much even on an idle machine, and on a busy
one OpenBLAS's threads, which spin while they wait for each other, collapse:
with two other NumPy processes multiplying matrices on a 2-core machine, a
LeNet training took 104.6 s with OpenBLAS's default of one thread per core and
4.7 s with one thread. So the rule, given the model, the batch size and the
input shape (as ``train`` does):

- a forward pass of at most ``SMALL_WORK`` multiply-adds (Linear and Conv2d
  layers, counted on one example and multiplied by the batch) runs on one
  BLAS thread;
- larger work keeps the limit already in force (OpenBLAS's default: one
  thread per core, or what a sweep worker was given): the products of a
  convolutional network are long enough for the threads to pay.

The rule only ever lowers the thread count, never raises it above the limit
in force. ``limit()`` without a model (the command line's, around a whole
command) changes nothing unless a count is configured.
"""

from __future__ import annotations

import contextlib

import numpy as np

from . import nn
from .checks import check_int

# Multiply-adds of one forward pass (the whole batch) up to which one thread runs
# (LeNet-300-100 at batch 60 is 1.6e7; Conv-2 on 28x28 at batch 60 is 1.1e9).
SMALL_WORK = 2 * 10**8

_configured: int | None = None


def configure(threads: int | None) -> None:
    """Use ``threads`` BLAS threads from now on; None restores the default."""
    global _configured
    _configured = None if threads is None else check_int("threads", threads, 1)


def configured() -> int | None:
    """The thread count given to :func:`configure`, or None."""
    return _configured


def forward_macs(model, input_shape) -> int:
    """Multiply-adds of the Linear and Conv2d layers in one example's forward pass.

    Runs one zero example through the model in evaluation mode (no BatchNorm
    statistics change, no dropout), then restores every module's mode.
    """
    modes = [(module, module.training) for module in model.modules()]
    weight = next(iter(model.parameters()), None)
    dtype = np.float32 if weight is None else weight.dtype
    model.eval()
    try:
        model.forward(model.backend.asarray(np.zeros((1, *input_shape), dtype=dtype)))
    finally:
        for module, training in modes:
            module.training = training
    total = 0
    for module in model.modules():
        weight = module.params.get("weight")
        if isinstance(module, nn.Linear):
            # one product a example: in x out multiply-adds
            total += int(weight.size)
        elif isinstance(module, nn.Conv2d) and getattr(module, "x_shape", None) is not None:
            # every output position costs one multiply-add per weight
            _, out_h, out_w = module.output_shape(module.x_shape[1:])
            total += int(weight.size) * out_h * out_w
    return total


def automatic(model, batch_size: int, input_shape) -> int | None:
    """The rule of the module docstring: 1 for small work, None (keep the limit) otherwise."""
    work = forward_macs(model, input_shape) * check_int("batch_size", batch_size, 1)
    return 1 if work <= SMALL_WORK else None


@contextlib.contextmanager
def limit(model=None, batch_size: int | None = None, input_shape=None):
    """Hold the BLAS thread limit for the block: the configured count, else the rule above.

    ``model``, ``batch_size`` and ``input_shape`` (c, h, w) describe the work;
    without them only a configured count applies.
    """
    threads = _configured
    if threads is None and model is not None and batch_size is not None \
            and input_shape is not None:
        threads = automatic(model, batch_size, input_shape)
    if threads is None:
        yield
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=threads, user_api="blas"):
        yield
