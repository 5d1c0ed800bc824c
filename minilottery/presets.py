"""One preset per experiment of the papers: optimizer, schedule, batch, pruning rates, reset.

The values are the papers' (see docs/papers.md). Iteration counts are the
papers' numbers of *epochs*: a preset scales its iterations, learning-rate
milestones, warmup and rewind point by ``train_size / paper_train_size``, so
the bundled 3,500-image MNIST sample gets as many passes over its data as
the paper's 55,000 images did. ``Schedule.scaled`` is the one rule that
stretches a schedule (to a dataset, to an explicit --iterations, to a
transfer's target length).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

MNIST_TRAIN = 55_000
CIFAR_TRAIN = 45_000


@dataclass(frozen=True)
class Schedule:
    """The iteration counts of a training: its length, learning-rate drops, warmup, and the
    rewind point of a late reset (None: none)."""

    iterations: int
    milestones: tuple[int, ...] = ()
    warmup: int = 0
    rewind_iteration: int | None = 0

    def scaled(self, factor: float, iterations: int | None = None) -> Schedule:
        """The same schedule at ``factor`` times the length (``iterations`` if given): every
        count scales alike, rounded; training and a drop never come to iteration 0."""
        length = iterations if iterations is not None else max(1, round(self.iterations * factor))
        rewind = self.rewind_iteration
        return Schedule(length, tuple(max(1, round(m * factor)) for m in self.milestones),
                        round(self.warmup * factor),
                        None if rewind is None else round(rewind * factor))


@dataclass(frozen=True)
class Preset:
    """The training and pruning recipe of one experiment, at the paper's scale."""

    model: str
    optimizer: str  # "adam" or "sgd"
    lr: float
    batch_size: int
    iterations: int  # at the paper's scale
    paper_train_size: int
    momentum: float = 0.0
    weight_decay: float = 0.0
    milestones: tuple[int, ...] = ()  # learning-rate drops (x0.1), at the paper's scale
    warmup: int = 0  # linear warmup iterations, at the paper's scale
    eval_every: int = 100
    scope: str = "layer"  # "layer" or "global"
    conv_rate: float = 0.0  # fraction of remaining conv weights pruned per round
    fc_rate: float = 0.2  # ... of hidden fully-connected weights
    output_rate: float = 0.1  # ... of the output layer's weights
    reset: str = "init"
    rewind_iteration: int = 0  # at the paper's scale
    rounds: int = 20
    note: str = ""

    def scale(self, train_size: int) -> float:
        """How many iterations here make one paper iteration: the ratio of epoch lengths."""
        return train_size / self.paper_train_size

    def scaled(self, train_size: int) -> Schedule:
        """The preset's schedule scaled to a training set of ``train_size``."""
        if train_size < 1:
            raise ValueError(f"train_size: got {train_size}, expected >= 1")
        schedule = Schedule(self.iterations, self.milestones, self.warmup,
                            self.rewind_iteration)
        return schedule.scaled(self.scale(train_size))

    def eval_every_for(self, iterations: int) -> int:
        """Evaluations every ``eval_every`` iterations, but at least 20 in a training."""
        return max(1, min(self.eval_every, iterations // 20))

    def to_dict(self) -> dict:
        return asdict(self)


PRESETS: dict[str, Preset] = {
    "lenet300": Preset(
        "lenet300", "adam", 1.2e-3, 60, 50_000, MNIST_TRAIN,
        fc_rate=0.2, output_rate=0.1, rounds=20,
        note="LTH Fig. 3/4: MNIST, Adam 1.2e-3, 50K iterations of 60, fc 20% / output 10%",
    ),
    "conv2": Preset(
        "conv2", "adam", 2e-4, 60, 20_000, CIFAR_TRAIN,
        conv_rate=0.1, fc_rate=0.2, output_rate=0.1, rounds=20,
        note="LTH Fig. 5: CIFAR-10, Adam 2e-4, 20K iterations, conv 10% / fc 20%",
    ),
    "conv4": Preset(
        "conv4", "adam", 3e-4, 60, 25_000, CIFAR_TRAIN,
        conv_rate=0.1, fc_rate=0.2, output_rate=0.1, rounds=20,
        note="LTH Fig. 5: CIFAR-10, Adam 3e-4, 25K iterations, conv 10% / fc 20%",
    ),
    "conv6": Preset(
        "conv6", "adam", 3e-4, 60, 30_000, CIFAR_TRAIN,
        conv_rate=0.15, fc_rate=0.2, output_rate=0.1, rounds=20,
        note="LTH Fig. 5: CIFAR-10, Adam 3e-4, 30K iterations, conv 15% / fc 20%",
    ),
    "vgg19": Preset(
        "vgg19", "sgd", 0.1, 64, 112_000, CIFAR_TRAIN,
        momentum=0.9, weight_decay=1e-4, milestones=(56_000, 84_000), warmup=10_000,
        scope="global", conv_rate=0.2, fc_rate=0.0, output_rate=0.0, rounds=20,
        note="LTH Fig. 7: SGD 0.1 with 10K warmup, drops at 56K/84K, global 20% of conv",
    ),
    "resnet20": Preset(
        "resnet20", "sgd", 0.03, 128, 30_000, CIFAR_TRAIN,
        momentum=0.9, weight_decay=1e-4, milestones=(20_000, 25_000), warmup=20_000,
        scope="global", conv_rate=0.2, fc_rate=0.0, output_rate=0.0, rounds=20,
        note="LTH Fig. 8: SGD 0.03 with 20K warmup, drops at 20K/25K, global 20% of conv",
    ),
    "resnet50": Preset(
        "resnet50", "sgd", 0.1, 128, 31_600, CIFAR_TRAIN,
        momentum=0.9, weight_decay=1e-4, milestones=(15_800, 23_700), scope="global",
        conv_rate=0.2, fc_rate=0.0, output_rate=0.0, reset="rewind", rewind_iteration=350,
        rounds=30,
        note="Morcos et al.: SGD 0.1, 90 epochs, global 20% a round, late reset to ~1 epoch",
    ),
}


def get_preset(model: str, **overrides) -> Preset:
    """The preset of ``model``, with any field replaced by ``overrides`` (None is ignored)."""
    if model not in PRESETS:
        raise ValueError(f"preset: got {model!r}, expected one of {', '.join(PRESETS)}")
    unknown = set(overrides) - set(Preset.__dataclass_fields__)
    if unknown:
        raise ValueError(f"preset overrides: unknown fields {sorted(unknown)}")
    return replace(PRESETS[model], **{k: v for k, v in overrides.items() if v is not None})
