"""The instability analysis as a resumable run directory, and the "auto" rewind point's search.

One step is a pair of copies trained from θ_k (a variant, dense or a ticket's
mask, at one k); stability.py holds the analysis itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..config import LotteryConfig, option
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


@dataclass(frozen=True)
class StabilityOptions:
    """What the instability analysis is asked beyond a training recipe: the flags of
    ``minilottery stability`` besides LotteryConfig's (schema.py)."""

    rewind_iterations: tuple[int, ...] = option(None, "analysis", "iterations k to analyse",
                                                factory=lambda: (0, 50, 100, 500),
                                                metavar="K,K,...")
    ticket: str | None = option(None, "analysis", "analyse a ticket of this lottery run (and "
                                "a random mask of its density) instead of the dense net; its "
                                "config is used", metavar="RUN_DIR")
    round: int | None = option(None, "analysis", "the ticket's round")
    points: int = option(DEFAULT_POINTS, "analysis", "points on the line")
    threshold: float = option(DEFAULT_THRESHOLD, "analysis", "stable when the barrier is "
                              "below this")


class StabilityRun(ResumableRun):
    """The instability analysis at each k, one record per (variant, k): a step.

    Without ``options.ticket``: the dense network of ``config``. With it: that lottery
    run's round ``options.round``, its mask ("ticket") and a random mask of the same
    per-layer counts ("random_prune", the lottery's own control mask), on the run's
    dense weights at iteration k, with the run's configuration (``config`` None).
    ``stop_when_stable``: stop at the first stable k (the search of "auto").
    """

    desc = "pairs of copies"

    def __init__(self, config: LotteryConfig | None, out_dir, options: StabilityOptions, *,
                 context: RunContext | None = None, stop_when_stable: bool = False):
        super().__init__(out_dir, context)
        self.options, self.stop_when_stable = options, stop_when_stable
        self.variants, self.init_state, self.ticket = {"dense": None}, None, None
        if options.ticket is not None:
            config = self._take_ticket(config, options)
        elif config is None:
            raise ValueError("config: got None, expected a LotteryConfig (or a ticket to take "
                             "the configuration from)")
        self.config, self.dataset = prepare(config, self.context.dataset)
        self.ks = sorted({int(k) for k in options.rewind_iterations})
        if not self.ks or self.ks[0] < 0 or self.ks[-1] >= self.config.iterations:
            raise ValueError(f"rewind iterations: got {self.ks}, expected iterations in "
                             f"[0, {self.config.iterations}) (the length of training)")
        self.points, self.threshold = options.points, options.threshold
        self.states: dict[int, dict] = {}
        self.open()
        self.results["meta"].update(threshold=self.threshold, rewind_iterations=self.ks)
        if stop_when_stable:
            stable = [k for k in self.ks if self.stop((None, k))]
            self.ks = [k for k in self.ks if not stable or k <= stable[0]]

    def _take_ticket(self, config, options: StabilityOptions) -> LotteryConfig:
        """The ticket's variants and weights; its run's config."""
        if config is not None:
            raise ValueError("config: got a LotteryConfig with a ticket, expected None: a "
                             "ticket is analysed with its own run's configuration")
        if options.round is None:
            raise ValueError("round: required with a ticket (the round whose mask to use)")
        source = StoredRun(options.ticket, role="ticket")
        round_index = source.check_round(options.round)
        masks = source.masks(round_index)
        random_seed = derived_seed(source.config.seed, round_index, Stream.RANDOM_MASK)
        self.variants = {"ticket": masks, "random_prune": random_masks_like(masks, random_seed)}
        self.init_state = source.weights("init")
        self.ticket = {"run": str(Path(options.ticket).resolve()), "round": int(round_index)}
        return source.config

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


def run_stability(config: LotteryConfig | None, out_dir, options: StabilityOptions | None = None,
                  *, dataset: Dataset | None = None, backend=None, progress: bool = True,
                  log=print) -> dict:
    """The instability analysis of ``options`` (default: StabilityOptions()), one record per
    (variant, k), resumable in ``out_dir`` (see StabilityRun). ``dataset``: train on this
    Dataset instead of loading the config's."""
    context = RunContext(dataset, backend, progress, log)
    return StabilityRun(config, out_dir, options or StabilityOptions(), context=context).run()


def auto_rewind_iteration(config: LotteryConfig, out_dir, *, context: RunContext | None = None,
                          threshold: float = DEFAULT_THRESHOLD):
    """The rewind point for ``--rewind-iteration auto``: the earliest stable k of the dense net.

    Candidates are AUTO_FRACTIONS of training; the search stops at the first
    stable one (none stable: the k of smallest barrier). Returns (k, summary)
    where summary holds the barriers, for the lottery run's meta.
    """
    ks = sorted({round(f * config.iterations) for f in AUTO_FRACTIONS} - {config.iterations})
    options = StabilityOptions(rewind_iterations=tuple(ks), threshold=threshold)
    results = StabilityRun(config, out_dir, options, context=context,
                           stop_when_stable=True).run()
    records = results["records"]
    chosen = stable_point(records, threshold)
    reason = f"earliest k with barrier < {threshold}"
    if chosen is None:
        chosen = min(records, key=lambda r: (r["barrier"], r["k"]))["k"]
        reason = f"no k had barrier < {threshold}: the k of smallest barrier"
    return int(chosen), {"chosen": int(chosen), "reason": reason, "threshold": threshold,
                         "barriers": {str(r["k"]): r["barrier"] for r in records},
                         "directory": str(out_dir)}
