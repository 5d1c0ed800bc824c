"""Batch normalisation with PyTorch's semantics.

Training mode normalises with the batch statistics (biased variance) and
updates running estimates with momentum 0.1 (unbiased variance); evaluation
mode normalises with the running estimates. gamma and beta are stored as
"weight" and "bias", as in PyTorch, and are never pruned.
"""

from __future__ import annotations

import numpy as np

from .module import Module


class _BatchNorm(Module):
    ndim = 0  # of x: 2 (n, c) or 4 (n, c, h, w)

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1, *,
                 dtype=np.float32, backend=None):
        super().__init__(backend)
        if num_features < 1:
            raise ValueError(f"{type(self).__name__}: num_features must be >= 1, "
                             f"got {num_features}")
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        xp = self.xp
        self.params["weight"] = xp.ones(num_features, dtype=dtype)
        self.params["bias"] = xp.zeros(num_features, dtype=dtype)
        self.buffers["running_mean"] = xp.zeros(num_features, dtype=dtype)
        self.buffers["running_var"] = xp.ones(num_features, dtype=dtype)

    def _broadcast(self, v):
        """(c,) -> (1, c) or (1, c, 1, 1), to line up with x."""
        return v.reshape((1, -1) + (1,) * (self.ndim - 2))

    def _sum(self, a, b=None):
        """Σ a (or Σ a·b) over every axis but the channel ("nchw->c").

        The backend spells it: on NumPy one einsum pass with no product array, on
        CuPy an element-wise product and a reduction (its einsum would copy both).
        """
        return self.backend.channel_sum(a, b)

    def forward(self, x):
        if x.ndim != self.ndim or x.shape[1] != self.num_features:
            expected = "(n, c)" if self.ndim == 2 else "(n, c, h, w)"
            raise ValueError(
                f"{type(self).__name__}.forward: x has shape {tuple(x.shape)}, expected "
                f"{expected} with c = {self.num_features}"
            )
        xp = self.xp
        gamma = self._broadcast(self.params["weight"])
        beta = self._broadcast(self.params["bias"])
        if self.training:
            count = x.size // self.num_features
            if count < 2:
                raise ValueError(
                    f"{type(self).__name__}: training needs more than one value per "
                    f"channel, got input of shape {tuple(x.shape)}"
                )
            # mean = Σ x / M, var = Σ (x - mean)² / M: two passes, stable in float32
            mean = self._sum(x) / count
            centred = x - self._broadcast(mean)
            var = self._sum(centred, centred) / count
            # running = (1 - m) running + m batch, with the unbiased variance
            m = self.momentum
            self.buffers["running_mean"] *= 1 - m
            self.buffers["running_mean"] += m * mean
            self.buffers["running_var"] *= 1 - m
            self.buffers["running_var"] += (m * count / (count - 1)) * var
        else:
            centred = x - self._broadcast(self.buffers["running_mean"])
            var = self.buffers["running_var"]
        # inv_std = 1 / √(var + ε), per channel; x̂ = (x - mean) · inv_std, in place
        self.inv_std = (1.0 / xp.sqrt(var + self.eps)).astype(x.dtype)
        self.x_hat = xp.multiply(centred, self._broadcast(self.inv_std), out=centred)
        self.used_batch_stats = self.training
        # y = γ x̂ + β
        y = self.x_hat * gamma
        y += beta
        return y

    def backward(self, grad_out, need_input_grad: bool = True):
        x_hat, gamma = self.x_hat, self.params["weight"]
        # dgamma = Σ dY · x̂,  dbeta = Σ dY   (over every axis but the channel)
        self.grads["weight"] = self._sum(grad_out, x_hat)
        self.grads["bias"] = self._sum(grad_out)
        if not need_input_grad:
            return None
        # dx̂ = γ dY; the per-channel factor γ / σ comes last
        scale = self._broadcast(gamma * self.inv_std)
        if not self.used_batch_stats:
            # Running statistics are constants: dX = γ dY / σ
            return grad_out * scale
        count = x_hat.size // self.num_features
        # dX = (γ / σ) (dY - Σ dY / M - x̂ Σ dY·x̂ / M): the mean and variance depend on X
        # too. Four whole-array passes, written in place into one new array.
        dx = x_hat * self._broadcast(-self.grads["weight"] / count)
        dx += grad_out
        dx -= self._broadcast(self.grads["bias"] / count)
        dx *= scale
        self.x_hat = None  # an activation-sized cache: free it until the next forward
        return dx

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}"


class BatchNorm1d(_BatchNorm):
    """Batch norm over (n, c): statistics per feature over the batch."""

    ndim = 2


class BatchNorm2d(_BatchNorm):
    """Batch norm over (n, c, h, w): statistics per channel over n, h and w."""

    ndim = 4
