"""Element-wise layers: ReLU and Dropout."""

from __future__ import annotations

from .module import Module


class ReLU(Module):
    """y = max(x, 0); the gradient passes where x > 0."""

    def forward(self, x):
        self.positive = x > 0
        return x * self.positive

    def backward(self, grad_out, need_input_grad: bool = True):
        # dX = dY · [x > 0]
        return grad_out * self.positive


class Dropout(Module):
    """Inverted dropout: in training, zero each unit with probability p and scale by 1/(1-p).

    In evaluation mode it is the identity. The mask comes from this layer's own
    generator on the device, seeded by ``seed`` (reseed it with ``reseed``), so
    a run is reproducible; ``mask`` holds the last mask used.
    """

    def __init__(self, p: float = 0.5, *, seed: int | None = None, backend=None):
        super().__init__(backend)
        if not 0.0 <= p < 1.0:
            raise ValueError(f"Dropout: p must be in [0, 1), got {p}")
        self.p = p
        self.reseed(seed)

    def reseed(self, seed: int | None) -> None:
        """Restart the mask generator from ``seed``."""
        self.seed = seed
        self.rng = self.backend.rng(seed)

    def _moved(self) -> None:
        self.reseed(self.seed)

    def forward(self, x):
        if not self.training or self.p == 0.0:
            self.mask = None
            return x
        keep = self.rng.random(x.shape, dtype=x.dtype) >= self.p
        self.mask = keep * x.dtype.type(1.0 / (1.0 - self.p))
        return x * self.mask

    def backward(self, grad_out, need_input_grad: bool = True):
        # dX = dY · mask (the same kept units, the same scale)
        return grad_out if self.mask is None else grad_out * self.mask

    def extra_repr(self) -> str:
        return f"p={self.p}"
