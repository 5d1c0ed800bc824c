"""Batch normalisation with PyTorch's semantics.

Training mode normalises with the batch statistics (biased variance) and
updates running estimates with momentum 0.1 (unbiased variance); evaluation
mode normalises with the running estimates. gamma and beta are stored as
"weight" and "bias", as in PyTorch, and are never pruned.
"""

from __future__ import annotations

import numpy as np

from . import parallel
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
        # Every pass goes a few images at a time on the pool's threads (nn/parallel.py); a
        # sum over the batch is one partial sum per chunk, added in the chunks' order.
        centred = xp.empty_like(x)
        if self.training:
            count = x.size // self.num_features
            if count < 2:
                raise ValueError(
                    f"{type(self).__name__}: training needs more than one value per "
                    f"channel, got input of shape {tuple(x.shape)}"
                )
            # mean = Σ x / M, var = Σ (x - mean)² / M: two passes, stable in float32
            mean = self._chunked_sum(x) / count
            var = self._chunked_sum(x, self._broadcast(mean), centred) / count
            # running = (1 - m) running + m batch, with the unbiased variance
            m = self.momentum
            self.buffers["running_mean"] *= 1 - m
            self.buffers["running_mean"] += m * mean
            self.buffers["running_var"] *= 1 - m
            self.buffers["running_var"] += (m * count / (count - 1)) * var
        else:
            # x - mean, with the running mean
            self._chunked_sum(x, self._broadcast(self.buffers["running_mean"]), centred,
                              square=False)
            var = self.buffers["running_var"]
        # inv_std = 1 / √(var + ε), per channel
        self.inv_std = (1.0 / xp.sqrt(var + self.eps)).astype(x.dtype)
        inv_std = self._broadcast(self.inv_std)
        y = xp.empty_like(x)

        def chunk(a, b):
            # x̂ = (x - mean) · inv_std, in place; y = γ x̂ + β
            x_hat = xp.multiply(centred[a:b], inv_std, out=centred[a:b])
            part = xp.multiply(x_hat, gamma, out=y[a:b])
            part += beta

        parallel.over_images(xp, x, chunk)
        self.x_hat = centred
        self.used_batch_stats = self.training
        return y

    def _chunked_sum(self, x, mean=None, centred=None, square: bool = True):
        """Σ x over every axis but the channel, or with ``mean``: centred = x - mean,
        written into ``centred``, and Σ centred² (``square``); chunk by chunk, in order."""
        xp = self.xp

        def chunk(a, b):
            if mean is None:
                return self._sum(x[a:b])
            part = xp.subtract(x[a:b], mean, out=centred[a:b])
            return self._sum(part, part) if square else None

        partials = parallel.over_images(xp, x, chunk)
        return parallel.ordered_sum(partials) if partials[0] is not None else None

    def backward(self, grad_out, need_input_grad: bool = True):
        xp, x_hat, gamma = self.xp, self.x_hat, self.params["weight"]
        # dgamma = Σ dY · x̂,  dbeta = Σ dY   (over every axis but the channel, by chunks)
        parts = parallel.over_images(xp, grad_out, lambda a, b: (
            self._sum(grad_out[a:b], x_hat[a:b]), self._sum(grad_out[a:b])))
        self.grads["weight"] = parallel.ordered_sum([dgamma for dgamma, _ in parts])
        self.grads["bias"] = parallel.ordered_sum([dbeta for _, dbeta in parts])
        if not need_input_grad:
            return None
        # dx̂ = γ dY; the per-channel factor γ / σ comes last
        scale = self._broadcast(gamma * self.inv_std)
        dx = xp.empty_like(x_hat)
        if not self.used_batch_stats:
            # Running statistics are constants: dX = γ dY / σ
            parallel.over_images(xp, grad_out, lambda a, b: xp.multiply(
                grad_out[a:b], scale, out=dx[a:b]))
            return dx
        count = x_hat.size // self.num_features
        # dX = (γ / σ) (dY - Σ dY / M - x̂ Σ dY·x̂ / M): the mean and variance depend on X
        # too. Four passes a chunk, written in place into one new array.
        k_hat = self._broadcast(-self.grads["weight"] / count)
        k_mean = self._broadcast(self.grads["bias"] / count)

        def chunk(a, b):
            part = xp.multiply(x_hat[a:b], k_hat, out=dx[a:b])
            part += grad_out[a:b]
            part -= k_mean
            part *= scale

        parallel.over_images(xp, grad_out, chunk)
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
