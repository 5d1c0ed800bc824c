"""The source of a transfer: a finished lottery run, its ticket, and the target's config."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from ..checks import check_choice
from ..config import OPTIMIZER_NAMES, REQUIRED, LotteryConfig, option, option_like
from ..presets import Schedule
from ..stored_run import StoredRun

# Standard settings when the target trains with another optimizer than the source
OPTIMIZER_DEFAULTS = {
    "sgd": {"lr": 0.1, "momentum": 0.9, "weight_decay": 1e-4},
    "adam": {"lr": 3e-4, "momentum": 0.0, "weight_decay": 0.0},
}
OUTPUT_MASKS = ("dense", "random")
RANDOM_WEIGHTS = ("reset", "fresh")


@dataclass(frozen=True)
class TransferConfig:
    """A transfer run: the source run, the target data, and what may differ in training.

    Its fields are the flags of ``minilottery transfer`` (schema.py); those it shares
    with LotteryConfig keep that field's help and choices (``option_like``).
    """

    source: str = option(REQUIRED, "transfer", "a finished `minilottery lottery` run "
                         "directory", metavar="RUN_DIR")
    dataset: str = option_like("dataset", REQUIRED, "transfer", "the target")
    data_dir: str | None = option_like("data_dir", group="transfer")
    data_seed: int = option_like("data_seed", 0, "transfer")
    max_train: int | None = option_like("max_train", group="transfer")
    model: str | None = option_like("model", None, "transfer", "the architecture expected "
                                    "of the source (checked)")
    width: float | None = option_like("width", None, "transfer", "expected width (checked)")
    optimizer: str | None = option_like("optimizer", None, "transfer", "train on the target "
                                        "with this optimizer (default: the source's)")
    lr: float | None = option_like("lr", None, "transfer", "default: the source's, or the "
                                   "new optimizer's standard one (OPTIMIZER_DEFAULTS)")
    iterations: int | None = option_like("iterations", None, "transfer", "default: the "
                                          "source's (the schedule is rescaled)")
    output_mask: str = option("dense", "transfer", "the replaced output layer: unpruned "
                              "(Morcos et al.) or a random mask at the source output layer's "
                              "density", OUTPUT_MASKS)
    random_weights: str = option("reset", "transfer", "the random ticket's weights: the "
                                 "ticket's or fresh ones", RANDOM_WEIGHTS)
    target_dir: str | None = option(None, "transfer", "the IMP run on the target (default: "
                                    "OUT/target)", metavar="RUN_DIR")

    def validate(self) -> None:
        check_choice("output_mask", self.output_mask, OUTPUT_MASKS)
        check_choice("random_weights", self.random_weights, RANDOM_WEIGHTS)
        if self.optimizer is not None:
            check_choice("optimizer", self.optimizer, OPTIMIZER_NAMES)
        if self.iterations is not None and self.iterations < 1:
            raise ValueError(f"iterations: got {self.iterations}, expected >= 1")

    def to_dict(self) -> dict:
        return asdict(self)


def load_source(path, model: str | None = None, width: float | None = None) -> StoredRun:
    """The finished lottery run in ``path`` (its ticket); clear errors for anything else.

    ``model`` / ``width``, when given, are what the caller expects the source to be.
    """
    return StoredRun(path).finished(model, width)


def target_config(source: StoredRun, config: TransferConfig) -> LotteryConfig:
    """The lottery config of the target: the source's, on the target data and optimizer."""
    c = source.config
    channels, height, width = source.input_shape
    if channels not in (1, 3):
        raise ValueError(f"source input shape {source.input_shape}: cannot match {channels} "
                         "channels, expected a source with 1 (grey) or 3 (RGB) channels")
    changes = dict(dataset=config.dataset, data_dir=config.data_dir,
                   data_seed=config.data_seed, max_train=config.max_train,
                   resize=(height, width), channels=channels, controls=())
    if config.optimizer is not None and config.optimizer != c.optimizer:
        changes.update(optimizer=config.optimizer, **OPTIMIZER_DEFAULTS[config.optimizer])
    if config.lr is not None:
        changes["lr"] = config.lr
    if config.iterations is not None and config.iterations != c.iterations:
        # The same schedule at another length (presets.Schedule); the source's rewind point
        # is an iteration or None (a finished run has chosen any "auto" k)
        stretch = config.iterations / c.iterations
        schedule = Schedule(c.iterations, c.milestones, c.warmup, c.rewind_iteration)
        scaled = schedule.scaled(stretch, config.iterations)
        changes.update(
            iterations=scaled.iterations, milestones=scaled.milestones, warmup=scaled.warmup,
            rewind_iteration=scaled.rewind_iteration,
            eval_every=max(1, min(config.iterations, round(c.eval_every * stretch))))
    return replace(c, **changes)
