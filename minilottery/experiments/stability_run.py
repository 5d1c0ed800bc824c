"""The instability analysis as a resumable run directory, and the "auto" rewind point's search.

One step is a pair of copies trained from θ_k (a variant, dense or a ticket's
mask, at one k); stability.py holds the analysis itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from ..config import LotteryConfig
from ..data import Dataset
from ..prune import random_masks_like
from ..recipe import prepare
from ..runner import ResumableRun, RunContext
from ..seeds import Stream, derived_seed
from ..stored_run import StoredRun
from .stability import (
    AUTO_FRACTIONS,
    DEFAULT_POINTS,
    DEFAULT_THRESHOLD,
    instability,
    stable_by_variant,
    stable_point,
    trajectory_states,
)


class StabilityRun(ResumableRun):
    """The instability analysis at each k, one record per (variant, k): a step."""

    desc = "pairs of copies"

    def __init__(self, config: LotteryConfig, ks: Sequence[int], out_dir, *,
                 context: RunContext | None = None, variants: Mapping | None = None,
                 init_state=None, ticket: Mapping | None = None,
                 points: int = DEFAULT_POINTS, threshold: float = DEFAULT_THRESHOLD,
                 stop_when_stable: bool = False):
        super().__init__(out_dir, context)
        self.config, self.dataset = prepare(config, self.context.dataset)
        self.ks = sorted({int(k) for k in ks})
        if not self.ks or self.ks[0] < 0 or self.ks[-1] >= self.config.iterations:
            raise ValueError(f"rewind iterations: got {self.ks}, expected iterations in "
                             f"[0, {self.config.iterations}) (the length of training)")
        self.variants = dict(variants or {"dense": None})
        self.init_state, self.ticket = init_state, ticket
        self.points, self.threshold, self.stop_when_stable = points, threshold, stop_when_stable
        self.states: dict[int, dict] = {}
        self.open()
        self.results["meta"].update(threshold=threshold, rewind_iterations=self.ks)
        if stop_when_stable:
            stable = [k for k in self.ks if self.stop((None, k))]
            self.ks = [k for k in self.ks if not stable or k <= stable[0]]

    def identity(self) -> dict:
        return {"training": self.config.to_dict(), "ticket": self.ticket,
                "points": int(self.points)}

    def fresh(self) -> dict:
        return {"meta": {"dataset": self.dataset.name}, "records": []}

    def steps(self) -> list[tuple[str, int]]:
        return [(variant, k) for k in self.ks for variant in self.variants]

    def is_done(self, step) -> bool:
        return any((r["variant"], r["k"]) == step for r in self.results["records"])

    def trainings(self, step) -> list[int]:
        """A pair of copies, each 2 x (T - k) iterations: one entry on the overall line."""
        return [2 * (self.config.iterations - step[1])]

    def begin(self, todo) -> None:
        self.states = trajectory_states(self.config, self.dataset, sorted({k for _, k in todo}),
                                        init_state=self.init_state,
                                        backend=self.context.backend,
                                        progress=self.context.progress)

    def run_step(self, step) -> str:
        variant, k = step
        record = {"variant": variant,
                  **instability(self.config, self.dataset, self.states[k], k,
                                self.variants[variant], points=self.points,
                                backend=self.context.backend, progress=self.context.progress)}
        self.results["records"].append(record)
        self.results["stable_k"] = stable_by_variant(self.results["records"], self.threshold)
        return (f"{variant} k={k}: barrier {100 * record['barrier']:.2f}% (end errors "
                f"{100 * record['test_errors'][0]:.2f}% / "
                f"{100 * record['test_errors'][-1]:.2f}%)")

    def stop(self, step) -> bool:
        """With ``stop_when_stable``: every variant analysed at k, all below the threshold."""
        at_k = [r for r in self.results["records"] if r["k"] == step[1]]
        return (self.stop_when_stable and len(at_k) == len(self.variants)
                and all(r["barrier"] < self.threshold for r in at_k))

    def finish(self) -> dict:
        self.results["stable_k"] = stable_by_variant(self.results["records"], self.threshold)
        return super().finish()

    def nothing_left(self) -> str:
        return f"nothing left to analyse: every k is already in {self.directory.path}"


def run_stability(config: LotteryConfig | None, ks: Sequence[int], out_dir, *, ticket=None,
                  points: int = DEFAULT_POINTS, threshold: float = DEFAULT_THRESHOLD,
                  stop_when_stable: bool = False, dataset: Dataset | None = None,
                  backend=None, progress: bool = True, log=print) -> dict:
    """The instability analysis at each k in ``ks``, one record per (variant, k), resumable.

    Without ``ticket``: the dense network of ``config``. With ``ticket`` =
    (run_dir, round): that round's mask ("ticket") and a random mask of the same
    per-layer counts ("random_prune", the lottery's own control mask), on the
    run's dense weights at iteration k, with the run's configuration (``config``
    must then be None). ``stop_when_stable``: stop at the first stable k (the
    search of ``--rewind-iteration auto``). ``dataset``: train on this Dataset
    instead of loading the config's.
    """
    options = dict(points=points, threshold=threshold, stop_when_stable=stop_when_stable,
                   context=RunContext(dataset, backend, progress, log))
    if ticket is None:
        if config is None:
            raise ValueError("config: got None, expected a LotteryConfig (or a ticket to take "
                             "the configuration from)")
        return StabilityRun(config, ks, out_dir, **options).run()
    if config is not None:
        raise ValueError("config: got a LotteryConfig with a ticket, expected None: a "
                         "ticket is analysed with its own run's configuration")
    run_dir, round_index = ticket
    source = StoredRun(run_dir, role="--ticket")
    round_index = source.check_round(round_index)
    masks = source.masks(round_index)
    # The lottery's own random_prune control mask of that round
    random_seed = derived_seed(source.config.seed, round_index, Stream.RANDOM_MASK)
    variants = {"ticket": masks, "random_prune": random_masks_like(masks, random_seed)}
    ticket_info = {"run": str(Path(run_dir).resolve()), "round": int(round_index)}
    return StabilityRun(source.config, ks, out_dir, variants=variants,
                        init_state=source.weights("init"), ticket=ticket_info,
                        **options).run()


def auto_rewind_iteration(config: LotteryConfig, out_dir, *, context: RunContext | None = None,
                          threshold: float = DEFAULT_THRESHOLD):
    """The rewind point for ``--rewind-iteration auto``: the earliest stable k of the dense net.

    Candidates are AUTO_FRACTIONS of training; the search stops at the first
    stable one (none stable: the k of smallest barrier). Returns (k, summary)
    where summary holds the barriers, for the lottery run's meta.
    """
    ks = sorted({round(f * config.iterations) for f in AUTO_FRACTIONS} - {config.iterations})
    context = context or RunContext(progress=False)
    results = run_stability(config, ks, out_dir, threshold=threshold, stop_when_stable=True,
                            dataset=context.dataset, backend=context.backend,
                            progress=context.progress, log=None)
    records = results["records"]
    chosen = stable_point(records, threshold)
    reason = f"earliest k with barrier < {threshold}"
    if chosen is None:
        chosen = min(records, key=lambda r: (r["barrier"], r["k"]))["k"]
        reason = f"no k had barrier < {threshold}: the k of smallest barrier"
    return int(chosen), {"chosen": int(chosen), "reason": reason, "threshold": threshold,
                         "barriers": {str(r["k"]): r["barrier"] for r in records},
                         "directory": str(out_dir)}
