"""Writers of tiny files in each publisher's format, for the data tests (nothing is downloaded).

Each writer returns what it wrote (uint8 images NCHW, labels as the reader
should return them), so a test compares the reader's output with the truth.
"""

from __future__ import annotations

import gzip
import pickle
import struct

import numpy as np

IDX_NAMES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
             "t10k-labels-idx1-ubyte")


def images(n, shape, seed=0):
    """uint8 images (n, *shape), random, the first pixel of each its index (mod 256)."""
    x = np.random.default_rng(seed).integers(0, 256, size=(n, *shape), dtype=np.uint8)
    x.reshape(n, -1)[:, 0] = np.arange(n) % 256
    return x


def balanced_labels(n, num_classes, seed=0):
    """n labels, every class as often as n allows, shuffled."""
    return np.random.default_rng(seed).permutation(np.arange(n) % num_classes)


# MNIST's IDX format (MNIST, Fashion-MNIST, KMNIST) -------------------------------------


def idx_bytes(array: np.ndarray) -> bytes:
    """An IDX file of unsigned bytes: magic (0, 0, 8, ndim), big-endian uint32 dims, data."""
    array = np.asarray(array, dtype=np.uint8)
    return bytes([0, 0, 8, array.ndim]) + np.asarray(array.shape, ">u4").tobytes() + \
        array.tobytes()


def write_idx_dataset(directory, n_train=120, n_test=20, size=6, gz=False):
    """The four IDX files of a 10-class set of size x size grey images."""
    directory.mkdir(parents=True, exist_ok=True)
    x, x_test = images(n_train, (size, size)), images(n_test, (size, size), seed=1)
    y, y_test = balanced_labels(n_train, 10), balanced_labels(n_test, 10, seed=1)
    for name, array in zip(IDX_NAMES, (x, y, x_test, y_test), strict=True):
        data = idx_bytes(array)
        if gz:
            with gzip.open(directory / f"{name}.gz", "wb") as handle:
                handle.write(data)
        else:
            (directory / name).write_bytes(data)
    return x[:, None], y, x_test[:, None], y_test


# CIFAR ---------------------------------------------------------------------------------


def write_cifar10_python(directory, per_batch=20, n_test=10):
    """data_batch_1..5 and test_batch as pickled dicts (bytes keys, uint8 data, list labels)."""
    directory.mkdir(parents=True, exist_ok=True)
    written = {}
    for i, name in enumerate([f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]):
        n = n_test if name == "test_batch" else per_batch
        x, y = images(n, (3072,), seed=i), balanced_labels(n, 10, seed=i)
        with open(directory / name, "wb") as handle:
            pickle.dump({b"batch_label": name.encode(), b"data": x,
                         b"labels": [int(v) for v in y]}, handle)
        written[name] = (x.reshape(-1, 3, 32, 32), y)
    return written


def write_cifar10_binary(directory, per_batch=20, n_test=10):
    """data_batch_1..5.bin and test_batch.bin: records of 1 label byte + 3,072 pixels."""
    directory.mkdir(parents=True, exist_ok=True)
    written = {}
    for i, name in enumerate([f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]):
        n = n_test if name == "test_batch.bin" else per_batch
        x, y = images(n, (3072,), seed=i), balanced_labels(n, 10, seed=i)
        (directory / name).write_bytes(np.concatenate([y[:, None].astype(np.uint8), x],
                                                      axis=1).tobytes())
        written[name] = (x.reshape(-1, 3, 32, 32), y)
    (directory / "batches.meta.txt").write_text("\n".join(f"class{i}" for i in range(10)))
    return written


def cifar100_labels(n, seed=0):
    """(fine, coarse) labels: fine covers all 100 classes; coarse = fine // 5 (any map works)."""
    fine = balanced_labels(n, 100, seed)
    return fine, fine // 5


def write_cifar100_python(directory, n_train=1000, n_test=100, meta=True):
    """train, test (and meta) as CIFAR-100's pickled dicts."""
    directory.mkdir(parents=True, exist_ok=True)
    written = {}
    for i, (name, n) in enumerate((("train", n_train), ("test", n_test))):
        x = images(n, (3072,), seed=10 + i)
        fine, coarse = cifar100_labels(n, seed=10 + i)
        with open(directory / name, "wb") as handle:
            pickle.dump({b"data": x, b"fine_labels": [int(v) for v in fine],
                         b"coarse_labels": [int(v) for v in coarse]}, handle)
        written[name] = (x.reshape(-1, 3, 32, 32), fine, coarse)
    if meta:
        with open(directory / "meta", "wb") as handle:
            pickle.dump({b"fine_label_names": [f"fine{i}".encode() for i in range(100)],
                         b"coarse_label_names": [f"coarse{i}".encode() for i in range(20)]},
                        handle)
    return written


def write_cifar100_binary(directory, n_train=1000, n_test=100):
    """train.bin and test.bin: records of coarse label, fine label, 3,072 pixels."""
    directory.mkdir(parents=True, exist_ok=True)
    written = {}
    for i, (name, n) in enumerate((("train.bin", n_train), ("test.bin", n_test))):
        x = images(n, (3072,), seed=20 + i)
        fine, coarse = cifar100_labels(n, seed=20 + i)
        records = np.concatenate([coarse[:, None], fine[:, None], x], axis=1)
        (directory / name).write_bytes(records.astype(np.uint8).tobytes())
        written[name] = (x.reshape(-1, 3, 32, 32), fine, coarse)
    return written


def python2_batch(data: np.ndarray, labels) -> bytes:
    """A CIFAR batch pickled as Python 2's cPickle wrote the official files (protocol 2).

    Written opcode by opcode: Python 2 strings (BINSTRING), the NumPy 1 module
    name numpy.core.multiarray, and the array state (version, shape, dtype,
    Fortran order, raw bytes) that NumPy's _reconstruct + __setstate__ expect.
    """
    def string(value: bytes) -> bytes:  # SHORT_BINSTRING or BINSTRING: a Python 2 str
        if len(value) < 256:
            return b"U" + bytes([len(value)]) + value
        return b"T" + struct.pack("<i", len(value)) + value

    def integer(value: int) -> bytes:  # BININT
        return b"J" + struct.pack("<i", value)

    n, width = data.shape
    out = [b"\x80\x02", b"}", b"("]  # PROTO 2, EMPTY_DICT, MARK
    out += [string(b"batch_label"), string(b"training batch 1 of 5")]
    out += [string(b"data"), b"cnumpy.core.multiarray\n_reconstruct\n", b"cnumpy\nndarray\n",
            integer(0), b"\x85", string(b"b"), b"\x87", b"R"]  # _reconstruct(ndarray, (0,), 'b')
    dtype = [b"cnumpy\ndtype\n", string(b"u1"), integer(0), integer(1), b"\x87", b"R",
             b"(", integer(3), string(b"|"), b"N", b"N", b"N", integer(-1), integer(-1),
             integer(0), b"t", b"b"]  # dtype('u1', 0, 1), then its state, BUILD
    out += [b"(", integer(1), integer(n), integer(width), b"\x86", *dtype, b"\x89",
            string(np.ascontiguousarray(data, dtype=np.uint8).tobytes()), b"t", b"b"]
    out += [string(b"labels"), b"]", b"("] + [integer(int(v)) for v in labels] + [b"e"]
    out += [b"u", b"."]  # SETITEMS, STOP
    return b"".join(out)


# SVHN ----------------------------------------------------------------------------------


def write_svhn(directory, n_train=100, n_test=20):
    """train_32x32.mat and test_32x32.mat: X (32, 32, 3, n) uint8, y (n, 1) in 1..10."""
    from scipy.io import savemat

    directory.mkdir(parents=True, exist_ok=True)
    written = {}
    for i, (name, n) in enumerate((("train_32x32.mat", n_train), ("test_32x32.mat", n_test))):
        x = images(n, (3, 32, 32), seed=30 + i)  # n c h w
        digits = balanced_labels(n, 10, seed=30 + i)
        y = np.where(digits == 0, 10, digits).astype(np.uint8)[:, None]
        savemat(directory / name, {"X": x.transpose(2, 3, 1, 0), "y": y})
        written[name] = (x, digits)
    return written


# Image folders -------------------------------------------------------------------------


def write_folder(root, classes=("cat", "dog", "fox"), per_class=4, size=(10, 12),
                 grey=False, suffix=".png", seed=0):
    """root/<class>/<i><suffix>: images of ``size`` (H, W); returns {path: (C, H, W) uint8}."""
    from PIL import Image

    written = {}
    rng = np.random.default_rng(seed)
    for c, name in enumerate(classes):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            shape = size if grey else (*size, 3)
            pixels = rng.integers(0, 256, size=shape, dtype=np.uint8)
            pixels.flat[0] = c
            path = root / name / f"{i}{suffix}"
            Image.fromarray(pixels).save(path)
            written[path] = pixels[None] if grey else pixels.transpose(2, 0, 1)
    return written
