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
    axes: tuple[int, ...] = ()
    ndim = 0

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

    def forward(self, x):
        if x.ndim != self.ndim or x.shape[1] != self.num_features:
            expected = "(n, c)" if self.ndim == 2 else "(n, c, h, w)"
            raise ValueError(
                f"{type(self).__name__}.forward: x has shape {tuple(x.shape)}, expected "
                f"{expected} with c = {self.num_features}"
            )
        gamma = self._broadcast(self.params["weight"])
        beta = self._broadcast(self.params["bias"])
        if self.training:
            count = x.size // self.num_features
            if count < 2:
                raise ValueError(
                    f"{type(self).__name__}: training needs more than one value per "
                    f"channel, got input of shape {tuple(x.shape)}"
                )
            mean = x.mean(axis=self.axes, keepdims=True)
            centred = x - mean
            var = (centred * centred).mean(axis=self.axes, keepdims=True)
            # running = (1 - m) running + m batch, with the unbiased variance
            m = self.momentum
            self.buffers["running_mean"] *= 1 - m
            self.buffers["running_mean"] += m * mean.ravel()
            self.buffers["running_var"] *= 1 - m
            self.buffers["running_var"] += (m * count / (count - 1)) * var.ravel()
        else:
            centred = x - self._broadcast(self.buffers["running_mean"])
            var = self._broadcast(self.buffers["running_var"])
        self.inv_std = 1.0 / self.xp.sqrt(var + self.eps)
        self.x_hat = centred * self.inv_std
        self.used_batch_stats = self.training
        return self.x_hat * gamma + beta

    def backward(self, grad_out, need_input_grad: bool = True):
        x_hat, inv_std = self.x_hat, self.inv_std
        # dgamma = Σ dY · x̂,  dbeta = Σ dY   (over every axis but the channel)
        self.grads["weight"] = (grad_out * x_hat).sum(axis=self.axes)
        self.grads["bias"] = grad_out.sum(axis=self.axes)
        if not need_input_grad:
            return None
        dx_hat = grad_out * self._broadcast(self.params["weight"])
        if not self.used_batch_stats:
            # Running statistics are constants: dX = dx̂ / σ
            return dx_hat * inv_std
        count = x_hat.size // self.num_features
        # dX = (1 / (M σ)) (M dx̂ - Σ dx̂ - x̂ Σ dx̂·x̂): the mean and variance depend on X too
        sum_dx_hat = dx_hat.sum(axis=self.axes, keepdims=True)
        sum_dx_hat_x_hat = (dx_hat * x_hat).sum(axis=self.axes, keepdims=True)
        return (inv_std / count) * (count * dx_hat - sum_dx_hat - x_hat * sum_dx_hat_x_hat)

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}"


class BatchNorm1d(_BatchNorm):
    """Batch norm over (n, c): statistics per feature over the batch."""

    axes = (0,)
    ndim = 2


class BatchNorm2d(_BatchNorm):
    """Batch norm over (n, c, h, w): statistics per channel over n, h and w."""

    axes = (0, 2, 3)
    ndim = 4
