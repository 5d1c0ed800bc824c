"""Linear: the fully-connected layer, y = x · Wᵀ + b."""

from __future__ import annotations

import numpy as np

from . import parallel
from .init import as_generator, draw
from .module import Module


class Linear(Module):
    """Fully-connected layer.

    weight: (out_features, in_features), PyTorch's layout; bias: (out_features,).
    forward: x (n, in_features) -> y (n, out_features). Each product is split by
    blocks of features (never of the batch, whose sum dW is) over the pool's threads.
    Biases start at zero; the weight is drawn with ``init`` (see nn.init.draw).
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        *,
        init: str = "glorot_normal",
        rng: np.random.Generator | int | None = None,
        dtype=np.float32,
        backend=None,
    ):
        super().__init__(backend)
        if in_features < 1 or out_features < 1:
            raise ValueError(
                f"Linear: in_features and out_features must be >= 1, "
                f"got {in_features} and {out_features}"
            )
        self.in_features, self.out_features = in_features, out_features
        self.init, self.dtype, self.has_bias = init, dtype, bias
        self.reset_parameters(rng)

    def reset_parameters(self, rng: np.random.Generator | int | None = None) -> None:
        """Draw a fresh weight (on the host, then to the device) and zero the bias."""
        weight = draw(self.init, (self.out_features, self.in_features), as_generator(rng),
                      self.dtype)
        self.params["weight"] = self.backend.asarray(weight)
        if self.has_bias:
            self.params["bias"] = self.xp.zeros(self.out_features, dtype=self.dtype)

    def forward(self, x):
        if x.ndim != 2 or x.shape[1] != self.in_features:
            raise ValueError(
                f"Linear.forward: x has shape {tuple(x.shape)}, "
                f"expected (n, {self.in_features})"
            )
        self.x = x
        xp, weight = self.xp, self.params["weight"]
        n, o = x.shape[0], self.out_features
        y = xp.empty((n, o), dtype=x.dtype)
        bias = self.params["bias"] if self.has_bias else None

        def block(a, b):
            # n i, i o -> n o, for the output features a..b
            part = xp.matmul(x, weight[a:b].T, out=y[:, a:b])
            if bias is not None:
                part += bias[a:b]

        parallel.over_features(xp, o, n * self.in_features, block)
        return y

    def backward(self, grad_out, need_input_grad: bool = True):
        xp, weight, x = self.xp, self.params["weight"], self.x
        (n, i), o = x.shape, self.out_features
        dw = xp.empty((o, i), dtype=grad_out.dtype)
        # dW = dYᵀ · X          (o n, n i -> o i), rows a..b
        parallel.over_features(xp, o, n * i, lambda a, b: xp.matmul(
            grad_out[:, a:b].T, x, out=dw[a:b]))
        self.grads["weight"] = dw
        if self.has_bias:
            # db = Σ_n dY
            self.grads["bias"] = grad_out.sum(axis=0)
        if not need_input_grad:
            return None
        dx = xp.empty((n, i), dtype=grad_out.dtype)
        # dX = dY · W           (n o, o i -> n i), columns a..b
        parallel.over_features(xp, i, n * o, lambda a, b: xp.matmul(
            grad_out, weight[:, a:b], out=dx[:, a:b]))
        return dx

    def extra_repr(self) -> str:
        return f"{self.in_features}, {self.out_features}, bias={self.has_bias}"
