"""Sparse training as a resumable run: gradual pruning, SET and RigL at chosen densities.

One step is one method trained once to one final density, from the initial
weights and with the batch order of round 0 of the lottery run of the same
configuration, so it sits beside that run's IMP tickets with only the way
its mask is found changed. The hooks are in sparse_training.py; each step
records what a lottery round records (its early stop chosen among the
evaluations at the final density: gradual pruning reaches it only at its last
update), the training FLOPs it spent (at the masks in force at every step)
and its mask updates, and saves its masks and
trained weights as checkpoints/<method>_<density>.npz.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

from ..config import LotteryConfig, option
from ..data import Dataset
from ..prune import density, layer_density
from ..recipe import build_model, prepare, round_seed, run_metadata, train_masked
from ..runner import ResumableRun, RunContext
from ..sparse_training import (
    DISTRIBUTIONS,
    CostMeter,
    DynamicSparse,
    GradualPruning,
    layer_densities,
)
from ..train import early_stop

METHODS = ("gradual", "set", "rigl")


@dataclass(frozen=True)
class SparseTrainingOptions:
    """The flags of ``minilottery sparse-train`` beyond the training recipe (schema.py)."""

    methods: tuple[str, ...] = option(None, "sparse", f"some of {', '.join(METHODS)}",
                                      METHODS, factory=lambda: METHODS, metavar="M,M,...")
    densities: tuple[float, ...] = option(None, "sparse", "final fractions of the weights "
                                          "kept", factory=lambda: (0.2, 0.05),
                                          metavar="D,D,...")
    distribution: str = option("uniform", "sparse", "layer densities: the same in every "
                               "layer, or Erdos-Renyi-Kernel", DISTRIBUTIONS)
    update_every: float = option(0.05, "sparse", "iterations between mask updates, or a "
                                 "fraction of training (< 1)")
    start: float = option(0.1, "sparse", "gradual: the first pruning iteration (or fraction)")
    end: float = option(0.75, "sparse", "the last mask update's iteration (or fraction): "
                        "gradual reaches its density there, SET / RigL stop moving")
    drop_fraction: float = option(0.3, "sparse", "SET / RigL: the fraction of connections "
                                  "moved at the first update, decaying on a cosine to 0")


def iteration_of(name: str, value: float, iterations: int) -> int:
    """An iteration from an option given as one, or as a fraction of training (< 1)."""
    if not 0 <= value <= iterations:
        raise ValueError(f"{name}: got {value!r}, expected a fraction of training in [0, 1) "
                         f"or an iteration in [1, {iterations}]")
    return round(value * iterations) if value < 1 else int(value)


def check_options(options: SparseTrainingOptions, iterations: int) -> dict[str, int]:
    """The options checked against the training's length; (every, start, end) iterations."""
    unknown = [m for m in options.methods if m not in METHODS]
    if not options.methods or unknown:
        raise ValueError(f"methods: got {list(options.methods)!r}, expected some of "
                         f"{', '.join(METHODS)}")
    for value in options.densities:
        if not 0 < value < 1:
            raise ValueError(f"densities: got {value!r}, expected fractions in (0, 1)")
    if not options.densities:
        raise ValueError("densities: got none, expected at least one fraction in (0, 1)")
    if options.distribution not in DISTRIBUTIONS:
        raise ValueError(f"distribution: got {options.distribution!r}, expected one of "
                         f"{', '.join(DISTRIBUTIONS)}")
    every = max(1, iteration_of("update_every", options.update_every, iterations))
    start = iteration_of("start", options.start, iterations)
    end = iteration_of("end", options.end, iterations)
    if not start < end:
        raise ValueError(f"end: got {options.end!r} (iteration {end}), expected an iteration "
                         f"after start (iteration {start})")
    if not 0 < options.drop_fraction <= 1:
        raise ValueError(f"drop_fraction: got {options.drop_fraction!r}, expected a fraction "
                         "in (0, 1]")
    return {"every": every, "start": start, "end": end}


class SparseTrainingRun(ResumableRun):
    """Each (method, density) trained once from the config's initial weights."""

    def __init__(self, config: LotteryConfig, options: SparseTrainingOptions, out_dir, *,
                 context: RunContext | None = None):
        super().__init__(out_dir, context)
        self.config, self.dataset = prepare(config, self.context.dataset)
        self.options = options
        self.schedule = check_options(options, self.config.iterations)
        self.model = build_model(self.config, self.dataset, backend=self.context.backend)
        self.init = self.model.state_dict()
        self.open()

    def identity(self) -> dict:
        return {"training": self.config.to_dict(), "sparse": asdict(self.options)}

    def fresh(self) -> dict:
        return {"meta": run_metadata(self.config, self.dataset, self.model, **self.schedule),
                "methods": {}}

    def steps(self) -> list[tuple[str, float]]:
        return [(m, d) for m in dict.fromkeys(self.options.methods)
                for d in dict.fromkeys(self.options.densities)]

    def is_done(self, step) -> bool:
        method, target = step
        return any(r["target_density"] == target
                   for r in self.results["methods"].get(method, []))

    def trainings(self, step) -> list[int]:
        return [self.config.iterations]

    def finish(self) -> dict:
        return self.results  # saved after every step: a run with nothing left writes nothing

    def hook(self, method: str, target: float):
        densities = layer_densities(self.model, target, self.options.distribution)
        s = self.schedule
        if method == "gradual":
            return GradualPruning(densities, start=s["start"], end=s["end"], every=s["every"])
        return DynamicSparse(method, densities, every=s["every"], end=s["end"],
                             drop_fraction=self.options.drop_fraction, seed=self.config.seed)

    def run_step(self, step) -> str:
        method, target = step
        c = self.config
        hook = self.hook(method, target)
        masks = hook.start_masks(self.model)
        meter = CostMeter(self.model, self.dataset.input_shape, c.batch_size,
                          dense_gradient_at=hook.due if method == "rigl" else
                          (lambda iteration: False))
        started = time.perf_counter()
        # the meter first: it charges the step just taken at the masks it used
        result = train_masked(self.model, self.dataset, c, masks, self.init,
                              seed=round_seed(c, 0), progress=self.context.progress,
                              description=f"{method} ({100 * target:.1f}%)",
                              hooks=(meter, hook))
        self.tick()
        masks = hook.masks
        self.directory.save_checkpoint(f"{method}_{target:g}", masks=masks,
                                       weights=self.model.state_dict())
        # Early stop among the evaluations at the final density only: gradual pruning is
        # denser before its last update, and its accuracy there is not the sparse network's
        best = early_stop([h for h in result.history if h["iteration"] >= hook.settled])
        record = {"method": method, "target_density": target, "density": density(masks),
                  "layer_density": layer_density(masks),
                  "kept_weights": int(sum(m.sum() for m in masks.values())),
                  **result.summary(), "early_stop_iteration": best["iteration"],
                  "early_stop_test_accuracy": best["test_accuracy"],
                  "early_stop_from": hook.settled, "training_flops": meter.flops,
                  "updates": hook.log, "seconds_with_updates": time.perf_counter() - started,
                  "history": result.history}
        self.results["methods"].setdefault(method, []).append(record)
        return (f"{method} at {100 * record['density']:.2f}%: early-stop test accuracy "
                f"{100 * best['test_accuracy']:.2f}%, final "
                f"{100 * result.final_test_accuracy:.2f}%, {meter.flops:.3g} training FLOPs")


def run_sparse_training(config: LotteryConfig, out_dir, options: SparseTrainingOptions | None
                        = None, *, dataset: Dataset | None = None, backend=None,
                        progress: bool = True, log=print) -> dict:
    """Train every method of ``options`` at each of its densities with ``config``'s recipe
    (its model, data, optimizer, iterations, seed); resumable, one record per (method,
    density) under ``results["methods"]``."""
    context = RunContext(dataset, backend, progress, log)
    return SparseTrainingRun(config, options or SparseTrainingOptions(), out_dir,
                             context=context).run()
