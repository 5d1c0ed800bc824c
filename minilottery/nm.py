"""N:M masks: of every M consecutive weights along the input dimension, keep the N largest.

The pattern that sparse tensor cores run at full speed (2:4 on NVIDIA's
Ampere and later): a Linear weight (out, in) is cut into groups of M along
``in``; a Conv2d weight (out, in, kh, kw) into groups of M along ``in`` at
each kernel position, so a group is M input channels of one output channel
and one (i, j). ``in`` must be a multiple of M. In each group the N weights
of largest magnitude are kept (ties broken by position), so every group
holds exactly N and the density is N / M.

Where a mask already exists (an IMP round narrowing an earlier one), the N
are chosen among the weights it keeps; a group that kept fewer keeps them all.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .checks import check_int
from .nn import Module
from .nn.prunable import prunable_layers


def _grouped(array: np.ndarray, m: int, name: str) -> np.ndarray:
    """(out, in[, kh, kw]) -> (groups, m): M consecutive input channels a row."""
    if array.ndim not in (2, 4):
        raise ValueError(f"{name}: got a weight of {array.ndim} dimensions, expected 2 or 4")
    if array.shape[1] % m:
        raise ValueError(f"{name}: {array.shape[1]} input features are not a multiple of "
                         f"M = {m}; expected a layer whose inputs split into groups of M")
    # out in kh kw -> out kh kw in: the input channels last, then cut them into groups
    moved = array if array.ndim == 2 else array.transpose(0, 2, 3, 1)
    return moved.reshape(-1, m)


def _ungrouped(groups: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    if len(shape) == 2:
        return groups.reshape(shape)
    out, c, kh, kw = shape
    return groups.reshape(out, kh, kw, c).transpose(0, 3, 1, 2)


def nm_mask(weight: np.ndarray, n: int, m: int, mask: np.ndarray | None = None,
            name: str = "weight") -> np.ndarray:
    """The N:M mask of one weight array (host), narrowed from ``mask`` if given."""
    m = check_int("m", m, 1)
    n = check_int("n", n, 1)
    if n > m:
        raise ValueError(f"n: got {n}, expected at most m = {m}")
    weight = np.asarray(weight)
    score = np.abs(_grouped(weight.astype(np.float64), m, name))
    if mask is not None:
        score = np.where(_grouped(np.asarray(mask, bool), m, name), score, -1.0)
    # the n largest of each row: a stable sort of -score keeps the first on a tie
    order = np.argsort(-score, axis=1, kind="stable")[:, :n]
    keep = np.zeros(score.shape, dtype=bool)
    np.put_along_axis(keep, order, True, axis=1)
    keep &= score >= 0.0  # never revive an entry the mask had removed
    return _ungrouped(keep, weight.shape)


def nm_prune(model: Module, n: int = 2, m: int = 4,
             masks: Mapping[str, object] | None = None,
             layers: set[str] | None = None) -> dict[str, object]:
    """N:M masks for every prunable layer of ``model`` (or only ``layers``); the others keep
    ``masks``' entry (all ones where none). Changes no weight; host arrays, as
    prune.magnitude_prune returns them."""
    backend = model.backend
    out = {}
    for name, layer in prunable_layers(model):
        weight = backend.to_numpy(layer.params["weight"])
        old = None if masks is None else backend.to_numpy(masks[name])
        if layers is not None and name not in layers:
            new = np.ones(weight.shape, bool) if old is None else old.astype(bool)
        else:
            new = nm_mask(weight, n, m, old, name)
        out[name] = new
    return out


def nm_round(model: Module, round_index: int, n: int, m: int,
             masks: Mapping[str, object] | None = None,
             layers: set[str] | None = None) -> dict[str, object]:
    """The masks of IMP round ``round_index`` toward N:M: max(N, M - round) of every group
    of M kept, one weight of each group removed a round (narrowing ``masks``; None: from
    the dense network, a one-shot round)."""
    keep = max(n, m - check_int("round_index", round_index, 1))
    return nm_prune(model, keep, m, masks, layers)


def check_groups(model: Module, m: int, layers: set[str]) -> None:
    """ValueError naming the first of ``layers`` whose inputs do not split into groups of M
    (checked before a run trains anything)."""
    for name, layer in prunable_layers(model):
        inputs = layer.params["weight"].shape[1]
        if name in layers and inputs % m:
            raise ValueError(f"nm: {name} has {inputs} inputs, not a multiple of M = {m}; "
                             f"expected layers whose inputs split into groups of M "
                             f"(--layer-rates {name}=0 leaves it dense)")
