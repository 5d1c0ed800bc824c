"""Linear: the fully-connected layer, y = x · Wᵀ + b."""

from __future__ import annotations

import numpy as np

from .init import as_generator, draw
from .module import Module


class Linear(Module):
    """Fully-connected layer.

    weight: (out_features, in_features), PyTorch's layout; bias: (out_features,).
    forward: x (n, in_features) -> y (n, out_features).
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
        # n i, o i -> n o
        y = x @ self.params["weight"].T
        if self.has_bias:
            y += self.params["bias"]
        return y

    def backward(self, grad_out, need_input_grad: bool = True):
        weight = self.params["weight"]
        # dW = dYᵀ · X          (o n, n i -> o i)
        self.grads["weight"] = grad_out.T @ self.x
        if self.has_bias:
            # db = Σ_n dY
            self.grads["bias"] = grad_out.sum(axis=0)
        if not need_input_grad:
            return None
        # dX = dY · W           (n o, o i -> n i)
        return grad_out @ weight

    def extra_repr(self) -> str:
        return f"{self.in_features}, {self.out_features}, bias={self.has_bias}"
