"""Operations on masks that are already made: distance, shuffling, inversion, early-bird.

A mask is a dict name -> boolean host array, as prune.py's functions return
it. These functions read masks and return new ones; none changes a model or
its argument.

- ``mask_distance``: the normalised Hamming distance of You et al. 2020
  (Drawing early-bird tickets, arXiv 1909.11957): the fraction of all mask
  entries that differ; 0 for equal masks, 1 for complements.
- ``shuffle_within_layers`` and ``invert_masks``: two of the sanity checks
  of Frankle et al. 2021 (arXiv 2009.08576). Shuffling keeps each layer's
  count and moves its kept entries to random places: what survives of the
  method is only its per-layer densities. Inversion keeps, in each layer,
  as many entries as the mask does but the lowest-scored ones.
- ``keep_largest``: the highest scores of each layer at another mask's
  per-layer counts (the magnitude mask at a ticket's densities).
- ``EarlyBird``: the stopping rule of You et al.: the last ``window`` masks
  in a queue, stop when the largest distance between any two of them falls
  below ``threshold``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from itertools import combinations

import numpy as np

from .checks import check_int


def _check_same_names(a: Mapping, b: Mapping, what: str) -> None:
    if set(a) != set(b):
        raise ValueError(f"{what}: the masks name different parameters: "
                         f"{sorted(set(a) ^ set(b))}")
    for name in a:
        if np.shape(a[name]) != np.shape(b[name]):
            raise ValueError(f"{what}: {name} has shape {np.shape(a[name])} in one mask and "
                             f"{np.shape(b[name])} in the other")


def mask_distance(a: Mapping[str, object], b: Mapping[str, object]) -> float:
    """Fraction of entries, over every parameter of the masks, where ``a`` and ``b`` differ."""
    _check_same_names(a, b, "mask_distance")
    differ = sum(int(np.count_nonzero(np.asarray(a[n]) != np.asarray(b[n]))) for n in a)
    total = sum(int(np.size(a[n])) for n in a)
    return differ / total if total else 0.0


def shuffle_within_layers(masks: Mapping[str, object], seed: int) -> dict[str, np.ndarray]:
    """Each layer's mask with its kept entries moved to random places (same count)."""
    rng = np.random.default_rng(seed)
    out = {}
    for name in sorted(masks):
        mask = np.asarray(masks[name]).astype(bool)
        out[name] = rng.permutation(mask.ravel()).reshape(mask.shape)
    return {name: out[name] for name in masks}


def invert_masks(scores: Mapping[str, object], masks: Mapping[str, object]) -> dict:
    """Per layer, keep as many entries as ``masks`` does, choosing the lowest ``scores``.

    Ties are broken by position (a stable sort), so the result is deterministic.
    A layer kept whole stays whole; an empty one stays empty.
    """
    _check_same_names(scores, masks, "invert_masks")
    out = {}
    for name, mask in masks.items():
        mask = np.asarray(mask).astype(bool)
        score = np.asarray(scores[name]).ravel()
        keep = int(mask.sum())
        inverted = np.zeros(mask.size, dtype=bool)
        inverted[np.argsort(score, kind="stable")[:keep]] = True
        out[name] = inverted.reshape(mask.shape)
    return out


def keep_largest(scores: Mapping[str, object], like: Mapping[str, object]) -> dict:
    """Per layer, the mask keeping as many of the highest ``scores`` as ``like`` keeps
    (ties broken by position): the magnitude mask, with |w| as scores, at ``like``'s
    per-layer counts."""
    _check_same_names(scores, like, "keep_largest")
    out = {}
    for name, mask in like.items():
        score = np.asarray(scores[name], dtype=np.float64).ravel()
        keep = np.zeros(score.size, dtype=bool)
        keep[np.argsort(-score, kind="stable")[:int(np.count_nonzero(mask))]] = True
        out[name] = keep.reshape(np.shape(mask))
    return out


class EarlyBird:
    """You et al.'s early-bird test: feed a mask every N iterations, ask ``found``.

    window: masks kept (You et al.: 5, one an epoch); threshold: the largest
    distance between any two of them under which the mask has settled (0.1).
    """

    def __init__(self, window: int = 5, threshold: float = 0.1):
        self.window = check_int("window", window, 2)
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"threshold: got {threshold!r}, expected a distance in [0, 1]")
        self.threshold = float(threshold)
        self.queue: deque = deque(maxlen=self.window)
        self.distances: list[float] = []  # the largest distance after each update

    def update(self, masks: Mapping[str, object]) -> bool:
        """Add the newest mask; True once the queue is full and has settled."""
        self.queue.append({name: np.asarray(m).astype(bool) for name, m in masks.items()})
        largest = max((mask_distance(a, b) for a, b in combinations(self.queue, 2)),
                      default=1.0)
        self.distances.append(largest)
        return self.found

    @property
    def found(self) -> bool:
        return len(self.queue) == self.window and self.distances[-1] < self.threshold
