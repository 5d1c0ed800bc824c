"""Mask dynamics across stored lottery runs: how far apart their masks are.

The distance is mask_ops.mask_distance, the normalised Hamming distance of
You et al. 2020 (arXiv 1909.11957): the fraction of all mask entries that
differ. For each run, between each round's mask and

- the previous round's: IMP only narrows masks, so this is the fraction of
  the weights removed that round (a check more than a finding);
- the one-shot mask at the same per-layer counts: the largest weights of the
  dense network trained in round 0, layer by layer. How far iterating moved
  the mask from what one pruning of the trained dense network keeps.

And for each pair of runs (seeds of one recipe, or a ticket's source run and
the run of the dataset it was moved to), at each round both finished,
over the layers they share with the same shape: their distance, beside the
distance two independent random masks with the same per-layer counts would
have on average (``chance_distance``), so a distance reads as "how much
less than chance". Nothing here trains; the runs are read through StoredRun.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np

from ..mask_ops import keep_largest, mask_distance
from ..stored_run import StoredRun


def common_layers(a, b) -> list[str]:
    """The names both masks have, with the same shape, in ``a``'s order."""
    return [n for n in a if n in b and np.shape(a[n]) == np.shape(b[n])]


def chance_distance(a, b) -> float:
    """The expected distance between two independent uniformly random masks with the
    per-layer counts of ``a`` and ``b``: per layer, p(1 - q) + q(1 - p) of its entries."""
    total = sum(int(np.size(a[n])) for n in a)
    expected = 0.0
    for n in a:
        p, q = float(np.mean(a[n])), float(np.mean(b[n]))
        expected += np.size(a[n]) * (p * (1 - q) + q * (1 - p))
    return expected / total if total else 0.0


def _density(masks) -> float:
    return sum(int(np.count_nonzero(m)) for m in masks.values()) / sum(
        int(np.size(m)) for m in masks.values())


def run_dynamics(run: StoredRun) -> list[dict]:
    """One record per round of ``run``: density, distance to the previous round's mask and
    to the one-shot mask at the same per-layer counts."""
    rounds = [r["round"] for r in run.rounds]
    dense = run.checkpoint(0)["weights"] if 0 in rounds else None
    records, previous = [], None
    for r in rounds:
        masks = run.masks(r)
        record = {"round": r, "density": _density(masks)}
        if previous is not None:
            record["distance_to_previous"] = mask_distance(previous, masks)
        if dense is not None:
            record["distance_to_one_shot"] = mask_distance(
                keep_largest({n: np.abs(dense[n]) for n in masks}, masks), masks)
        records.append(record)
        previous = masks
    return records


def pair_dynamics(a: StoredRun, b: StoredRun) -> dict:
    """The distance of two runs' masks at each round both finished (shared layers only)."""
    rounds_b = {r["round"] for r in b.rounds}
    records, layers = [], None
    for r in (r["round"] for r in a.rounds if r["round"] in rounds_b):
        ma, mb = a.masks(r), b.masks(r)
        layers = common_layers(ma, mb)
        if not layers:
            raise ValueError(f"runs: {a.path} and {b.path} share no layer of the same shape, "
                             "expected runs of one architecture")
        ma, mb = ({n: m[n] for n in layers} for m in (ma, mb))
        records.append({"round": r, "density_a": _density(ma), "density_b": _density(mb),
                        "distance": mask_distance(ma, mb), "chance": chance_distance(ma, mb)})
    return {"a": str(a.path), "b": str(b.path), "layers": layers or [], "rounds": records}


def mask_dynamics(paths) -> dict:
    """The distances of the lottery runs at ``paths`` (one or more directories), each run's
    over its rounds and every pair's at their common rounds."""
    paths = list(paths)
    if not paths:
        raise ValueError("runs: got none, expected one or more lottery run directories")
    runs = [StoredRun(p, role="runs") for p in paths]
    return {"runs": [{"path": str(run.path), "rounds": run_dynamics(run)} for run in runs],
            "pairs": [pair_dynamics(a, b) for a, b in combinations(runs, 2)]}
