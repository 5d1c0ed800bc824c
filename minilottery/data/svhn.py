"""SVHN (Street View House Numbers), the cropped-digits version: train_32x32.mat, test_32x32.mat.

Each file is a MATLAB v5 file with ``X``, the images as (32, 32, 3, n) uint8
(height, width, channel, image), and ``y``, the labels as (n, 1) in 1..10,
where 10 stands for the digit 0. scipy.io.loadmat reads it; it never
unpickles. extra_32x32.mat (531,131 easier images) is not read: the paper's
SVHN is the 73,257 training and 26,032 test images.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .sources import Source, check_dir, check_labels, check_pair, missing_files, to_unit

SVHN_FILES = {"train": "train_32x32.mat", "test": "test_32x32.mat"}


def read_svhn_mat(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """One SVHN .mat file -> images (n, 3, 32, 32) uint8, labels (n,) int64 with 0 for "0"."""
    from scipy.io import loadmat  # scipy comes with scikit-learn

    path = Path(path)
    try:
        contents = loadmat(path, variable_names=("X", "y"))
    except (ValueError, TypeError, OSError, EOFError, KeyError, IndexError,
            NotImplementedError) as error:
        raise ValueError(f"{path}: not a readable MATLAB v5 file ({type(error).__name__}: "
                         f"{error}); the file may be truncated, expected SVHN's "
                         "train_32x32.mat / test_32x32.mat") from None
    if "X" not in contents or "y" not in contents:
        raise ValueError(f"{path}: expected the variables X and y, "
                         f"found {sorted(k for k in contents if not k.startswith('__'))}")
    images, labels = np.asarray(contents["X"]), np.asarray(contents["y"])
    if images.ndim != 4 or images.shape[2] != 3:
        raise ValueError(f"{path}: X has shape {images.shape}, expected (height, width, 3, n)")
    labels = labels.reshape(-1).astype(np.int64)
    images = images.transpose(3, 2, 0, 1)  # h w c n -> n c h w
    check_pair(path, images, labels)
    check_labels(path, labels, 10, first=1)
    # The digit 0 is labelled 10
    return np.ascontiguousarray(images), np.where(labels == 10, 0, labels)


def locate_svhn(data_dir) -> Path:
    """The directory holding SVHN's two files, or a clear error."""
    expected = f"{SVHN_FILES['train']} and {SVHN_FILES['test']} (the cropped digits, format 2)"
    directory = check_dir(data_dir, "svhn", expected)
    missing = [name for name in SVHN_FILES.values() if not (directory / name).is_file()]
    if missing:
        raise missing_files(directory, "svhn", missing, expected)
    return directory


def read_svhn(data_dir) -> Source:
    """SVHN's training and test sets from ``data_dir``: 32x32 RGB, ten digit classes."""
    directory = locate_svhn(data_dir)
    x, y = read_svhn_mat(directory / SVHN_FILES["train"])
    x_test, y_test = read_svhn_mat(directory / SVHN_FILES["test"])
    if x.shape[1:] != x_test.shape[1:]:
        raise ValueError(f"{directory / SVHN_FILES['test']}: images are {x_test.shape[2:]}, "
                         f"but the training images are {x.shape[2:]}")
    return Source(to_unit(x, 255.0), y, to_unit(x_test, 255.0), y_test, 10,
                  tuple(str(d) for d in range(10)))
