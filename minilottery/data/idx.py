"""The IDX files of MNIST and of the datasets published in its format: Fashion-MNIST, KMNIST.

All three ship the same four files under the same names (each usually
gzipped): train-images-idx3-ubyte, train-labels-idx1-ubyte,
t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte. Only the pictures and the
class names differ, so the names of the files cannot tell the three apart:
the dataset name given to load_dataset does.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from .cache import FETCH_HINT, mnist_cache
from .sources import Source, check_dir, check_labels, check_pair, missing_files, to_unit

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

CLASS_NAMES = {
    "mnist": tuple(str(d) for d in range(10)),
    # Zalando's labels, in label order (github.com/zalandoresearch/fashion-mnist)
    "fashion-mnist": ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
                      "Shirt", "Sneaker", "Bag", "Ankle boot"),
    # kmnist_classmap.csv: ten hiragana, each the first of its row of the syllabary
    "kmnist": ("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"),
}


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
            + (" (truncated?)" if len(data) - header < expected else "")
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
    try:
        with opener(path, "rb") as handle:
            data = handle.read()
    except (EOFError, OSError, zlib.error) as error:
        # A cut download ends the gzip stream early: EOFError; a corrupt one: BadGzipFile
        raise ValueError(f"{path}: cannot decompress ({error}); the file may be truncated; "
                         "expected a complete gzip file") from None
    found = int.from_bytes(data[:4], "big") if len(data) >= 4 else None
    if magic is not None and found != magic:
        raise ValueError(f"{path}: IDX magic number is {found!r}, expected {magic}")
    return parse_idx(data, str(path))


def locate_idx(data_dir, dataset: str = "mnist") -> dict[str, Path]:
    """{"train_images": path, ...}: the four files in ``data_dir``, or a clear error.

    MNIST without a data_dir is read from the cache that ``minilottery fetch
    mnist`` fills (cache.mnist_cache()).
    """
    expected = ", ".join(MNIST_FILES.values()) + " (each optionally .gz)"
    if data_dir is None and dataset == "mnist":
        data_dir = mnist_cache()
        if not data_dir.is_dir():
            raise FileNotFoundError(
                f"dataset mnist: the data cache {data_dir} is empty; run `{FETCH_HINT}` "
                "once to fill it (downloads 20 MB), or pass --data-dir with the four "
                "IDX files"
            )
    directory = check_dir(data_dir, dataset, expected)
    paths = {key: _find(directory, stem) for key, stem in MNIST_FILES.items()}
    missing = [MNIST_FILES[key] for key, path in paths.items() if path is None]
    if missing:
        raise missing_files(directory, dataset, missing, expected)
    return paths


def read_idx_dataset(data_dir, dataset: str = "mnist") -> Source:
    """The four IDX files of ``dataset`` ("mnist", "fashion-mnist", "kmnist") in ``data_dir``."""
    paths = locate_idx(data_dir, dataset)
    arrays = {}
    for split in ("train", "test"):
        images = read_idx(paths[f"{split}_images"], IDX_IMAGES_MAGIC)
        labels = read_idx(paths[f"{split}_labels"], IDX_LABELS_MAGIC).astype(np.int64)
        check_pair(paths[f"{split}_labels"], images, labels)
        check_labels(paths[f"{split}_labels"], labels, 10)
        arrays[split] = (to_unit(images, 255.0)[:, None], labels)
    (x, y), (x_test, y_test) = arrays["train"], arrays["test"]
    if x.shape[1:] != x_test.shape[1:]:
        raise ValueError(
            f"{paths['test_images']}: images are {x_test.shape[2:]}, "
            f"but the training images are {x.shape[2:]}"
        )
    return Source(x, y, x_test, y_test, 10, CLASS_NAMES[dataset])


def read_mnist(data_dir) -> Source:
    """MNIST from the four IDX files in ``data_dir`` (each may be gzip-compressed)."""
    return read_idx_dataset(data_dir, "mnist")


def read_fashion_mnist(data_dir) -> Source:
    """Fashion-MNIST (Zalando): 70,000 28x28 grey photos of clothes, in MNIST's IDX files."""
    return read_idx_dataset(data_dir, "fashion-mnist")


def read_kmnist(data_dir) -> Source:
    """KMNIST (Kuzushiji-MNIST): 70,000 28x28 cursive hiragana, in MNIST's IDX files."""
    return read_idx_dataset(data_dir, "kmnist")
