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

import numpy as np

from ..data import Dataset
from ..prune import apply_masks, density, random_masks_like
from ..recipe import build_model
from ..runner import ResumableRun, RunContext
from ..seeds import Stream, derived_seed
from ..stored_run import StoredRun
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


class SupermaskRun(ResumableRun):
    """Every variant's accuracy, untrained, at each round of a lottery run: a step is a round."""

    desc = "rounds"

    def __init__(self, run_dir, out_dir, *, random_seeds: int = RANDOM_SEEDS,
                 context: RunContext | None = None):
        super().__init__(out_dir, context)
        self.source = StoredRun(run_dir, role="run_dir")
        self.config = self.source.config
        self.dataset = self.context.dataset or self.config.load_data()
        self.random_seeds = random_seeds
        self.model = build_model(self.config, self.dataset, backend=self.context.backend)
        self.init = self.source.weights("init")
        # Every variant of every round is evaluated on it: to the device once
        backend = self.model.backend
        self.test = backend.asarray(self.dataset.x_test), backend.asarray(self.dataset.y_test)
        self.open()

    def identity(self) -> dict:
        return {"source": str(self.source.path.resolve()), "dataset": self.dataset.name,
                "random_seeds": self.random_seeds}

    def fresh(self) -> dict:
        return {**self.identity(), "rounds": []}

    def open(self) -> dict:
        if self.directory.has_results():
            stored = self.directory.load_results()
            if "config" not in stored:  # written before supermasks kept their identity there
                stored["config"] = {key: stored.get(key) for key in self.identity()}
                self.directory.save_results(stored)
        return super().open()

    def steps(self) -> list[dict]:
        return self.source.rounds

    def is_done(self, record) -> bool:
        return any(r["round"] == record["round"] for r in self.results["rounds"])

    def run_step(self, record) -> str:
        r, init, test = record["round"], self.init, self.test
        masks = self.source.masks(r)
        variants = {"large_final": masks}
        if r > 0 and self.config.strategy == "iterative":
            previous = self.source.checkpoint(r - 1)
            counts = {name: int(np.count_nonzero(m)) for name, m in masks.items()}
            variants["large_final_same_sign"] = same_sign_masks(
                init, previous["weights"], previous["masks"], counts)
        accuracies = {}
        for variant, variant_masks in variants.items():
            accuracies[variant] = masked_accuracy(self.model, init, variant_masks, *test)
            accuracies[f"{variant}_signed_constant"] = masked_accuracy(
                self.model, signed_constant(init, variant_masks), variant_masks, *test)
        randoms = [random_masks_like(masks, derived_seed(self.config.seed, r,
                                                         Stream.SUPERMASK_RANDOM, s))
                   for s in range(self.random_seeds)]
        accuracies["random"] = float(np.mean(
            [masked_accuracy(self.model, init, m, *test) for m in randoms]))
        accuracies["random_signed_constant"] = float(np.mean(
            [masked_accuracy(self.model, signed_constant(init, m), m, *test) for m in randoms]))
        self.results["rounds"].append({
            "round": r, "density": density(masks), "test_accuracy": accuracies,
            "trained_early_stop_test_accuracy": record["early_stop_test_accuracy"]})
        return f"round {r} ({100 * density(masks):.1f}%): " + ", ".join(
            f"{k} {100 * v:.1f}%" for k, v in accuracies.items())

    def nothing_left(self) -> str:
        return f"nothing left to evaluate: every round is already in {self.directory.path}"


def run_supermask(run_dir, out_dir, *, random_seeds: int = RANDOM_SEEDS,
                  dataset: Dataset | None = None, backend=None, progress: bool = False,
                  log=print) -> dict:
    """Accuracy without training of every variant at every round of the lottery run
    (evaluated on ``dataset`` if given, else on the run's own dataset)."""
    context = RunContext(dataset, backend, progress, log)
    return SupermaskRun(run_dir, out_dir, random_seeds=random_seeds, context=context).run()
