"""Pruning at initialisation as a resumable run: each method at the densities of an IMP run.

One step is a method's mask at one round's density, trained from the run's
initial weights with the round's recipe and data order; pruning_at_init.py
holds the methods.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from ..config import REQUIRED, option
from ..data import Dataset
from ..lottery import round_record
from ..prune import density
from ..recipe import build_model, prepare, round_seed
from ..runner import ResumableRun, RunContext
from ..seeds import Stream, derived_seed
from ..stored_run import StoredRun
from .pruning_at_init import METHODS, method_masks


@dataclass(frozen=True)
class PruneAtInitOptions:
    """The flags of ``minilottery prune-at-init`` (schema.py)."""

    source: str = option(REQUIRED, "analysis", "the lottery run whose densities, init and "
                         "recipe to use", metavar="RUN_DIR")
    methods: tuple[str, ...] = option(None, "analysis", f"some of {', '.join(METHODS)}", METHODS,
                                      factory=lambda: ("snip", "synflow"), metavar="M,M,...")
    rounds: tuple[int, ...] | None = option(None, "analysis", "source rounds to match "
                                            "(default: all)", metavar="R,R,...")


class PruneAtInitRun(ResumableRun):
    """Each method's mask trained from a lottery run's init at its pruned densities: a step
    is (method, round), recorded as the lottery records a round."""

    def __init__(self, source_dir, methods, out_dir, *, rounds=None,
                 context: RunContext | None = None):
        super().__init__(out_dir, context)
        unknown = [m for m in methods if m not in METHODS]
        if not methods or unknown:
            raise ValueError(f"methods: got {list(methods)!r}, expected some of "
                             f"{', '.join(METHODS)}")
        self.source = StoredRun(source_dir, role="--source")
        self.config, self.dataset = prepare(self.source.config, self.context.dataset)
        self.init = self.source.weights("init")
        self.methods = list(methods)
        self.targets = dict((r["round"], r["density"]) for r in self.source.rounds
                            if r["round"] > 0 and (rounds is None or r["round"] in rounds))
        if not self.targets:
            raise ValueError(f"--source: {source_dir} has no pruned round "
                             f"{'yet' if rounds is None else f'among {sorted(rounds)}'}, "
                             "nothing to match")
        self.open()
        stored = self.source.results
        self.results["source"] = {
            "rounds": [_brief(r) for r in stored["rounds"]],
            "controls": {name: [_brief(r) for r in records]
                         for name, records in stored.get("controls", {}).items()}}

    def identity(self) -> dict:
        return {"source": str(self.source.path.resolve()), "training": self.config.to_dict()}

    def fresh(self) -> dict:
        return {"methods": {}}

    def steps(self) -> list[tuple[str, int]]:
        return [(method, r) for method in self.methods for r in self.targets]

    def is_done(self, step) -> bool:
        method, round_index = step
        return any(r["round"] == round_index for r in self.results["methods"].get(method, []))

    def trainings(self, step) -> list[int]:
        return [self.config.iterations]

    def run_step(self, step) -> str:
        method, round_index = step
        c, target = self.config, self.targets[round_index]
        model = build_model(c, self.dataset, backend=self.context.backend)
        model.load_state_dict(self.init)
        started = time.perf_counter()
        stream = Stream.PRUNE_AT_INIT_RANDOM if method == "random" else Stream.PRUNE_AT_INIT_BATCH
        masks = method_masks(method, model, target, self.dataset,
                             seed=derived_seed(c.seed, round_index, stream))
        scoring = time.perf_counter() - started
        # The IMP round's recipe and data order: only the mask differs
        result = self.fit(model, c, masks, self.init, seed=round_seed(c, round_index),
                          description=f"{method} ({100 * density(masks):.1f}%)")
        self.results["methods"].setdefault(method, []).append(
            round_record(round_index, masks, result, method=method, target_density=target,
                         scoring_seconds=scoring))
        return (f"{method} round {round_index}: density {100 * density(masks):.2f}%, "
                f"early-stop test accuracy {100 * result.early_stop_test_accuracy:.2f}%")


def run_prune_at_init(source_dir, methods, out_dir, *, rounds=None,
                      dataset: Dataset | None = None, backend=None, progress: bool = True,
                      log=print) -> dict:
    """Train each method's mask from the source run's init at each of its pruned densities
    (or those of ``rounds`` only).

    The training recipe, initial weights and each round's data order are the
    source run's, so a method's round r differs from the IMP ticket of round
    r only by its mask. Resumable: one record per (method, round).
    """
    context = RunContext(dataset, backend, progress, log)
    return PruneAtInitRun(source_dir, methods, out_dir, rounds=rounds, context=context).run()


def _brief(record: dict) -> dict:
    """A source round without its history."""
    return {k: v for k, v in record.items() if k != "history"}
