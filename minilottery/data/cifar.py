"""CIFAR-10 and CIFAR-100, in both of the formats their publisher distributes.

The python version: pickled dicts (data_batch_1..5 and test_batch for
CIFAR-10; train and test for CIFAR-100), read by the restricted unpickler of
safe_pickle.py, which admits NumPy arrays and plain values and never runs code.
The binary version: fixed-size records, one label byte (CIFAR-100: the coarse
then the fine label) and 3,072 pixel bytes, read without any unpickling.
Either way a row is the red, green and blue 32x32 planes in turn, each
row-major: already C, H, W.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .safe_pickle import safe_load
from .sources import Source, check_dir, check_labels, check_pair, missing_files, to_unit

PIXELS = 3 * 32 * 32
CIFAR_TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR_TEST_FILE = "test_batch"
CIFAR_SUBDIR = "cifar-10-batches-py"
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                   "ship", "truck")
# name -> the (subdirectory, train files, test file, format) the archives unpack to
LAYOUTS = {
    "cifar10": (
        ("", CIFAR_TRAIN_FILES, CIFAR_TEST_FILE, "python"),
        ("", tuple(f"{f}.bin" for f in CIFAR_TRAIN_FILES), f"{CIFAR_TEST_FILE}.bin", "binary"),
        (CIFAR_SUBDIR, CIFAR_TRAIN_FILES, CIFAR_TEST_FILE, "python"),
        ("cifar-10-batches-bin", tuple(f"{f}.bin" for f in CIFAR_TRAIN_FILES),
         f"{CIFAR_TEST_FILE}.bin", "binary"),
    ),
    "cifar100": (
        ("", ("train",), "test", "python"),
        ("", ("train.bin",), "test.bin", "binary"),
        ("cifar-100-python", ("train",), "test", "python"),
        ("cifar-100-binary", ("train.bin",), "test.bin", "binary"),
    ),
}
EXPECTED = {
    "cifar10": "data_batch_1..data_batch_5 and test_batch (the python version) or the same "
               "names with .bin (the binary version), possibly inside cifar-10-batches-py/ "
               "or cifar-10-batches-bin/",
    "cifar100": "train and test (the python version) or train.bin and test.bin (the binary "
                "version), possibly inside cifar-100-python/ or cifar-100-binary/",
}


def read_cifar_batch(path: str | Path, labels: str = "labels") -> tuple[np.ndarray, np.ndarray]:
    """One CIFAR python batch -> images (n, 3, 32, 32) uint8, labels (n,) int64.

    The file is a pickled dict with b"data" (n, 3072) uint8 and the label list
    ``labels`` ("labels" in CIFAR-10, "fine_labels" / "coarse_labels" in
    CIFAR-100). It is read by the restricted unpickler: a file that asks for
    anything but NumPy's array reconstruction is refused before it runs.
    """
    path = Path(path)
    batch = safe_load(path)
    if not isinstance(batch, dict):
        raise ValueError(f"{path}: expected a pickled dict, found {type(batch).__name__}")
    # Keys are bytes in the official files; accept str keys from a re-pickled copy
    batch = {key.decode() if isinstance(key, bytes) else key: value for key, value in batch.items()}
    if "data" not in batch or labels not in batch:
        found = sorted(str(key) for key in batch)
        raise ValueError(f"{path}: expected the keys b'data' and b'{labels}', found {found}")
    try:
        data = np.asarray(batch["data"], dtype=np.uint8)
        label_array = np.asarray(batch[labels], dtype=np.int64)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{path}: data or {labels} are not numbers ({error})") from None
    if data.ndim != 2 or data.shape[1] != PIXELS:
        raise ValueError(f"{path}: data has shape {data.shape}, expected (n, {PIXELS})")
    if label_array.shape != (len(data),):
        raise ValueError(
            f"{path}: inconsistent sizes: {label_array.size} labels for {len(data)} images"
        )
    return data.reshape(-1, 3, 32, 32), label_array


def read_cifar_bin(path: str | Path, label_bytes: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """One binary CIFAR file -> images (n, 3, 32, 32) uint8, labels (n, label_bytes) int64.

    Each record is ``label_bytes`` label bytes then 3,072 pixel bytes; a size
    that is not a whole number of records means a truncated file.
    """
    path = Path(path)
    data = np.fromfile(path, dtype=np.uint8)
    record = label_bytes + PIXELS
    if data.size % record:
        raise ValueError(
            f"{path}: {data.size} bytes is not a whole number of {record}-byte records "
            f"({label_bytes} label byte(s) + {PIXELS} pixels); the file may be truncated"
        )
    records = data.reshape(-1, record)
    return (records[:, label_bytes:].reshape(-1, 3, 32, 32),
            records[:, :label_bytes].astype(np.int64))


def locate_cifar(data_dir, dataset: str = "cifar10") -> tuple[Path, tuple[str, ...], str, str]:
    """The directory, train files, test file and format of ``dataset`` under ``data_dir``."""
    directory = check_dir(data_dir, dataset, EXPECTED[dataset])
    best, best_count = None, -1
    for subdir, train, test, kind in LAYOUTS[dataset]:
        folder = directory / subdir if subdir else directory
        present = [name for name in (*train, test) if (folder / name).is_file()]
        if len(present) == len(train) + 1:
            return folder, train, test, kind
        if len(present) > best_count:
            best, best_count = (folder, train, test), len(present)
    folder, train, test = best
    missing = [name for name in (*train, test) if not (folder / name).is_file()]
    raise missing_files(folder, dataset, missing, EXPECTED[dataset])


def _read(folder: Path, name: str, kind: str, label: str, column: int, label_bytes: int):
    """(images uint8, labels int64) of one file of either format."""
    if kind == "python":
        return read_cifar_batch(folder / name, label)
    images, labels = read_cifar_bin(folder / name, label_bytes)
    return images, labels[:, column]


def _names(folder: Path, kind: str, meta_key: str, text_file: str) -> tuple[str, ...] | None:
    """The class names from the python ``meta`` or the binary version's text file, if there."""
    if kind == "python" and (folder / "meta").is_file():
        meta = safe_load(folder / "meta")
        names = meta.get(meta_key.encode()) if isinstance(meta, dict) else None
    elif kind == "binary" and (folder / text_file).is_file():
        names = (folder / text_file).read_text().split()
    else:
        return None
    if not isinstance(names, (list, tuple)) or not names:
        return None
    return tuple(n.decode() if isinstance(n, bytes) else str(n) for n in names)


def read_cifar(data_dir, dataset: str = "cifar10", coarse: bool = False) -> Source:
    """CIFAR-10, or CIFAR-100 with its fine (100) or coarse (20) labels, from ``data_dir``."""
    folder, train, test, kind = locate_cifar(data_dir, dataset)
    if dataset == "cifar10":
        label, column, label_bytes, num_classes = "labels", 0, 1, 10
    else:
        # A CIFAR-100 binary record starts with the coarse label, then the fine one
        label = "coarse_labels" if coarse else "fine_labels"
        column, label_bytes, num_classes = (0 if coarse else 1), 2, (20 if coarse else 100)
    arrays = {}
    for split, names in (("train", train), ("test", (test,))):
        parts = [_read(folder, name, kind, label, column, label_bytes) for name in names]
        for name, (images, labels) in zip(names, parts, strict=True):
            check_pair(folder / name, images, labels)
            check_labels(folder / name, labels, num_classes)
        arrays[split] = (to_unit(np.concatenate([p[0] for p in parts]), 255.0),
                         np.concatenate([p[1] for p in parts]))
    if dataset == "cifar10":
        class_names = CIFAR10_CLASSES
    elif coarse:
        class_names = _names(folder, kind, "coarse_label_names", "coarse_label_names.txt")
    else:
        class_names = _names(folder, kind, "fine_label_names", "fine_label_names.txt")
    if class_names is not None and len(class_names) != num_classes:
        class_names = None  # a meta file of another version: the labels still stand
    return Source(*arrays["train"], *arrays["test"], num_classes, class_names)


def read_cifar10(data_dir) -> Source:
    """CIFAR-10 from the python batches or the binary files in ``data_dir`` (or its subfolder)."""
    return read_cifar(data_dir, "cifar10")


def read_cifar100(data_dir) -> Source:
    """CIFAR-100 with its 100 fine labels, python or binary version."""
    return read_cifar(data_dir, "cifar100")


def read_cifar100_coarse(data_dir) -> Source:
    """CIFAR-100 with its 20 coarse labels (superclasses), python or binary version."""
    return read_cifar(data_dir, "cifar100", coarse=True)
