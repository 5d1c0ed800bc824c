"""The user's own data (arrays from Python, .npz files), and datasets of different formats
meeting in a transfer and a lottery run."""

from __future__ import annotations

import json

import numpy as np
import pytest
from data_writers import write_cifar100_python, write_svhn

from minilottery import cli
from minilottery.config import LotteryConfig
from minilottery.data import dataset_from_arrays, load_dataset
from minilottery.lottery import run_lottery
from minilottery.transfer import TransferConfig, run_transfer


def _digits():
    """scikit-learn's digits as the arrays a user would have: (n, 8, 8) floats, labels."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    return digits.images / 16.0, digits.target


# dataset_from_arrays ----------------------------------------------------------------------


def test_arrays_go_through_the_same_pipeline_as_a_named_dataset():
    x, y = _digits()
    mine = dataset_from_arrays(x, y, name="digits", seed=3, resize=(12, 12), channels=3,
                               max_train=500)
    named = load_dataset("digits", seed=3, resize=(12, 12), channels=3, max_train=500)
    for split in ("train", "val", "test"):
        np.testing.assert_allclose(mine.split(split)[0], named.split(split)[0], atol=1e-6)
        np.testing.assert_array_equal(mine.split(split)[1], named.split(split)[1])
    assert (mine.mean, mine.std, mine.num_classes) == (named.mean, named.std, 10)


@pytest.mark.parametrize("layout", ["NHW", "NCHW", "NHWC"])
def test_layouts_and_an_official_test_split(layout):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(60, 5, 7, 3), dtype=np.uint8)  # n h w c
    x_test = rng.integers(0, 256, size=(20, 5, 7, 3), dtype=np.uint8)
    y, y_test = np.arange(60) % 4, np.arange(20) % 4
    arrays = {"NHW": (x[..., 0], x_test[..., 0]), "NHWC": (x, x_test),
              "NCHW": (x.transpose(0, 3, 1, 2), x_test.transpose(0, 3, 1, 2))}[layout]
    data = dataset_from_arrays(*arrays[:1], y, arrays[1], y_test, normalize=False,
                               class_names=["a", "b", "c", "d"])
    channels = 1 if layout == "NHW" else 3
    assert data.input_shape == (channels, 5, 7) and data.num_classes == 4
    assert data.sizes == {"train": 54, "val": 6, "test": 20}
    expected = x_test[..., :channels].transpose(0, 3, 1, 2) / 255
    np.testing.assert_allclose(data.x_test, expected, atol=1e-6)
    assert data.class_names == ("a", "b", "c", "d") and data.name == "arrays"


@pytest.mark.parametrize("change, message", [
    (dict(y_train=np.arange(30) % 3 - 1), "y_train: labels span -1..1, expected >= 0"),
    (dict(num_classes=2), "y_train: labels span 0..2, expected 0..1"),
    (dict(y_train=np.arange(29) % 3), "y_train: inconsistent sizes: 29 labels for 30 images"),
    (dict(x_train=np.zeros((30, 3, 4, 3))), "x_train: shape \\(30, 3, 4, 3\\) is ambiguous.*"
                                            "layout='NCHW' or 'NHWC'"),
    (dict(x_train=np.zeros((30, 8))), "x_train: shape \\(30, 8\\), expected images"),
    (dict(x_train=np.full((30, 4, 4), np.nan)), "x_train: holds NaN"),
    (dict(y_train=np.linspace(0, 2, 30)), "y_train: .*expected \\(n,\\) integer"),
    (dict(x_test=np.zeros((5, 4, 4))), "x_test / y_test: got only one of them"),
    (dict(x_train=np.full((30, 4, 4), 300, np.int32)), "integer pixels span 300..300"),
    (dict(class_names=["a", "b"]), "y_train: labels span 0..2, expected 0..1"),
])
def test_bad_arrays_name_the_argument(change, message):
    arrays = dict(x_train=np.zeros((30, 4, 4), np.float32), y_train=np.arange(30) % 3)
    with pytest.raises(ValueError, match=message):
        dataset_from_arrays(**{**arrays, **change})


# .npz files ----------------------------------------------------------------------------


def test_an_npz_file_with_and_without_a_test_split(tmp_path):
    x, y = _digits()
    np.savez(tmp_path / "mine.npz", x_train=x, y_train=y)
    data = load_dataset("npz", data_dir=tmp_path / "mine.npz", seed=1)
    assert data.sizes == {"train": 1258, "val": 180, "test": 359}  # 0.1 and 0.2 of 1,797
    # A Keras-style file: NHWC uint8 images, (n, 1) labels, a test split, class names
    rng = np.random.default_rng(0)
    folder = tmp_path / "keras"
    folder.mkdir()
    np.savez_compressed(folder / "set.npz",
                        x_train=rng.integers(0, 256, (40, 6, 6, 3), dtype=np.uint8),
                        y_train=(np.arange(40) % 2)[:, None], x_test=np.zeros((8, 6, 6, 3),
                                                                              np.uint8),
                        y_test=np.arange(8)[:, None] % 2, class_names=np.array(["no", "yes"]))
    keras = load_dataset("npz", data_dir=folder, normalize=False)  # the only .npz in it
    assert keras.input_shape == (3, 6, 6) and keras.class_names == ("no", "yes")
    assert keras.sizes == {"train": 36, "val": 4, "test": 8}
    with pytest.raises(ValueError, match="test_fraction: .*official test set"):
        load_dataset("npz", data_dir=folder, test_fraction=0.3)


def test_npz_mistakes_name_the_file(tmp_path):
    path = tmp_path / "a.npz"
    np.savez(path, x_train=np.array([object()] * 4, dtype=object), y_train=np.arange(4))
    with pytest.raises(ValueError, match="a.npz: .*pickle.*expected numeric arrays"):
        load_dataset("npz", data_dir=path)
    np.savez(path, images=np.zeros((4, 2, 2)))
    with pytest.raises(ValueError, match="a.npz: lacks x_train, y_train; holds images"):
        load_dataset("npz", data_dir=path)
    np.savez(path, x_train=np.zeros((40, 2, 2)), y_train=np.arange(40) % 2)
    path.write_bytes(path.read_bytes()[:-30])
    with pytest.raises(ValueError, match="a.npz: not a readable .npz file.*truncated"):
        load_dataset("npz", data_dir=path)
    np.savez(tmp_path / "b.npz", x=np.zeros(1))
    with pytest.raises(FileNotFoundError, match="holds 2 .npz files \\(a.npz, b.npz\\), "
                                                "expected exactly one"):
        load_dataset("npz", data_dir=tmp_path)


# Through the lottery and the transfer ------------------------------------------------------

TINY = dict(data_seed=0, batch_size=16, iterations=6, eval_every=3, rounds=1, controls=(),
            seed=1, width=0.1, optimizer="sgd", lr=0.05, momentum=0.9, warmup=0,
            milestones=(), rate=0.5)


def test_a_ticket_moves_from_svhn_files_to_cifar100_files(tmp_path):
    """Two formats (MATLAB .mat, CIFAR pickles) meet: grey 16x16 SVHN -> CIFAR-100."""
    write_svhn(tmp_path / "svhn")
    write_cifar100_python(tmp_path / "cifar100")
    source = tmp_path / "source"
    run_lottery(LotteryConfig(model="lenet300", dataset="svhn", data_dir=str(tmp_path / "svhn"),
                              resize=(16, 16), channels=1, reset="init", **TINY),
                source, progress=False)
    config = TransferConfig(source=str(source), dataset="cifar100",
                            data_dir=str(tmp_path / "cifar100"), max_train=300)
    result = run_transfer(config, tmp_path / "transfer", progress=False)
    target = result["meta"]["dataset"]
    assert target["name"] == "cifar100" and target["num_classes"] == 100
    assert target["input_shape"] == [1, 16, 16]  # resized and made grey like the source
    assert result["meta"]["source"]["dataset"]["name"] == "svhn"
    assert len(result["rounds"]) == 1 and 0 < result["rounds"][0]["density"] < 1
    assert all(0 <= r["final_test_accuracy"] <= 1 for r in result["rounds"])


def test_the_command_line_reads_an_npz_file(tmp_path, capsys):
    x, y = _digits()
    np.savez(tmp_path / "mine.npz", x_train=x, y_train=y)
    code = cli.main(["lottery", "--dataset", "npz", "--data-dir", str(tmp_path / "mine.npz"),
                     "--out", str(tmp_path / "out"), "--width", "0.1", "--rounds", "1",
                     "--iterations", "4", "--batch-size", "16", "--eval-every", "2",
                     "--no-progress", "--control", "none"])
    assert code == 0, capsys.readouterr().err
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["meta"]["dataset"]["input_shape"] == [1, 8, 8]


def test_run_lottery_takes_a_dataset_from_arrays(tmp_path):
    x, y = _digits()
    data = dataset_from_arrays(x, y, name="my-digits", resize=(6, 6))
    results = run_lottery(LotteryConfig(model="lenet300", dataset="digits", reset="init", **TINY),
                          tmp_path / "run", progress=False, dataset=data)
    assert results["meta"]["dataset"]["name"] == "my-digits"
    assert results["meta"]["dataset"]["input_shape"] == [1, 6, 6]
