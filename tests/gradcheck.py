"""Finite-difference gradient checks in float64, along random directions.

For a module f and a random upstream gradient g, the scalar L(x, θ) = Σ g · f(x; θ)
has d L / d x = backward(g) and d L / d θ = grads. Along a random direction d,
central differences give (L(x + εd) - L(x - εd)) / 2ε ≈ <backward(g), d>:
one check per argument costs two forward passes, whatever the size.
"""

from __future__ import annotations

import numpy as np

from minilottery import nn

EPS = 1e-6
RTOL = 1e-6


def _directional(loss, array, direction, eps=EPS):
    saved = array.copy()
    array[...] = saved + eps * direction
    plus = loss()
    array[...] = saved - eps * direction
    minus = loss()
    array[...] = saved
    return (plus - minus) / (2 * eps)


def check_module_gradients(module: nn.Module, x, seed: int = 0, before_forward=None,
                           check_input: bool = True):
    """Assert backward() and grads of ``module`` at input x match central differences.

    The module is cast to float64 on its own backend; ``before_forward`` runs
    before every forward pass (reseed a Dropout, say). Returns the relative
    errors by name ("input", then each parameter) for the caller to inspect.
    """
    xp = module.xp
    module.to(dtype=np.float64)
    rng = np.random.default_rng(seed)
    x = xp.asarray(np.asarray(x, dtype=np.float64))
    prepare = before_forward or (lambda: None)

    prepare()
    y = module.forward(x)
    upstream = xp.asarray(rng.standard_normal(y.shape))
    dx = module.backward(upstream)
    grads = {name: g.copy() for name, g in module.named_grads()}

    def loss():
        prepare()
        return float((module.forward(x) * upstream).sum())

    errors = {}
    targets = ([("input", x, dx)] if check_input else []) + [
        (name, param, grads[name]) for name, param in module.named_parameters()
    ]
    for name, array, analytic in targets:
        direction = xp.asarray(rng.standard_normal(array.shape))
        numeric = _directional(loss, array, direction)
        exact = float((analytic * direction).sum())
        scale = max(1.0, abs(numeric), abs(exact))
        errors[name] = abs(numeric - exact) / scale
        assert errors[name] < RTOL, (
            f"{type(module).__name__}: gradient of {name} is off: "
            f"finite differences {numeric:.10g}, backward {exact:.10g}"
        )
    return errors
