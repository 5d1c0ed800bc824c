"""examples/transfer.py --data-dir: Morcos et al.'s grid resolved from one subfolder per dataset."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from data_writers import (
    write_cifar10_binary,
    write_cifar100_python,
    write_folder,
    write_idx_dataset,
    write_svhn,
)

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "transfer.py"


def _example():
    spec = importlib.util.spec_from_file_location("example_transfer_grid", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """The four required datasets in their publishers' formats, and ImageNet as a folder."""
    root = tmp_path_factory.mktemp("morcos")
    write_idx_dataset(root / "fashion-mnist", gz=True)
    write_svhn(root / "svhn")
    write_cifar10_binary(root / "cifar10" / "cifar-10-batches-bin")
    write_cifar100_python(root / "cifar100" / "cifar-100-python")
    write_folder(root / "imagenet", classes=("n01440764", "n01443537"), per_class=20,
                 size=(20, 20), suffix=".jpg")
    return root


def test_the_grid_resolves_every_dataset_from_its_subfolder(data_dir):
    example = _example()
    transfers, data = example.morcos_grid(data_dir)
    assert data["imagenet"] == ("folder", str(data_dir / "imagenet"))
    assert data["cifar10"] == ("cifar10", str(data_dir / "cifar10"))
    assert "places365" not in data  # optional, absent
    targets = {t for _, _, _, t, _ in transfers}
    assert targets == set(example.MORCOS_TARGETS)
    # Every dataset's ticket on every other target, for both models, plus SGD <-> Adam
    assert len(transfers) == 2 * 4 * 4 + 2
    assert ("resnet50", "imagenet", "sgd", "cifar100", "sgd") in transfers
    assert ("vgg19", "cifar10", "adam", "cifar10", "sgd") in transfers


def test_a_missing_subfolder_or_file_is_named_before_anything_trains(data_dir, tmp_path,
                                                                     capsys):
    example = _example()
    partial = tmp_path / "partial"
    write_svhn(partial / "svhn")
    write_idx_dataset(partial / "fashion-mnist")
    code = example.main(["--smoke", "--data-dir", str(partial), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "lacks the subfolder cifar10/" in err and "docs/datasets.md" in err
    assert not (tmp_path / "o").exists()
    write_cifar10_binary(partial / "cifar10")
    write_cifar100_python(partial / "cifar100", meta=False)
    (partial / "cifar100" / "test").unlink()
    with pytest.raises(FileNotFoundError, match="cifar100 lacks test; expected train and test"):
        example.morcos_grid(partial)


def test_one_transfer_of_the_grid_runs_at_smoke_scale(data_dir, tmp_path):
    """The example's data flow on real formats: ImageNet folder -> CIFAR-100, RGB 16x16."""
    example = _example()
    _, data = example.morcos_grid(data_dir)
    one = (("vgg19", "imagenet", "sgd", "cifar100", "sgd"),)
    results = example.run_all("smoke", tmp_path, progress=False, transfers=one, data=data)
    meta = results[0]["meta"]
    assert meta["dataset"]["name"] == "cifar100" and meta["dataset"]["num_classes"] == 100
    assert meta["dataset"]["input_shape"] == [3, 16, 16]
    source = json.loads((tmp_path / "runs" / "vgg19-imagenet-sgd" / "results.json").read_text())
    assert source["config"]["dataset"] == "folder" and source["config"]["channels"] == 3
    assert "imagenet/sgd" in example.table(results)
