"""The file readers, each on tiny files written in its publisher's format (nothing downloaded).

Fashion-MNIST and KMNIST (IDX, gzipped or not), CIFAR-10 and CIFAR-100 (python
and binary versions), SVHN (.mat), image folders (PNG, JPEG); and the errors
for the usual mistakes: another dataset's directory, a truncated file, labels
out of range, images of mixed sizes, an empty class.
"""

from __future__ import annotations

import numpy as np
import pytest
from data_writers import (
    balanced_labels,
    idx_bytes,
    write_cifar10_binary,
    write_cifar10_python,
    write_cifar100_binary,
    write_cifar100_python,
    write_folder,
    write_idx_dataset,
    write_svhn,
)

from minilottery.data import check_files, load_dataset


def _pixels(x):
    """[0, 1] floats back to the uint8 values they came from."""
    return np.rint(x * 255).astype(np.uint8)


# IDX: Fashion-MNIST and KMNIST -----------------------------------------------------------


@pytest.mark.parametrize("name, first, last", [("fashion-mnist", "T-shirt/top", "Ankle boot"),
                                               ("kmnist", "o", "wo"), ("mnist", "0", "9")])
@pytest.mark.parametrize("gz", [False, True])
def test_idx_datasets_load_with_their_class_names(tmp_path, name, first, last, gz):
    x, y, x_test, y_test = write_idx_dataset(tmp_path, gz=gz)
    data = load_dataset(name, data_dir=tmp_path, normalize=False)
    assert data.input_shape == (1, 6, 6) and data.num_classes == 10
    assert data.sizes == {"train": 110, "val": 10, "test": 20}  # 5,000 / 60,000 for validation
    np.testing.assert_array_equal(_pixels(data.x_test), x_test)
    np.testing.assert_array_equal(data.y_test, y_test)
    assert data.class_names[0] == first and data.class_names[-1] == last


def test_idx_labels_out_of_range_name_the_file(tmp_path):
    write_idx_dataset(tmp_path)
    labels = balanced_labels(20, 10, seed=1)
    labels[3] = 10
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(idx_bytes(labels))
    with pytest.raises(ValueError, match="t10k-labels-idx1-ubyte: labels span 0..10, "
                                         "expected 0..9"):
        load_dataset("fashion-mnist", data_dir=tmp_path)


def test_a_truncated_gzip_file_names_the_file(tmp_path):
    write_idx_dataset(tmp_path, gz=True)
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(ValueError, match="train-images-idx3-ubyte.gz: .*truncated"):
        load_dataset("kmnist", data_dir=tmp_path)


# CIFAR-10 and CIFAR-100, python and binary -----------------------------------------------


@pytest.mark.parametrize("subdir", ["", "cifar-10-batches-bin"])
def test_cifar10_binary_records_load_like_the_python_batches(tmp_path, subdir):
    written = write_cifar10_binary(tmp_path / "bin" / subdir)
    write_cifar10_python(tmp_path / "py")  # the same images and labels, pickled
    binary = load_dataset("cifar10", data_dir=tmp_path / "bin", normalize=False)
    python = load_dataset("cifar10", data_dir=tmp_path / "py", normalize=False)
    np.testing.assert_array_equal(_pixels(binary.x_test), written["test_batch.bin"][0])
    np.testing.assert_array_equal(binary.y_test, written["test_batch.bin"][1])
    for split in ("train", "val", "test"):
        np.testing.assert_array_equal(binary.split(split)[0], python.split(split)[0])
        np.testing.assert_array_equal(binary.split(split)[1], python.split(split)[1])
    assert binary.class_names == python.class_names
    assert python.class_names[0] == "airplane" and python.class_names[-1] == "truck"


def test_a_truncated_binary_file_names_the_file(tmp_path):
    write_cifar10_binary(tmp_path)
    path = tmp_path / "data_batch_4.bin"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(ValueError, match="data_batch_4.bin: .*not a whole number of 3073-byte "
                                         "records.*truncated"):
        load_dataset("cifar10", data_dir=tmp_path)


@pytest.mark.parametrize("fmt", ["python", "binary"])
def test_cifar100_fine_and_coarse_labels(tmp_path, fmt):
    if fmt == "python":
        written = write_cifar100_python(tmp_path / "cifar-100-python")["test"]
    else:
        written = write_cifar100_binary(tmp_path / "cifar-100-binary")["test.bin"]
    x, fine, coarse = written
    data = load_dataset("cifar100", data_dir=tmp_path, normalize=False)
    assert data.num_classes == 100 and data.input_shape == (3, 32, 32)
    assert data.sizes == {"train": 900, "val": 100, "test": 100}
    np.testing.assert_array_equal(_pixels(data.x_test), x)
    np.testing.assert_array_equal(data.y_test, fine)
    grouped = load_dataset("cifar100-coarse", data_dir=tmp_path, normalize=False)
    assert grouped.num_classes == 20
    np.testing.assert_array_equal(grouped.y_test, coarse)
    if fmt == "python":  # names from the meta file
        assert data.class_names[5] == "fine5" and grouped.class_names[19] == "coarse19"


def test_cifar100_labels_out_of_range_name_the_file(tmp_path):
    write_cifar100_binary(tmp_path)
    path = tmp_path / "test.bin"
    records = np.frombuffer(path.read_bytes(), np.uint8).reshape(-1, 3074).copy()
    records[7, 1] = 100  # a fine label past 99
    path.write_bytes(records.tobytes())
    with pytest.raises(ValueError, match="test.bin: labels span 0..100, expected 0..99"):
        load_dataset("cifar100", data_dir=tmp_path)


# Another dataset's directory --------------------------------------------------------------


@pytest.mark.parametrize("write, asked, looks", [
    (write_cifar10_python, "cifar100", "CIFAR-10 python batches \\(read by --dataset cifar10\\)"),
    (write_cifar100_python, "cifar10", "CIFAR-100 files \\(read by --dataset cifar100 or "
                                       "cifar100-coarse\\)"),
    (write_idx_dataset, "svhn", "MNIST-format IDX files \\(read by --dataset mnist or "
                                "fashion-mnist or kmnist\\)"),
    (write_svhn, "fashion-mnist", "SVHN .mat files \\(read by --dataset svhn\\)"),
    (write_folder, "cifar10", "an image folder"),
])
def test_another_datasets_directory_says_what_it_holds(tmp_path, write, asked, looks):
    write(tmp_path)
    with pytest.raises(FileNotFoundError, match=f"data_dir: .* lacks .*It holds {looks}"):
        load_dataset(asked, data_dir=tmp_path)


# SVHN --------------------------------------------------------------------------------------


def test_svhn_mat_files_load_with_ten_as_zero(tmp_path):
    written = write_svhn(tmp_path)
    data = load_dataset("svhn", data_dir=tmp_path, normalize=False)
    assert data.input_shape == (3, 32, 32) and data.num_classes == 10
    assert data.sizes == {"train": 90, "val": 10, "test": 20}
    x, digits = written["test_32x32.mat"]
    np.testing.assert_array_equal(_pixels(data.x_test), x)
    np.testing.assert_array_equal(data.y_test, digits)
    assert 0 in data.y_train and 10 not in data.y_train


def test_svhn_errors_name_the_file(tmp_path):
    from scipy.io import savemat

    write_svhn(tmp_path)
    path = tmp_path / "test_32x32.mat"
    savemat(path, {"X": np.zeros((32, 32, 3, 2), np.uint8), "y": np.uint8([[1], [11]])})
    with pytest.raises(ValueError, match="test_32x32.mat: labels span 1..11, expected 1..10"):
        load_dataset("svhn", data_dir=tmp_path)
    write_svhn(tmp_path)
    path.write_bytes(path.read_bytes()[:500])
    with pytest.raises(ValueError, match="test_32x32.mat: .*truncated"):
        load_dataset("svhn", data_dir=tmp_path)


# Image folders -----------------------------------------------------------------------------


def test_an_image_folder_of_pngs(tmp_path):
    written = write_folder(tmp_path, per_class=10)
    data = load_dataset("folder", data_dir=tmp_path, normalize=False)
    assert data.class_names == ("cat", "dog", "fox") and data.num_classes == 3
    assert data.input_shape == (3, 10, 12)
    assert data.sizes == {"train": 21, "val": 3, "test": 6}  # 0.1 and 0.2 of 30
    # Every image is there once, with its class: the first pixel's red value is the class
    every = np.concatenate([data.x_train, data.x_val, data.x_test])
    labels = np.concatenate([data.y_train, data.y_val, data.y_test])
    np.testing.assert_array_equal(_pixels(every[:, 0, 0, 0]), labels)
    truth = {p.tobytes() for p in written.values()}
    assert {_pixels(x).tobytes() for x in every} == truth


def test_a_grey_folder_with_train_and_test_and_jpegs(tmp_path):
    write_folder(tmp_path / "train", classes=("a", "b"), per_class=10, grey=True, suffix=".jpg")
    write_folder(tmp_path / "val", classes=("a", "b"), per_class=3, grey=True, suffix=".jpeg",
                 seed=1)
    data = load_dataset("folder", data_dir=tmp_path)
    assert data.input_shape == (1, 10, 12)
    assert data.sizes == {"train": 18, "val": 2, "test": 6}  # the official test: val/
    assert sorted(data.y_test) == [0, 0, 0, 1, 1, 1]


def test_images_of_mixed_sizes_need_a_size(tmp_path):
    write_folder(tmp_path, classes=("a", "b"), size=(10, 12), per_class=10)
    write_folder(tmp_path, classes=("c",), size=(16, 8), per_class=10)
    with pytest.raises(ValueError, match="mixed sizes.*a/0.png is 10x12.*c/0.png is 16x8.*"
                                         "--resize HxW"):
        load_dataset("folder", data_dir=tmp_path)
    data = load_dataset("folder", data_dir=tmp_path, resize=(8, 8), normalize=False)
    assert data.input_shape == (3, 8, 8) and data.num_classes == 3


@pytest.mark.parametrize("mistake, message", [
    ("empty class", "class folder .*empty holds no PNG or JPEG image"),
    ("truncated", "0.png: .*truncated"),
    ("one class", "one class folder \\(a\\), expected at least two"),
    ("unknown test class", "test has class folders zebra that .*train lacks"),
])
def test_image_folder_mistakes(tmp_path, mistake, message):
    if mistake == "unknown test class":
        write_folder(tmp_path / "train", classes=("a", "b"))
        write_folder(tmp_path / "test", classes=("a", "zebra"))
    else:
        write_folder(tmp_path, classes=("a",) if mistake == "one class" else ("a", "b"))
    if mistake == "empty class":
        (tmp_path / "empty").mkdir()
    if mistake == "truncated":
        path = tmp_path / "b" / "0.png"
        path.write_bytes(path.read_bytes()[:60])
    with pytest.raises(ValueError, match=message):
        load_dataset("folder", data_dir=tmp_path)


def test_check_files_finds_the_files_without_reading_them(tmp_path):
    write_svhn(tmp_path / "svhn")
    write_folder(tmp_path / "images")
    check_files("svhn", tmp_path / "svhn")
    check_files("folder", tmp_path / "images")
    check_files("digits", None)  # reads no files
    # Found by name only: a file with the right name but the wrong contents passes
    (tmp_path / "svhn" / "test_32x32.mat").write_bytes(b"not a .mat file")
    check_files("svhn", tmp_path / "svhn")
    with pytest.raises(FileNotFoundError, match="lacks train-images-idx3-ubyte.*It holds "
                                                "SVHN .mat files"):
        check_files("kmnist", tmp_path / "svhn")
    with pytest.raises(ValueError, match="dataset name: got 'imagenet'"):
        check_files("imagenet", tmp_path)


def test_a_folder_with_train_only_draws_its_test_split(tmp_path):
    write_folder(tmp_path / "train", per_class=10)
    data = load_dataset("folder", data_dir=tmp_path)
    assert data.class_names == ("cat", "dog", "fox")
    assert data.sizes == {"train": 21, "val": 3, "test": 6}
