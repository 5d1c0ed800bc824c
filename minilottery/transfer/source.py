"""The source of a transfer: a finished lottery run, its ticket, and the target's config."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np

from ..checks import check_choice
from ..config import OPTIMIZER_NAMES, LotteryConfig
from ..runs import RunDirectory

# Standard settings when the target trains with another optimizer than the source
OPTIMIZER_DEFAULTS = {
    "sgd": {"lr": 0.1, "momentum": 0.9, "weight_decay": 1e-4},
    "adam": {"lr": 3e-4, "momentum": 0.0, "weight_decay": 0.0},
}
OUTPUT_MASKS = ("dense", "random")
RANDOM_WEIGHTS = ("reset", "fresh")
TICKETS = ("transferred", "target_ticket", "random_ticket")


@dataclass(frozen=True)
class TransferConfig:
    """A transfer run: the source run, the target data, and what may differ in training."""

    source: str  # a finished lottery run directory
    dataset: str
    data_dir: str | None = None
    data_seed: int = 0
    max_train: int | None = None
    model: str | None = None  # the architecture expected of the source (None: any)
    width: float | None = None
    optimizer: str | None = None  # None: the source's
    lr: float | None = None  # None: the source's, or OPTIMIZER_DEFAULTS on a switch
    iterations: int | None = None  # None: the source's (schedule rescaled otherwise)
    output_mask: str = "dense"
    random_weights: str = "reset"  # the random ticket's weights: "reset" or "fresh"
    target_dir: str | None = None  # the target IMP run (None: <out>/target)

    def validate(self) -> None:
        check_choice("output_mask", self.output_mask, OUTPUT_MASKS)
        check_choice("random_weights", self.random_weights, RANDOM_WEIGHTS)
        if self.optimizer is not None:
            check_choice("optimizer", self.optimizer, OPTIMIZER_NAMES)
        if self.iterations is not None and self.iterations < 1:
            raise ValueError(f"iterations: got {self.iterations}, expected >= 1")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class SourceTicket:
    """A finished lottery run: its resolved config, input shape, reset weights, masks."""

    directory: RunDirectory
    config: LotteryConfig
    results: dict
    input_shape: tuple[int, int, int]
    reset: str  # "rewind" or "init": the checkpoint the ticket's weights come from
    weights: dict[str, np.ndarray]

    @property
    def rounds(self) -> list[dict]:
        return self.results["rounds"]

    def masks(self, round_index: int) -> dict[str, np.ndarray]:
        return self.directory.load_checkpoint(f"round_{round_index:02d}")["masks"]


def load_source(path, model: str | None = None, width: float | None = None) -> SourceTicket:
    """The ticket of the finished lottery run in ``path``; clear errors for anything else.

    ``model`` / ``width``, when given, are what the caller expects the source to be.
    """
    directory = RunDirectory(path)
    not_run = f"source: {directory.path} is not a finished lottery run"
    if not directory.has_results():
        raise ValueError(f"{not_run}: it has no results.json (expected the --out of "
                         "`minilottery lottery`)")
    results = directory.load_results()
    stored = results.get("config", {})
    if "source" in stored:
        raise ValueError(f"{not_run}: it is a transfer run (of {stored['source']})")
    try:
        config = LotteryConfig.from_dict(stored)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{not_run}: its config is not a lottery config ({error})") from None
    rounds = results.get("rounds", [])
    if config.rounds is None or len(rounds) != config.rounds + 1:
        raise ValueError(f"{not_run}: {len(rounds)} of its {config.rounds}+1 rounds are "
                         "finished; run the same `minilottery lottery` command to finish it")
    if len(rounds) < 2:
        raise ValueError(f"{not_run} with pruned rounds: it has round 0 only, no ticket")
    if config.reset not in ("rewind", "init"):
        raise ValueError(f"source: {directory.path} was run with reset {config.reset!r}, "
                         "expected 'rewind' or 'init' (a reinit run has no winning ticket)")
    if model is not None and model != config.model:
        raise ValueError(f"model: got {model!r}, but the source run {directory.path} is a "
                         f"{config.model!r}; expected the source's architecture")
    if width is not None and float(width) != float(config.width):
        raise ValueError(f"width: got {width!r}, but the source run {directory.path} has "
                         f"width {config.width}; expected the source's width")
    shape = results.get("meta", {}).get("dataset", {}).get("input_shape")
    if shape is None or len(shape) != 3:
        raise ValueError(f"{not_run}: results.json has no meta.dataset.input_shape (C, H, W)")
    for name in [config.reset] + [f"round_{r:02d}" for r in range(len(rounds))]:
        if not directory.checkpoint_path(name).is_file():
            raise ValueError(f"{not_run}: checkpoint {name}.npz is missing")
    weights = directory.load_checkpoint(config.reset)["weights"]
    return SourceTicket(directory, config, results, tuple(int(d) for d in shape),
                        config.reset, weights)


def target_config(source: SourceTicket, config: TransferConfig) -> LotteryConfig:
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
        # The same schedule at another length: every iteration count scales alike
        stretch = config.iterations / c.iterations
        changes.update(
            iterations=config.iterations,
            eval_every=max(1, min(config.iterations, round(c.eval_every * stretch))),
            warmup=round(c.warmup * stretch),
            milestones=tuple(max(1, round(m * stretch)) for m in c.milestones),
            # None (reset init) and "auto" (searched again on the target) stay as they are
            rewind_iteration=(c.rewind_iteration if c.rewind_iteration in (None, "auto")
                              else round(c.rewind_iteration * stretch)),
        )
    return replace(c, **changes)
