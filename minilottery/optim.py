"""Optimizers (SGD, Adam) and learning-rate schedules (constant, step decay, linear warmup).

Every optimizer goes through ``Optimizer.step``, which is also the one place
where pruning masks stay in force: the gradient of a pruned weight is zeroed
before the update, so no momentum or Adam moment ever accumulates for it, and
the weight is multiplied by its mask after the update, so nothing can revive
it. The masks are read from ``model.masks`` (set by ``prune.apply_masks``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence


class Constant:
    """lr(t) = lr."""

    def __init__(self, lr: float):
        self.lr = _positive("lr", lr)

    def __call__(self, iteration: int) -> float:
        return self.lr

    def __repr__(self) -> str:
        return f"Constant({self.lr})"


class StepDecay:
    """lr(t) = lr · gamma^(number of milestones <= t): the paper's drops at 56K and 84K."""

    def __init__(self, lr: float, milestones: Sequence[int], gamma: float = 0.1):
        self.lr = _positive("lr", lr)
        self.milestones = sorted(int(m) for m in milestones)
        if any(m < 0 for m in self.milestones):
            raise ValueError(f"milestones: got {list(milestones)}, expected iterations >= 0")
        self.gamma = _positive("gamma", gamma)

    def __call__(self, iteration: int) -> float:
        drops = sum(1 for m in self.milestones if iteration >= m)
        return self.lr * self.gamma**drops

    def __repr__(self) -> str:
        return f"StepDecay({self.lr}, milestones={self.milestones}, gamma={self.gamma})"


class LinearWarmup:
    """Ramp linearly from lr/warmup to the inner schedule over ``warmup`` iterations.

    lr(t) = inner(t) · min(1, (t + 1) / warmup). The LTH paper needs this to
    find tickets in VGG-19 and ResNet-18 at the higher learning rates.
    """

    def __init__(self, inner: Callable[[int], float] | float, warmup: int):
        self.inner = inner if callable(inner) else Constant(inner)
        if warmup < 0:
            raise ValueError(f"warmup: got {warmup}, expected an iteration count >= 0")
        self.warmup = int(warmup)

    def __call__(self, iteration: int) -> float:
        scale = 1.0 if self.warmup == 0 else min(1.0, (iteration + 1) / self.warmup)
        return self.inner(iteration) * scale

    def __repr__(self) -> str:
        return f"LinearWarmup({self.inner!r}, warmup={self.warmup})"


def _positive(name: str, value: float) -> float:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
        raise ValueError(f"{name}: got {value!r}, expected a finite number > 0")
    return float(value)


def _non_negative(name: str, value: float) -> float:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
        raise ValueError(f"{name}: got {value!r}, expected a finite number >= 0")
    return float(value)


class Optimizer:
    """Base class: walks the model's parameters, applies weight decay and the masks.

    ``lr`` is a number or a schedule (a callable iteration -> lr). Subclasses
    write only ``_update(name, param, grad, lr)``, which changes param in place.

    ``iteration`` is the schedule's position only: an optimizer made to
    continue a training at iteration k (late reset) starts there, so warmup
    and learning-rate drops fall where they would have. Anything an update
    rule counts for itself (Adam's bias correction) it counts per parameter,
    as PyTorch's ``state["step"]`` does.
    """

    def __init__(self, model, lr, weight_decay: float = 0.0, *, start_iteration: int = 0):
        self.model = model
        self.schedule = lr if callable(lr) else Constant(lr)
        self.weight_decay = _non_negative("weight_decay", weight_decay)
        self.slots = list(model.parameter_slots())
        self.state: dict[str, dict] = {}
        if isinstance(start_iteration, bool) or not isinstance(start_iteration, int) \
                or start_iteration < 0:
            raise ValueError(f"start_iteration: got {start_iteration!r}, expected an int >= 0")
        self.iteration = start_iteration
        self._masks_seen = None

    @property
    def lr(self) -> float:
        """The learning rate of the next step."""
        return self.schedule(self.iteration)

    def step(self) -> None:
        """One update of every parameter from the gradients the last backward left."""
        masks = getattr(self.model, "masks", None) or {}
        if masks is not self._masks_seen:
            self._mask_state(masks)
        lr = self.lr
        for name, module, key in self.slots:
            param, grad = module.params[key], module.grads.get(key)
            if grad is None:
                raise RuntimeError(f"optimizer: no gradient for {name!r}; run backward first")
            mask = masks.get(name)
            if mask is not None:
                grad = grad * mask
            if self.weight_decay:
                # L2 penalty (λ/2)|w|² adds λ·w to the gradient (PyTorch's weight_decay)
                grad = grad + self.weight_decay * param
            self._update(name, param, grad, lr)
            if mask is not None:
                param *= mask
        self.iteration += 1

    def _mask_state(self, masks) -> None:
        """Zero the optimizer state of pruned weights when the masks change."""
        for name, state in self.state.items():
            mask = masks.get(name)
            if mask is not None:
                for buffer in state.values():
                    if hasattr(buffer, "shape") and buffer.shape == mask.shape:
                        buffer *= mask
        self._masks_seen = masks

    def clear_state(self, name: str, where) -> None:
        """Zero the state (momentum, Adam's moments) of ``name``'s entries where ``where``
        (a device boolean array shaped like the parameter) is True: a connection that dynamic
        sparse training grows again starts with no memory of its past."""
        for buffer in self.state.get(name, {}).values():
            if hasattr(buffer, "shape") and buffer.shape == where.shape:
                buffer[where] = 0

    def _update(self, name: str, param, grad, lr: float) -> None:
        raise NotImplementedError


class SGD(Optimizer):
    """Stochastic gradient descent with momentum and Nesterov, as PyTorch (no dampening).

    v ← μ·v + g;   w ← w - lr·v   (Nesterov: w ← w - lr·(g + μ·v))
    """

    def __init__(self, model, lr, momentum: float = 0.0, weight_decay: float = 0.0,
                 nesterov: bool = False, *, start_iteration: int = 0):
        super().__init__(model, lr, weight_decay, start_iteration=start_iteration)
        self.momentum = _non_negative("momentum", momentum)
        if nesterov and self.momentum == 0:
            raise ValueError("nesterov: got True with momentum 0, expected momentum > 0")
        self.nesterov = nesterov

    def _update(self, name, param, grad, lr):
        if self.momentum == 0:
            param -= lr * grad
            return
        state = self.state.get(name)
        if state is None:
            # PyTorch starts the velocity at the first gradient
            state = self.state[name] = {"velocity": grad.copy()}
        else:
            state["velocity"] *= self.momentum
            state["velocity"] += grad
        velocity = state["velocity"]
        param -= lr * (grad + self.momentum * velocity if self.nesterov else velocity)


class Adam(Optimizer):
    """Adam (Kingma & Ba) with bias correction, as PyTorch (L2 weight decay, not AdamW).

    m ← β₁m + (1-β₁)g;  v ← β₂v + (1-β₂)g²;  w ← w - lr · m̂ / (√v̂ + ε)

    The bias correction counts the updates each parameter's moments have
    seen (``steps[name]``, PyTorch's ``state["step"]``), not the schedule's
    iteration: a fresh Adam that continues a schedule at k still corrects
    zero moments as zero.
    """

    def __init__(self, model, lr, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, *, start_iteration: int = 0):
        super().__init__(model, lr, weight_decay, start_iteration=start_iteration)
        if not (len(betas) == 2 and all(0.0 <= b < 1.0 for b in betas)):
            raise ValueError(f"betas: got {betas!r}, expected two numbers in [0, 1)")
        self.betas = (float(betas[0]), float(betas[1]))
        self.steps: dict[str, int] = {}  # updates each parameter's moments have seen
        self.eps = _positive("eps", eps)

    def _update(self, name, param, grad, lr):
        xp = self.model.backend.xp
        beta1, beta2 = self.betas
        state = self.state.get(name)
        if state is None:
            state = self.state[name] = {"m": xp.zeros_like(param), "v": xp.zeros_like(param)}
        self.steps[name] = self.steps.get(name, 0) + 1
        m, v = state["m"], state["v"]
        m *= beta1
        m += (1 - beta1) * grad
        v *= beta2
        v += (1 - beta2) * (grad * grad)
        t = self.steps[name]
        # w -= lr / (1 - β₁ᵗ) · m / (√v / √(1 - β₂ᵗ) + ε)
        denom = xp.sqrt(v)
        denom /= math.sqrt(1 - beta2**t)
        denom += self.eps
        param -= (lr / (1 - beta1**t)) * m / denom


OPTIMIZERS = {"sgd": SGD, "adam": Adam}
