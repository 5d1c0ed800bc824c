"""Early-bird tickets (You et al. 2020, "Drawing Early-Bird Tickets", arXiv 1909.11957).

The mask of magnitude pruning stops changing long before the dense network
has finished training. During one dense training (a lottery run's round 0
replayed: its initial weights, recipe and data order), every ``every``
iterations (default: one epoch, as the paper) a ``EarlyBirdSearch`` hook
takes the magnitude mask of the current weights at each target density
(the per-layer counts of an IMP round of the run) and feeds it to a
mask_ops.EarlyBird detector; a target is found when the largest distance
between its last ``window`` masks falls under ``threshold``; the training
stops once every target is found (or runs to its end: the mask of the last
iteration, the one-shot mask, is then used).

Each early-bird mask is then trained as the IMP ticket of its round is (the
run's reset weights, its round's start iteration, recipe and data order), so
the two differ only by their masks, and its cost is compared with IMP's
(cost.py): the search is the dense iterations up to the detection instead of
the r full trainings of IMP.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..config import REQUIRED, option
from ..cost import annotate_costs, dense_layer_costs, density_cost, record_cost
from ..data import Dataset
from ..lottery import round_record
from ..mask_ops import EarlyBird, keep_largest, mask_distance
from ..nn import prunable_layers
from ..prune import density
from ..recipe import build_model, prepare, round_seed
from ..runner import ResumableRun, RunContext
from ..stored_run import StoredRun, round_name

CHECKPOINT = "early_bird_masks"


@dataclass(frozen=True)
class EarlyBirdOptions:
    """The flags of ``minilottery early-bird`` (schema.py)."""

    source: str = option(REQUIRED, "analysis", "the lottery run whose densities, init and "
                         "recipe to use", metavar="RUN_DIR")
    rounds: tuple[int, ...] | None = option(None, "analysis", "source rounds whose densities "
                                            "to target (default: all pruned)",
                                            metavar="R,R,...")
    every: int | None = option(None, "analysis", "iterations between two masks (default: "
                               "one epoch)")
    window: int = option(5, "analysis", "masks compared (You et al.: 5)")
    threshold: float = option(0.1, "analysis", "found when the largest distance within the "
                              "window is under this (You et al.: 0.1)")


class EarlyBirdFound(Exception):  # noqa: N818 (not an error: the search ends)
    """Raised by the hook to end the dense training once every target is found."""


class EarlyBirdSearch:
    """A training hook (train.TrainingHook): every ``every`` iterations, the magnitude mask
    of the weights at each target's per-layer counts, fed to that target's detector."""

    def __init__(self, targets: dict, every: int, window: int, threshold: float):
        self.targets = targets  # round -> masks whose per-layer counts to keep
        self.every = every
        self.birds = {r: EarlyBird(window, threshold) for r in targets}
        self.iterations: list[int] = []
        self.found: dict[int, tuple[int, dict]] = {}  # round -> (iteration, masks)
        self.last: dict[int, dict] = {}

    def after_step(self, iteration: int, model, optimizer) -> None:
        if iteration % self.every:
            return
        to_host = model.backend.to_numpy
        weights = {name: np.abs(to_host(layer.params["weight"]))
                   for name, layer in prunable_layers(model)}
        self.iterations.append(iteration)
        for r, like in self.targets.items():
            if r in self.found:
                continue
            masks = keep_largest({n: weights[n] for n in like}, like)
            self.last[r] = masks
            if self.birds[r].update(masks):
                self.found[r] = (iteration, masks)
        if len(self.found) == len(self.targets):
            raise EarlyBirdFound(iteration)


class EarlyBirdRun(ResumableRun):
    """The search (one dense training, stopped early), then each target's early-bird mask
    trained as its IMP round's ticket: steps "search", then the rounds."""

    def __init__(self, options: EarlyBirdOptions, out_dir, *, context: RunContext | None = None):
        super().__init__(out_dir, context)
        self.options = options
        self.source = StoredRun(options.source, role="--source")
        self.config, self.dataset = prepare(self.source.config, self.context.dataset)
        c = self.config
        if self.source.reset not in ("init", "rewind"):
            raise ValueError(f"--source: {self.source.path} was run with reset "
                             f"{self.source.reset!r}, expected 'init' or 'rewind' (a ticket)")
        self.targets = self.source.check_pruned_rounds(options.rounds)
        if not self.targets:
            raise ValueError(f"--source: {self.source.path} has no pruned round yet, nothing "
                             "to target")
        self.every = (math.ceil(len(self.dataset.y_train) / c.batch_size)
                      if options.every is None else options.every)  # 0 is refused, not the default
        if self.every < 1:
            raise ValueError(f"every: got {options.every}, expected iterations >= 1")
        if options.window < 2:
            raise ValueError(f"window: got {options.window}, expected >= 2 masks")
        if not 0 < options.threshold < 1:
            raise ValueError(f"threshold: got {options.threshold}, expected a distance in "
                             "(0, 1)")
        self.model = build_model(c, self.dataset, backend=self.context.backend)
        self.table = dense_layer_costs(self.model, self.dataset.input_shape)
        self.open()
        source = {k: v for k, v in self.source.results.items() if k != "rounds"}
        source = annotate_costs({**source, "rounds": self.source.rounds,
                                 "meta": {**source.get("meta", {}), "layer_costs": self.table}})
        self.results["source"] = [{k: v for k, v in r.items() if k != "history"}
                                  for r in source["rounds"]]

    def identity(self) -> dict:
        o = self.options
        return {"source": str(self.source.path.resolve()), "training": self.config.to_dict(),
                "every": self.every, "window": o.window, "threshold": o.threshold,
                "rounds": self.targets}

    def fresh(self) -> dict:
        return {"search": None, "rounds": []}

    def steps(self) -> list:
        return ["search", *self.targets]

    def run(self) -> dict:
        self.recover()
        return super().run()

    def recover(self) -> None:
        """When the search is done but its masks' checkpoint is not intact (missing,
        truncated, damaged: checked against the size and sha256 results.json recorded),
        forget the search and the rounds trained from it: the search replays its seeded
        training, so they come back as a run never damaged."""
        if self.results["search"] is None:
            return
        problem = self.directory.checkpoint_problem(CHECKPOINT)
        if problem is None:
            return
        self.results["search"], self.results["rounds"] = None, []
        self.directory.forget_checkpoint(CHECKPOINT)
        if self.context.log is not None:
            self.context.log(f"{self.directory.checkpoint_path(CHECKPOINT)}: {problem}; "
                             "searching again and retraining its rounds")

    def is_done(self, step) -> bool:
        if step == "search":
            return self.results["search"] is not None
        return any(r["round"] == step for r in self.results["rounds"])

    def trainings(self, step) -> list[int]:
        c = self.config
        return [c.iterations - (0 if step == "search" else c.start_iteration(step))]

    def run_step(self, step) -> str:
        return self._search() if step == "search" else self._retrain(step)

    def _search(self) -> str:
        c, o = self.config, self.options
        targets = {r: self.source.masks(r) for r in self.targets}
        hook = EarlyBirdSearch(targets, self.every, o.window, o.threshold)
        try:
            self.fit(self.model, c, None, self.source.weights("init"), seed=round_seed(c, 0),
                     description="early-bird search (dense)", hooks=(hook,))
            stopped = c.iterations
        except EarlyBirdFound as found:
            self.tick()
            stopped = int(found.args[0])
        masks, records = {}, {}
        for r in self.targets:
            at, mask = hook.found.get(r, (stopped, hook.last.get(r)))
            if mask is None:  # too short a training for one mask: the weights at the end
                weights = {n: np.abs(w) for n, w in self.model.state_dict().items()
                           if n in targets[r]}
                mask = keep_largest(weights, targets[r])
            masks[round_name(r)] = mask
            records[str(r)] = {"found": r in hook.found, "iteration": at,
                               "distances": hook.birds[r].distances}
        self.directory.save_checkpoint(CHECKPOINT, **masks)
        self.results["search"] = {"stopped_at": stopped, "iterations": hook.iterations,
                                  "targets": records}
        found = ", ".join(f"round {r}: {records[str(r)]['iteration']}" for r in self.targets
                          if records[str(r)]["found"])
        return (f"search stopped at iteration {stopped} of {c.iterations}; found "
                f"{found or 'none'}")

    def _retrain(self, r: int) -> str:
        c = self.config
        masks = self.directory.load_checkpoint(CHECKPOINT)[round_name(r)]
        result = self.fit(self.model, c, masks, self.source.reset_weights,
                          seed=round_seed(c, r), start_iteration=c.start_iteration(r),
                          description=f"early-bird ({100 * density(masks):.1f}%)")
        found = self.results["search"]["targets"][str(r)]
        record = round_record(r, masks, result, found=found["found"],
                              found_at=found["iteration"],
                              distance_to_imp=mask_distance(masks, self.source.masks(r)))
        # the search: the dense training up to the detection
        dense = density_cost(self.table, {})["training_flops_per_example"]
        record["cost"] = record_cost(self.table, record, c.batch_size,
                                     dense * found["iteration"] * c.batch_size)
        self.results["rounds"].append(record)
        imp = next(s for s in self.results["source"] if s["round"] == r)
        return (f"early-bird round {r}: {100 * record['density']:.2f}%, found at "
                f"{found['iteration']}, {100 * result.early_stop_test_accuracy:.2f}% (IMP "
                f"{100 * imp['early_stop_test_accuracy']:.2f}%)")


def run_early_bird(options: EarlyBirdOptions, out_dir, *, dataset: Dataset | None = None,
                   backend=None, progress: bool = True, log=print) -> dict:
    """Search early-bird masks at the densities of ``options.source``'s rounds during one
    dense training, train each as its round's ticket; resumable."""
    context = RunContext(dataset, backend, progress, log)
    return EarlyBirdRun(options, out_dir, context=context).run()
