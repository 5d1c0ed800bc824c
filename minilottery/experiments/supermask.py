"""Supermasks: how good is a ticket's mask on its initial weights, with no training at all?

Zhou, Lan, Liu & Yosinski, "Deconstructing Lottery Tickets: Zeros, Signs,
and the Supermask" (arXiv 1905.01067; docs/papers.md) found that the IMP mask applied to the
untrained initial weights already classifies far above chance: the mask
itself is a form of training. We measure the test accuracy of
mask ⊙ W_init at every round's density of a lottery run, for these variants:

- ``large_final``: the run's IMP mask (its criterion: keep the weights that
  are large at the end of training) on the initial weights;
- ``large_final_signed_constant``: the same mask, each kept weight replaced by
  sign(w_init) · σ_layer, σ_layer the standard deviation of the layer's initial
  weights (the paper's "signed constant" reinitialisation);
- ``large_final_same_sign``: the paper's best criterion: among the weights
  the round pruned from (the previous round's mask), keep those largest at the
  end of training *whose sign did not change*, in the same per-layer counts as
  the IMP mask; and its signed-constant version;
- ``random`` / ``random_signed_constant``: random masks with the same
  per-layer counts (mean over a few seeds), the control.

The initial weights are the run's init.npz (iteration 0) whatever its reset.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..config import LotteryConfig
from ..data import Dataset
from ..nn import prunable_layers
from ..prune import apply_masks, density, random_masks_like
from ..recipe import build_model
from ..runs import RunDirectory, atomic_write_json
from ..train import evaluate

RANDOM_SEEDS = 5
VARIANTS = ("large_final", "large_final_signed_constant", "large_final_same_sign",
            "large_final_same_sign_signed_constant", "random", "random_signed_constant")


def signed_constant(state: dict, masks: dict) -> dict:
    """A copy of ``state`` with each masked weight set to sign(w) · std(w of its layer)."""
    out = dict(state)
    for name in masks:
        weight = np.asarray(state[name])
        out[name] = (np.sign(weight) * weight.std()).astype(weight.dtype)
    return out


def same_sign_masks(initial: dict, final: dict, previous: dict, counts: dict) -> dict:
    """Per layer, the ``counts[name]`` weights of ``previous`` largest in |final| among those
    with sign(final) == sign(initial) (then the rest, by |final|, if too few kept their sign).
    """
    out = {}
    for name, alive in previous.items():
        w0, w1 = np.asarray(initial[name]).ravel(), np.asarray(final[name]).ravel()
        keep = int(counts[name])
        if keep > int(np.count_nonzero(alive)):
            raise ValueError(f"counts[{name!r}]: got {keep}, more than the "
                             f"{int(np.count_nonzero(alive))} weights of the previous mask")
        # Same-sign weights rank above every other, then by final magnitude
        score = np.abs(w1) + np.where(np.sign(w0) == np.sign(w1), np.abs(w1).max() + 1.0, 0.0)
        candidates = np.flatnonzero(np.asarray(alive).ravel())
        order = candidates[np.argsort(-score[candidates], kind="stable")]
        mask = np.zeros(w0.size, dtype=bool)
        mask[order[:keep]] = True
        out[name] = mask.reshape(np.shape(alive))
    return out


def masked_accuracy(model, state: dict, masks: dict, x, y) -> float:
    """Accuracy on (x, y) of ``state`` with ``masks`` applied, no training."""
    model.load_state_dict(state)
    apply_masks(model, masks)
    return evaluate(model, x, y)[1]


def run_supermask(run_dir, out_dir, *, dataset: Dataset | None = None, backend=None,
                  random_seeds: int = RANDOM_SEEDS, log=print) -> dict:
    """Accuracy without training of every variant at every round of the lottery run
    (evaluated on ``dataset`` if given, else on the run's own dataset)."""
    source = RunDirectory(run_dir)
    results = source.load_results()
    config = LotteryConfig.from_dict(results["config"])
    if dataset is None:
        dataset = config.load_data()
    model = build_model(config, dataset, backend=backend)
    init = source.load_checkpoint("init")["weights"]
    # Every variant of every round is evaluated on it: to the device once
    test = model.backend.asarray(dataset.x_test), model.backend.asarray(dataset.y_test)
    names = [name for name, _ in prunable_layers(model)]
    rounds = []
    previous = None
    for record in results["rounds"]:
        r = record["round"]
        checkpoint = source.load_checkpoint(f"round_{r:02d}")
        masks = checkpoint["masks"]
        variants = {"large_final": masks}
        if previous is not None and config.strategy == "iterative":
            counts = {name: int(np.count_nonzero(masks[name])) for name in names}
            variants["large_final_same_sign"] = same_sign_masks(
                init, previous["weights"], previous["masks"], counts)
        accuracies = {}
        for variant, variant_masks in variants.items():
            accuracies[variant] = masked_accuracy(model, init, variant_masks, *test)
            accuracies[f"{variant}_signed_constant"] = masked_accuracy(
                model, signed_constant(init, variant_masks), variant_masks, *test)
        randoms = [random_masks_like(masks, seed=1000 * r + s) for s in range(random_seeds)]
        accuracies["random"] = float(np.mean(
            [masked_accuracy(model, init, m, *test) for m in randoms]))
        accuracies["random_signed_constant"] = float(np.mean(
            [masked_accuracy(model, signed_constant(init, m), m, *test) for m in randoms]))
        rounds.append({"round": r, "density": density(masks), "test_accuracy": accuracies,
                       "trained_early_stop_test_accuracy": record["early_stop_test_accuracy"]})
        log(f"round {r} ({100 * density(masks):.1f}%): " + ", ".join(
            f"{k} {100 * v:.1f}%" for k, v in accuracies.items()))
        previous = checkpoint
    out = {"source": str(Path(run_dir).resolve()), "dataset": dataset.name,
           "random_seeds": random_seeds, "rounds": rounds}
    atomic_write_json(Path(out_dir) / "results.json", out)
    return out
