"""Finite-difference gradient checks in float64, along random directions.

For a module f and a random upstream gradient g, the scalar L(x, θ) = Σ g · f(x; θ)
has d L / d x = backward(g) and d L / d θ = grads. Along a random direction d,
central differences give (L(x + εd) - L(x - εd)) / 2ε ≈ <backward(g), d>
(two step sizes, extrapolated: see _extrapolated): one check per argument
costs four forward passes, whatever the size.
With ``full=True`` every entry is checked on its own instead (four forward
passes per entry): affordable for small arrays, and it pins down which entry
is wrong. Where the step happens to cross a kink (a ReLU input within eps of
zero), the check is repeated with a ten times smaller step: finite
differences converge to a right gradient, never to a wrong one.
"""

from __future__ import annotations

import numpy as np

from minilottery import nn

EPS = 1e-6
RTOL = 1e-6


def _extrapolated(loss, shift, eps):
    """d/dt loss(t) at 0, where shift(t) moves the argument to t.

    Two central differences, at steps eps and eps/2, combined as Richardson
    does: (4·D(eps/2) - D(eps)) / 3 cancels their eps² error terms, so
    strongly curved functions (batch norm over two examples) still check to
    1e-6 while the step stays well above rounding noise.
    """
    def central(h):
        shift(h)
        plus = loss()
        shift(-h)
        minus = loss()
        return (plus - minus) / (2 * h)

    try:
        return (4 * central(eps / 2) - central(eps)) / 3
    finally:
        shift(0.0)


def _directional(loss, array, direction, eps=EPS):
    saved = array.copy()

    def shift(t):
        array[...] = saved + t * direction

    return _extrapolated(loss, shift, eps)


def numeric_gradient(loss, array, eps=EPS):
    """Finite differences of the scalar ``loss()`` with respect to every entry of ``array``."""
    host = np.zeros(array.shape, dtype=np.float64)
    for index in np.ndindex(*array.shape):
        saved = float(array[index])

        def shift(t, index=index, saved=saved):
            array[index] = saved + t

        host[index] = _extrapolated(loss, shift, eps)
    return host


def check_module_gradients(module: nn.Module, x, seed: int = 0, before_forward=None,
                           check_input: bool = True, full: bool = False):
    """Assert backward() and grads of ``module`` at input x match central differences.

    The module is cast to float64 on its own backend; ``before_forward`` runs
    before every forward pass (reseed a Dropout, say); ``full`` compares every
    entry instead of one random direction per array. Returns the relative
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
        if full:
            exact = module.backend.to_numpy(analytic).astype(np.float64)
            numeric = numeric_gradient(loss, array)
            assert exact.shape == numeric.shape, (
                f"{type(module).__name__}: gradient of {name} has shape {exact.shape}, "
                f"expected {numeric.shape}"
            )
            if np.abs(numeric - exact).max(initial=0.0) >= RTOL * max(1.0, np.abs(numeric).max(
                    initial=0.0)):
                # a step that crossed a kink (ReLU, a max-pool tie) is cured by a smaller one;
                # a wrong backward is not: keep, entry by entry, the closer of the two
                finer = numeric_gradient(loss, array, EPS / 10)
                numeric = np.where(np.abs(finer - exact) < np.abs(numeric - exact), finer,
                                   numeric)
            scale = max(1.0, float(np.abs(numeric).max(initial=0.0)))
            errors[name] = float(np.abs(numeric - exact).max(initial=0.0)) / scale
            worst = np.unravel_index(int(np.abs(numeric - exact).argmax()), exact.shape) \
                if exact.size else ()
            assert errors[name] < RTOL, (
                f"{type(module).__name__}: gradient of {name} is off at {worst}: "
                f"finite differences {numeric[worst]:.10g}, backward {exact[worst]:.10g}"
            )
            continue
        direction = xp.asarray(rng.standard_normal(array.shape))
        exact = float((analytic * direction).sum())
        candidates = []
        for eps in (EPS, EPS / 10):  # the finer step only if the first disagrees (see above)
            numeric = _directional(loss, array, direction, eps)
            candidates.append(abs(numeric - exact) / max(1.0, abs(numeric), abs(exact)))
            if candidates[-1] < RTOL:
                break
        errors[name] = min(candidates)
        assert errors[name] < RTOL, (
            f"{type(module).__name__}: gradient of {name} is off: "
            f"finite differences {numeric:.10g}, backward {exact:.10g}"
        )
    return errors
