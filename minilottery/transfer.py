"""Ticket transfer: train a winning ticket found on one dataset (or optimizer) on another.

Morcos et al., One ticket to win them all (arXiv 1906.02773; docs/papers.md), take the
ticket of a finished IMP run -- its mask at each round and its reset
weights (the weights of iteration k under late reset, their default; of
iteration 0 under the original reset) -- and train it on a target dataset
with the same architecture. Here, at every density of the source run, four
networks train on the target with the same data order:

- transferred: the source's mask and reset weights, output layer replaced;
- target ticket: the ticket IMP finds on the target itself (a lottery run
  with the same configuration in a subdirectory, resumable on its own);
- random ticket: a random mask with the same count per layer as the
  transferred one, from the same weights (their control);
- dense: the unpruned network trained on the target (the target run's round 0).

The output layer. The target's class i has nothing to do with the source's
class i, so the output layer (weights and bias) is always replaced by fresh
weights drawn with the run seed -- the very weights the target ticket starts
from. Its mask: ``output_mask="dense"`` (the default) keeps it unpruned, as
Morcos et al. do; ``"random"`` gives it a random mask keeping the source
output layer's count. Under the VGG-19 and ResNet-50 presets (global pruning
of the conv layers only) the two coincide: the source never prunes it.

The input: the target images are resized and their channels matched
(load_dataset's ``resize`` / ``channels``) to the source's input shape.

Optimizers: ``optimizer="adam"`` trains a ticket found with SGD with Adam (and
the other way round); the dataset may be the source's own. Switching
optimizer takes that optimizer's standard settings (OPTIMIZER_DEFAULTS, the
public reproduction's); the target ticket is then IMP with the new optimizer.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from .checks import check_choice
from .config import OPTIMIZER_NAMES, LotteryConfig
from .data import Dataset
from .lottery import round_record, run_lottery
from .models import build_like
from .nn import Module, prunable_layers
from .prune import density, output_layer, random_masks_like
from .recipe import build_model, prepare, round_seed, run_metadata, train_masked
from .runs import RunDirectory
from .seeds import Stream, derived_seed

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


# The source run ----------------------------------------------------------------------


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


# The transferred network -----------------------------------------------------------


def output_prefix(model: Module) -> str:
    """The module name of the output layer ("fc", "5", "classifier.5")."""
    return output_layer(model).rsplit(".", 1)[0] if "." in output_layer(model) else ""


def transferred_state(model: Module, reset_weights) -> dict[str, np.ndarray]:
    """The source's reset weights everywhere except the output layer, which keeps the
    fresh weights ``model`` was built with (its bias included)."""
    prefix = output_prefix(model) + "."
    state = model.state_dict()
    unknown = sorted(set(reset_weights) - set(state))
    missing = sorted(name for name in set(state) - set(reset_weights)
                     if not name.startswith(prefix))
    if unknown or missing:
        raise ValueError(f"source weights do not fit the target model: unknown {unknown}, "
                         f"missing {missing}; expected the same architecture")
    for name, array in reset_weights.items():
        if not name.startswith(prefix):
            if np.shape(array) != state[name].shape:
                raise ValueError(f"source weights: {name!r} has shape {np.shape(array)}, the "
                                 f"target model expects {state[name].shape}")
            state[name] = np.asarray(array, dtype=state[name].dtype)
    return state


def transferred_masks(model: Module, source_masks, output_mask: str,
                      seed: int) -> dict[str, np.ndarray]:
    """The source masks for every hidden layer; the replaced output layer dense, or random
    with as many weights kept as the source output layer."""
    out = output_layer(model)
    shape = tuple(dict(prunable_layers(model))[out].params["weight"].shape)
    masks = {name: np.asarray(m, dtype=bool) for name, m in source_masks.items() if name != out}
    masks[out] = np.ones(shape, dtype=bool)
    if output_mask == "random":
        # Keep the source output layer's fraction of weights, at random positions
        kept = round(np.count_nonzero(source_masks[out]) / np.size(source_masks[out])
                     * masks[out].size)
        chosen = np.random.default_rng(seed).choice(masks[out].size, size=kept, replace=False)
        masks[out] = np.zeros(masks[out].size, dtype=bool)
        masks[out][chosen] = True
        masks[out] = masks[out].reshape(shape)
    return masks


# The run -----------------------------------------------------------------------------


class TransferRun:
    """One transfer run in one directory; ``run()`` trains every density not yet finished."""

    def __init__(self, config: TransferConfig, out_dir, *, dataset: Dataset | None = None,
                 backend=None, progress: bool = True, on_density=None):
        config.validate()
        self.source = load_source(config.source, config.model, config.width)
        config = replace(config, source=str(self.source.directory.path.resolve()))
        self.directory = RunDirectory(out_dir)
        target_dir = config.target_dir or str(self.directory.path / "target")
        self.config = replace(config, target_dir=str(Path(target_dir).resolve()))
        self.target, self.dataset = prepare(target_config(self.source, self.config), dataset)
        if self.dataset.input_shape != self.source.input_shape:
            raise ValueError(f"dataset {self.dataset.name!r}: input shape "
                             f"{self.dataset.input_shape} cannot be matched to the source's "
                             f"{self.source.input_shape}")
        self.given_dataset = dataset
        self.backend, self.progress = backend, progress
        self.on_density = on_density or (lambda results: None)
        c = self.target
        # Built with the run seed: its output layer is the target ticket's initial one
        self.model = build_model(c, self.dataset, backend=backend)
        self.start = transferred_state(self.model, self.source.weights)
        stored = {**self.config.to_dict(), "source_config": self.source.config.to_dict(),
                  "target_config": c.to_dict()}
        source_meta = {"dataset": self.source.results["meta"].get("dataset"),
                       "reset": self.source.reset}
        fresh = {
            "config": stored,
            "meta": run_metadata(c, self.dataset, self.model, source=source_meta,
                                 output_layer=output_layer(self.model)),
            "rounds": [],
            "controls": {"target_ticket": [], "random_ticket": []},
            "dense": None,
        }
        self.results = self.directory.open(stored, fresh)
        if not self.directory.has_results():
            # Written at once, so an interrupted first density leaves a resumable directory
            self.directory.save_results(self.results)

    def _train(self, masks, state, round_index: int, label: str):
        """A ticket on the target, with the target ticket's data order and iterations: from
        the rewind point k to the end when the source reset late, as the target's IMP
        rounds train (lottery.py)."""
        c = self.target
        start = c.rewind_iteration if self.source.reset == "rewind" else 0
        return train_masked(self.model, self.dataset, c, masks, state,
                            seed=round_seed(c, round_index), start_iteration=start,
                            progress=self.progress, description=label)

    def _target_rounds(self, upto: int) -> list[dict]:
        """The target IMP run's rounds 0..upto (trained now if missing; resumable)."""
        run = run_lottery(replace(self.target, rounds=upto), self.config.target_dir,
                          dataset=self.given_dataset, backend=self.backend,
                          progress=self.progress)
        return run["rounds"][: upto + 1]

    def run(self) -> dict:
        c, results = self.target, self.results
        controls = results["controls"]
        for round_index in range(1, len(self.source.rounds)):
            target_rounds = self._target_rounds(round_index)
            results["dense"] = target_rounds[0]
            controls["target_ticket"] = target_rounds[1:]
            done = {r["round"] for r in results["rounds"]}
            if round_index not in done:
                masks = transferred_masks(self.model, self.source.masks(round_index),
                                          self.config.output_mask,
                                          derived_seed(c.seed, round_index,
                                                       Stream.TRANSFER_OUTPUT_MASK))
                label = f"transferred ({100 * density(masks):.1f}%)"
                result = self._train(masks, self.start, round_index, label)
                results["rounds"].append(round_record(round_index, masks, result,
                                                      ticket="transferred",
                                                      reset=self.source.reset))
                random_masks = random_masks_like(
                    masks, derived_seed(c.seed, round_index, Stream.TRANSFER_RANDOM_MASK))
                state = (self.start if self.config.random_weights == "reset" else
                         build_like(self.model,
                                    derived_seed(c.seed, round_index, Stream.TRANSFER_FRESH))
                         .state_dict())
                result = self._train(random_masks, state, round_index, "  random ticket")
                controls["random_ticket"].append(round_record(round_index, random_masks,
                                                              result, ticket="random"))
            self.directory.save_results(results)
            self.on_density(results)
        return results


def run_transfer(config: TransferConfig, out_dir, *, dataset: Dataset | None = None,
                 backend=None, progress: bool = True, on_density=None) -> dict:
    """Run (or resume) the transfer ``config`` in ``out_dir``; return its results.

    ``dataset``: the target data as a Dataset, instead of loading ``config.dataset``.
    """
    return TransferRun(config, out_dir, dataset=dataset, backend=backend, progress=progress,
                       on_density=on_density).run()
