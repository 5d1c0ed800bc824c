"""Sanity checks for any mask (Frankle et al. 2021, "Pruning Neural Networks at
Initialization: Why Are We Missing the Mark?", arXiv 2009.08576).

Does a pruning method's mask carry information, or only its per-layer
densities? At each density of a lottery run, the masks of a method (the run's
IMP masks, or SNIP / SynFlow / GraSP at that density, pruning_at_init.py) are
trained beside four variants, with the same weights, recipe, iterations and
data order, over several seeds:

- ``as_found``: the masks as the method found them;
- ``shuffled``: each layer's mask shuffled within the layer (same per-layer
  counts, positions random; mask_ops.shuffle_within_layers);
- ``reinit``: the masks with fresh random weights;
- ``inverted``: per layer, as many weights as the mask keeps but the
  lowest-scored ones (mask_ops.invert_masks);
- ``random``: a random mask at the same overall density, every layer at that
  density (Frankle et al.'s random pruning); with the method's own per-layer
  densities a random mask would be ``shuffled`` again.

The scores inverted: SNIP's |g ⊙ w| and GraSP's w ⊙ Hg on the batch their mask
used, SynFlow's scores of the dense network (one pass, not its 100 rounds);
IMP's: the round at which a weight was pruned, then its trained magnitude in
that round (so the order IMP removed the weights in). The weights: the run's
reset weights (IMP, starting at its round's iteration) or its initial weights
(the methods at initialisation). Seed 0 trains in the round's own data order,
so ``as_found`` of IMP at seed 0 is the run's own ticket again; seed s > 0
draws its data order, shuffle, fresh weights and random mask from named
streams.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..config import REQUIRED, option
from ..data import BatchIterator, Dataset
from ..lottery import round_record
from ..mask_ops import invert_masks, shuffle_within_layers
from ..models import build_like
from ..prune import density
from ..recipe import build_model, prepare, round_seed
from ..runner import ResumableRun, RunContext
from ..seeds import Stream, derived_seed
from ..stored_run import StoredRun
from .pruning_at_init import (
    SNIP_BATCH,
    grasp_scores,
    method_masks,
    snip_scores,
    synflow_scores,
)

SANITY_METHODS = ("imp", "snip", "synflow", "grasp")
VARIANTS = ("as_found", "shuffled", "reinit", "inverted", "random")


@dataclass(frozen=True)
class SanityOptions:
    """The flags of ``minilottery sanity`` (schema.py)."""

    source: str = option(REQUIRED, "analysis", "the lottery run whose densities, init and "
                         "recipe to use (and its masks, for imp)", metavar="RUN_DIR")
    method: str = option("imp", "analysis", "whose masks to check", SANITY_METHODS)
    rounds: tuple[int, ...] | None = option(None, "analysis", "source rounds whose densities "
                                            "to check (default: all pruned)",
                                            metavar="R,R,...")
    seeds: int = option(2, "analysis", "trainings of each variant (data orders and draws)")


def uniform_random_masks(masks, seed: int) -> dict[str, np.ndarray]:
    """Random masks at the overall density of ``masks``, every layer at that density."""
    total = sum(int(np.size(m)) for m in masks.values())
    kept = sum(int(np.count_nonzero(m)) for m in masks.values())
    rng = np.random.default_rng(seed)
    out = {}
    for name in sorted(masks):
        size = int(np.size(masks[name]))
        new = np.zeros(size, dtype=bool)
        new[rng.choice(size, size=max(1, round(kept / total * size)), replace=False)] = True
        out[name] = new.reshape(np.shape(masks[name]))
    return {name: out[name] for name in masks}


def imp_scores(run: StoredRun, round_index: int) -> dict[str, np.ndarray]:
    """IMP's order of removal up to ``round_index``: a weight's score is the last round r
    whose mask it survived (iterative; 0 one-shot) plus its magnitude in round r's trained
    weights scaled into [0, 1): the round's mask keeps exactly the highest scores."""
    last = 0 if run.config.strategy == "oneshot" else round_index - 1
    scores = {}
    for r in range(last + 1):
        checkpoint = run.checkpoint(r)
        for name, mask in checkpoint["masks"].items():
            magnitude = np.abs(np.asarray(checkpoint["weights"][name], dtype=np.float64))
            scaled = r + magnitude / (1.0 + magnitude.max())
            scores[name] = np.where(mask, scaled, scores.get(name, scaled))
    return scores


class SanityRun(ResumableRun):
    """Each variant of a method's masks trained at a run's densities over seeds: a step is
    (round, variant, seed), recorded as the lottery records a round."""

    def __init__(self, options: SanityOptions, out_dir, *, context: RunContext | None = None):
        super().__init__(out_dir, context)
        if options.method not in SANITY_METHODS:
            raise ValueError(f"method: got {options.method!r}, expected one of "
                             f"{', '.join(SANITY_METHODS)}")
        if isinstance(options.seeds, bool) or not isinstance(options.seeds, int) \
                or options.seeds < 1:
            raise ValueError(f"seeds: got {options.seeds!r}, expected a number >= 1")
        self.options = options
        self.source = StoredRun(options.source, role="--source")
        if options.method == "imp" and self.source.reset not in ("init", "rewind"):
            raise ValueError(f"--source: {self.source.path} was run with reset "
                             f"{self.source.reset!r}, expected 'init' or 'rewind' (a ticket)")
        self.config, self.dataset = prepare(self.source.config, self.context.dataset)
        chosen = self.source.check_pruned_rounds(options.rounds)
        self.targets = {r["round"]: r["density"] for r in self.source.rounds
                        if r["round"] in chosen}
        if not self.targets:
            raise ValueError(f"--source: {self.source.path} has no pruned round yet, nothing "
                             "to check")
        self.model = build_model(self.config, self.dataset, backend=self.context.backend)
        self._masks: dict[int, tuple[dict, dict]] = {}
        self.open()

    def identity(self) -> dict:
        o = self.options
        return {"source": str(self.source.path.resolve()), "method": o.method,
                "rounds": sorted(self.targets), "seeds": o.seeds,
                "training": self.config.to_dict()}

    def fresh(self) -> dict:
        return {"records": []}

    def steps(self) -> list[tuple[int, str, int]]:
        return [(r, v, s) for r in self.targets for s in range(self.options.seeds)
                for v in VARIANTS]

    def is_done(self, step) -> bool:
        r, v, s = step
        return any((x["round"], x["variant"], x["seed"]) == (r, v, s)
                   for x in self.results["records"])

    def trainings(self, step) -> list[int]:
        return [self.config.iterations - self._start(step[0])]

    def _start(self, round_index: int) -> int:
        return self.config.start_iteration(round_index) if self.options.method == "imp" else 0

    def _weights(self) -> dict[str, np.ndarray]:
        return self.source.reset_weights if self.options.method == "imp" \
            else self.source.weights("init")

    def masks_and_scores(self, round_index: int) -> tuple[dict, dict]:
        """The method's masks at the round's density and the scores they keep the top of."""
        if round_index in self._masks:
            return self._masks[round_index]
        c, method = self.config, self.options.method
        if method == "imp":
            found = (self.source.masks(round_index), imp_scores(self.source, round_index))
        else:
            self.model.load_state_dict(self.source.weights("init"))
            seed = derived_seed(c.seed, round_index, Stream.PRUNE_AT_INIT_BATCH)
            masks = method_masks(method, self.model, self.targets[round_index], self.dataset,
                                 seed=seed)
            if method == "synflow":
                scores = synflow_scores(self.model, self.dataset.input_shape)
            else:
                # the batch method_masks scored on (the same seed, the same iterator)
                batch = min(SNIP_BATCH, len(self.dataset.y_train))
                x, y = next(iter(BatchIterator(self.dataset.x_train, self.dataset.y_train,
                                               batch, seed=seed, backend=self.model.backend)))
                scores = (snip_scores if method == "snip" else grasp_scores)(self.model, x, y)
            found = (masks, scores)
        self._masks = {round_index: found}  # one round's at a time
        return found

    def variant(self, round_index: int, name: str, seed: int) -> tuple[dict, dict]:
        """(masks, start weights) of one variant."""
        c = self.config
        masks, scores = self.masks_and_scores(round_index)
        weights = self._weights()
        if name == "as_found":
            return masks, weights
        if name == "shuffled":
            return shuffle_within_layers(
                masks, derived_seed(c.seed, round_index, Stream.SANITY_SHUFFLE, seed)), weights
        if name == "reinit":
            fresh = build_like(self.model, derived_seed(c.seed, round_index,
                                                        Stream.SANITY_REINIT, seed))
            return masks, fresh.state_dict()
        if name == "inverted":
            return invert_masks(scores, masks), weights
        if name == "random":
            return uniform_random_masks(
                masks, derived_seed(c.seed, round_index, Stream.SANITY_RANDOM, seed)), weights
        raise ValueError(f"variant: got {name!r}, expected one of {', '.join(VARIANTS)}")

    def run_step(self, step) -> str:
        r, name, s = step
        c = self.config
        masks, weights = self.variant(r, name, s)
        seed = round_seed(c, r) if s == 0 else derived_seed(c.seed, r, Stream.SANITY_TRAIN, s)
        result = self.fit(self.model, c, masks, weights, seed=seed,
                          start_iteration=self._start(r),
                          description=f"{name} ({100 * density(masks):.1f}%), seed {s}")
        self.results["records"].append(round_record(r, masks, result, variant=name, seed=s))
        return (f"round {r} {name} seed {s}: density {100 * density(masks):.2f}%, early-stop "
                f"test accuracy {100 * result.early_stop_test_accuracy:.2f}%")


def run_sanity(options: SanityOptions, out_dir, *, dataset: Dataset | None = None,
               backend=None, progress: bool = True, log=print) -> dict:
    """Train a method's masks and their four variants at the densities of
    ``options.source``'s rounds, ``options.seeds`` times each; resumable."""
    context = RunContext(dataset, backend, progress, log)
    return SanityRun(options, out_dir, context=context).run()

