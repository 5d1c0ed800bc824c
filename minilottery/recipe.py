"""What a lottery configuration builds: its data, its model, its optimizer, a masked training.

Every experiment (the lottery, transfer, the instability analysis, pruning
at initialisation, supermasks) trains "this model, under these masks, from
these weights, with this configuration's recipe". That sentence is written
once, here, so the experiments differ only in the masks and weights they
choose and in the seed streams they draw from (seeds.py).
"""

from __future__ import annotations

import platform
from dataclasses import replace

from . import __version__, optim
from .config import LotteryConfig
from .data import Dataset
from .models import count_weights, get_model
from .nn import Module
from .prune import apply_masks
from .seeds import Stream, derived_seed
from .train import TrainResult, train


def prepare(config: LotteryConfig, dataset: Dataset | None = None):
    """(resolved config, dataset): ``dataset`` if given (a Dataset made by the caller, such
    as ``dataset_from_arrays``), else the one ``config`` names; every None filled from the
    preset scaled to its training set."""
    if dataset is None:
        dataset = config.load_data()
    elif not isinstance(dataset, Dataset):
        raise ValueError(f"dataset: got {type(dataset).__name__}, expected a "
                         "minilottery.data.Dataset (or None to load config.dataset)")
    else:
        config = replace(config, dataset=dataset.name)
    return config.resolved(len(dataset.y_train)), dataset


def build_model(config: LotteryConfig, dataset: Dataset | None = None, *, seed: int | None = None,
                backend=None) -> Module:
    """The network of ``config`` for ``dataset``'s inputs and classes (``config``'s own
    dataset when None); its initial weights come from ``seed`` (default: config.seed)."""
    if dataset is None:
        dataset = config.load_data()
    return get_model(config.model, dataset.input_shape, dataset.num_classes, config.width,
                     config.seed if seed is None else seed, dropout=config.dropout,
                     backend=backend)


def make_optimizer(model: Module, config: LotteryConfig,
                   start_iteration: int = 0) -> optim.Optimizer:
    """The optimizer and schedule of a resolved config, for ``model``, its schedule at
    ``start_iteration`` (a late-reset round continues at the rewind point)."""
    schedule = (optim.StepDecay(config.lr, config.milestones) if config.milestones
                else optim.Constant(config.lr))
    if config.warmup:
        schedule = optim.LinearWarmup(schedule, config.warmup)
    if config.optimizer == "sgd":
        return optim.SGD(model, schedule, momentum=config.momentum,
                         weight_decay=config.weight_decay, start_iteration=start_iteration)
    return optim.Adam(model, schedule, weight_decay=config.weight_decay,
                      start_iteration=start_iteration)


def train_masked(model: Module, dataset: Dataset, config: LotteryConfig, masks, start_state,
                 *, seed: int, start_iteration: int = 0, snapshot_at=(), progress: bool = True,
                 description: str = "train", hooks=()) -> TrainResult:
    """Load ``start_state`` into ``model``, keep ``masks`` in force, and train it with
    ``config``'s recipe (its iterations and evaluations) from ``start_iteration``.

    ``masks`` None trains the dense network. ``seed`` fixes the batch order
    and dropout masks (derive it from a named stream, seeds.py); ``hooks`` change the
    masks during training (train.TrainingHook).
    """
    model.load_state_dict(start_state)
    if masks is not None:
        apply_masks(model, masks)
    return train(model, dataset, make_optimizer(model, config, start_iteration),
                 iterations=config.iterations, batch_size=config.batch_size,
                 eval_every=config.eval_every,
                 start_iteration=start_iteration, seed=seed, snapshot_at=snapshot_at,
                 progress=progress, description=description, hooks=hooks)


def round_seed(config: LotteryConfig, round_index: int) -> int:
    """The batch order of a round: the same for a round, its controls and every
    experiment that compares with that round."""
    return derived_seed(config.seed, round_index, Stream.TRAIN)


def run_metadata(config: LotteryConfig, dataset: Dataset, model: Module, **extra) -> dict:
    """The "meta" block of a results.json: what ran, on what data, where."""
    return {
        "library_version": __version__,
        "seed": config.seed,
        "backend": model.backend.name,
        "python": platform.python_version(),
        "dataset": {"name": dataset.name, "sizes": dataset.sizes,
                    "input_shape": list(dataset.input_shape),
                    "num_classes": dataset.num_classes},
        "total_weights": count_weights(model),
        **extra,
    }
