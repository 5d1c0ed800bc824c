"""The formulas of sparse training: layer densities (uniform, ERK) and schedules in time.

- Erdos-Renyi-Kernel densities (Evci et al. 2020, RigL, arXiv 1911.11134,
  after Mocanu et al. 2018's Erdos-Renyi): a layer's density is
  proportional to the sum of its weight's dimensions over their product,
  (n_out + n_in + kh + kw) / (n_out * n_in * kh * kw), scaled so that the
  whole network keeps the target fraction; a layer whose density would
  exceed 1 is kept dense and the scale is found again for the rest.
- Zhu & Gupta 2017 (To prune or not to prune, arXiv 1710.01878): the
  sparsity of gradual magnitude pruning at step t is
  s_t = s_f + (s_i - s_f) (1 - (t - t0) / (n dt))^3 for t0 <= t <= t0 + n dt.
- RigL's drop fraction decays with a cosine from its start value to 0 at the
  last update: f(t) = f0 / 2 (1 + cos(pi t / t_end)).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from .checks import check_int


def _check_density(density: float) -> float:
    if not 0.0 < density <= 1.0:
        raise ValueError(f"density: got {density!r}, expected a fraction in (0, 1]")
    return float(density)


def uniform_densities(shapes: Mapping[str, Sequence[int]], density: float) -> dict[str, float]:
    """Every layer at ``density``."""
    density = _check_density(density)
    return {name: density for name in shapes}


def erk_densities(shapes: Mapping[str, Sequence[int]], density: float,
                  dense: Sequence[str] = ()) -> dict[str, float]:
    """ERK densities of weights of ``shapes`` (name -> shape) keeping ``density`` overall.

    dense: layers kept whole from the start (the papers keep none by default).
    The kept count sum(d_l * size_l) equals density * sum(size_l) up to
    rounding to whole weights later.
    """
    density = _check_density(density)
    sizes = {n: int(np.prod(s)) for n, s in shapes.items()}
    raw = {n: sum(s) / sizes[n] for n, s in shapes.items()}  # (sum of dims) / (product)
    total = sum(sizes.values())
    kept_dense = set(dense)
    unknown = kept_dense - set(shapes)
    if unknown:
        raise ValueError(f"dense: {sorted(unknown)} are not among the layers "
                         f"{sorted(shapes)}")
    while True:
        budget = density * total - sum(sizes[n] for n in kept_dense)
        rest = [n for n in shapes if n not in kept_dense]
        if budget <= 0 or not rest:
            raise ValueError(f"density: {density} is too small to keep the dense layers "
                             f"{sorted(kept_dense)} whole")
        # scale eps: sum over the rest of eps * raw_l * size_l = budget
        eps = budget / sum(raw[n] * sizes[n] for n in rest)
        over = [n for n in rest if eps * raw[n] > 1.0]
        if not over:
            break
        kept_dense |= set(over)  # dense, and the scale is found again for the rest
    return {n: 1.0 if n in kept_dense else eps * raw[n] for n in shapes}


def cubic_sparsity(step: int, *, initial: float, final: float, start: int, every: int,
                   updates: int) -> float:
    """Zhu & Gupta's sparsity at ``step``: ``initial`` before ``start``, ``final`` after
    ``start + updates * every``, the cubic between, held constant between updates."""
    check_int("every", every, 1)
    check_int("updates", updates, 1)
    for name, value in (("initial", initial), ("final", final)):
        if not 0.0 <= value < 1.0:
            raise ValueError(f"{name}: got {value!r}, expected a sparsity in [0, 1)")
    if step < start:
        return float(initial)
    done = min((step - start) // every, updates)  # the updates made so far
    return final + (initial - final) * (1.0 - done / updates) ** 3


def cosine_drop_fraction(step: int, *, initial: float, end: int) -> float:
    """RigL's drop fraction at ``step``: ``initial`` at 0, decaying to 0 at ``end``."""
    if not 0.0 <= initial <= 1.0:
        raise ValueError(f"initial: got {initial!r}, expected a fraction in [0, 1]")
    check_int("end", end, 1)
    if step >= end:
        return 0.0
    return initial / 2.0 * (1.0 + math.cos(math.pi * step / end))
