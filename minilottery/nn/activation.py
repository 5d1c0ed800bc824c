"""Element-wise layers: ReLU and Dropout."""

from __future__ import annotations

import numpy as np

from . import parallel
from .module import Module

# SplitMix64 (Steele, Lea & Flood, 2014): a counter-based generator. Element i of draw
# number t has counter c = (drawn so far) + i, and its bits are a fixed mix of
# key + c·golden, so any element can be computed on its own, on any device.
_GOLDEN, _MIX1, _MIX2 = 0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB
_MASK64 = (1 << 64) - 1
BITS = 24  # per draw: exact in float32, and plenty to resolve p


def _mix(xp, z):
    """SplitMix64's finaliser, in place on a uint64 array (arithmetic wraps mod 2^64)."""
    u64 = xp.uint64
    z ^= z >> u64(30)
    z *= u64(_MIX1)
    z ^= z >> u64(27)
    z *= u64(_MIX2)
    z ^= z >> u64(31)
    return z


def counter_bits(xp, key: int, counter: int, size: int):
    """``size`` uniform integers in [0, 2^BITS), elements counter .. counter + size - 1 of the
    stream ``key``: integer operations only, so NumPy and CuPy give the same values."""
    u64 = xp.uint64
    z = xp.arange(size, dtype=u64)
    z += u64(counter & _MASK64)
    z *= u64(_GOLDEN)
    z += u64(key & _MASK64)
    z = _mix(xp, z)
    z >>= u64(64 - BITS)
    return z


def stream_key(seed: int | None) -> int:
    """The 64-bit key of seed ``seed`` (None: fresh entropy), mixed on the host."""
    seed = np.random.SeedSequence().entropy if seed is None else seed
    z = np.array([seed & _MASK64], dtype=np.uint64)
    return int(_mix(np, z)[0])


class ReLU(Module):
    """y = max(x, 0); the gradient passes where x > 0.

    x (n, ...) -> y of the same shape and memory order (a convolution's
    channels-first output stays channels-first), a few images at a time on the
    pool's threads (nn/parallel.py).
    """

    def forward(self, x):
        xp = self.xp
        self.positive = xp.empty_like(x, dtype=bool)
        y = xp.empty_like(x)

        def chunk(a, b):
            # y = x · [x > 0]
            xp.greater(x[a:b], 0, out=self.positive[a:b])
            xp.multiply(x[a:b], self.positive[a:b], out=y[a:b])

        parallel.over_images(xp, x, chunk)
        return y

    def backward(self, grad_out, need_input_grad: bool = True):
        xp = self.xp
        dx = xp.empty_like(grad_out)

        def chunk(a, b):
            # dX = dY · [x > 0]
            xp.multiply(grad_out[a:b], self.positive[a:b], out=dx[a:b])

        parallel.over_images(xp, grad_out, chunk)
        return dx


class Dropout(Module):
    """Inverted dropout: in training, zero each unit with probability p and scale by 1/(1-p).

    In evaluation mode it is the identity. The mask comes from this layer's own
    counter-based stream (``counter_bits``), seeded by ``seed`` (restart it with
    ``reseed``) and computed on the device with integer operations: a run is
    reproducible, and a NumPy run and a CuPy run of one seed drop the same
    units (CuPy's random generators give other numbers than NumPy's). A unit
    is kept when its 24 random bits are >= round(p · 2^24). ``mask`` holds the
    last mask used.
    """

    def __init__(self, p: float = 0.5, *, seed: int | None = None, backend=None):
        super().__init__(backend)
        if not 0.0 <= p < 1.0:
            raise ValueError(f"Dropout: p must be in [0, 1), got {p}")
        self.p = p
        self.reseed(seed)

    def reseed(self, seed: int | None) -> None:
        """Restart the mask stream from ``seed``."""
        self.seed = seed
        self.key = stream_key(seed)
        self.counter = 0  # values of the stream used so far

    def _moved(self) -> None:
        self.reseed(self.seed)

    def forward(self, x):
        if not self.training or self.p == 0.0:
            self.mask = None
            return x
        bits = counter_bits(self.xp, self.key, self.counter, x.size)
        self.counter += x.size
        keep = (bits >= self.xp.uint64(round(self.p * 2**BITS))).reshape(x.shape)
        self.mask = keep * x.dtype.type(1.0 / (1.0 - self.p))
        return x * self.mask

    def backward(self, grad_out, need_input_grad: bool = True):
        # dX = dY · mask (the same kept units, the same scale)
        return grad_out if self.mask is None else grad_out * self.mask

    def extra_repr(self) -> str:
        return f"p={self.p}"
