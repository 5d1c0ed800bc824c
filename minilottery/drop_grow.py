"""One connection update of dynamic sparse training: drop the weakest, grow as many new.

SET (Mocanu et al. 2018) and RigL (Evci et al. 2020, arXiv 1911.11134) keep
each layer's number of connections fixed while moving them:

1. drop: of the ``k = round(fraction * kept)`` connections of a layer, the
   kept weights of smallest magnitude are removed;
2. grow: ``k`` connections that are not kept after the drop are added: at
   random (SET), or where the dense gradient is largest in magnitude (RigL;
   the gradient a dense layer would get, which backward computes for the
   whole weight whatever the mask);
3. a grown weight starts at zero, and its optimizer state is zero (masked
   entries hold none: optim.py zeroes the state where the mask is False).

The function works on host arrays and returns new masks; it changes nothing.
Ties are broken by position (stable sorts), so an update is deterministic
for a given ``seed``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

GROW_MODES = ("random", "gradient")


def drop_and_grow(weights: Mapping[str, np.ndarray], masks: Mapping[str, np.ndarray],
                  fraction: float, grow: str = "random",
                  grads: Mapping[str, np.ndarray] | None = None,
                  seed: int = 0) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(new masks, grown) for every layer of ``masks``: same count per layer, ``grown``
    True where a connection was added (its weight must be set to zero). As in RigL, a
    connection just dropped may be grown again; it then starts again from zero."""
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction: got {fraction!r}, expected a fraction in [0, 1]")
    if grow not in GROW_MODES:
        raise ValueError(f"grow: got {grow!r}, expected one of {', '.join(GROW_MODES)}")
    if grow == "gradient" and grads is None:
        raise ValueError("grads: got None, expected the dense gradients for grow='gradient'")
    rng = np.random.default_rng(seed)
    new, grown = {}, {}
    for name in masks:
        mask = np.asarray(masks[name], dtype=bool).ravel()
        magnitude = np.abs(np.asarray(weights[name], dtype=np.float64)).ravel()
        kept = np.flatnonzero(mask)
        k = int(round(fraction * kept.size))
        k = min(k, mask.size - kept.size + k)  # never more than the free places after it
        # 1. drop the k kept weights of smallest |w|
        dropped = kept[np.argsort(magnitude[kept], kind="stable")[:k]]
        after = mask.copy()
        after[dropped] = False
        # 2. grow k among the places not kept after the drop
        free = np.flatnonzero(~after)
        if grow == "random":
            chosen = rng.choice(free, size=k, replace=False) if k else free[:0]
        else:
            score = np.abs(np.asarray(grads[name], dtype=np.float64)).ravel()[free]
            chosen = free[np.argsort(-score, kind="stable")[:k]]
        added = np.zeros(mask.size, dtype=bool)
        added[chosen] = True
        shape = np.shape(masks[name])
        new[name] = (after | added).reshape(shape)
        grown[name] = added.reshape(shape)
    return new, grown
