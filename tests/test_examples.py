"""Each example script of the papers' experiments runs end to end at its --smoke scale.

The scripts live in examples/ (not a package): they are imported from there,
as ``python examples/<name>.py`` would run them, and called through their
``main(argv)`` with a temporary output directory.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture(scope="module")
def examples_path():
    sys.path.insert(0, str(EXAMPLES))
    yield
    sys.path.remove(str(EXAMPLES))


def load(name: str):
    return importlib.import_module(name)


# (script, run directories it makes, extra arguments)
CASES = [
    ("lenet_mnist", ["imp"], ["--dataset", "digits"]),
    ("conv_nets", ["conv2", "conv4", "conv6"], []),
    ("dropout", ["no_dropout", "dropout"], ["--dataset", "digits"]),
    ("modifications", ["iterative", "oneshot", "rewind", "global"], []),
]


@pytest.mark.parametrize(("name", "run_dirs", "extra"), CASES, ids=[c[0] for c in CASES])
def test_example_smoke(examples_path, tmp_path, capsys, name, run_dirs, extra):
    out = tmp_path / name
    assert load(name).main(["--smoke", "--no-progress", "--out", str(out), *extra]) == 0
    printed = capsys.readouterr().out
    assert "remaining %" in printed and "-----" in printed  # a table was printed
    assert f"{name}: finished in" in printed and "the trainings took" in printed
    assert (out / f"{name}.png").stat().st_size > 1000
    summary = json.loads((out / "summary.json").read_text())
    assert summary["example"] == name and summary["scale"] == "smoke"
    for run_dir in run_dirs:
        results = json.loads((out / run_dir / "results.json").read_text())
        assert len(results["rounds"]) == results["config"]["rounds"] + 1
        assert (out / run_dir / "accuracy.png").is_file()

    # A second call resumes: every round is already there, nothing is trained again
    before = {d: (out / d / "results.json").stat().st_mtime_ns for d in run_dirs}
    assert load(name).main(["--smoke", "--no-progress", "--out", str(out), *extra]) == 0
    assert {d: (out / d / "results.json").stat().st_mtime_ns for d in run_dirs} == before


def test_dropout_runs_share_their_initial_weights(examples_path, tmp_path):
    out = tmp_path / "dropout"
    load("dropout").main(["--smoke", "--no-progress", "--out", str(out),
                          "--dataset", "digits"])
    from minilottery.runs import RunDirectory

    plain = RunDirectory(out / "no_dropout").load_checkpoint("init")["weights"]
    dropped = RunDirectory(out / "dropout").load_checkpoint("init")["weights"]
    assert list(plain) != list(dropped)  # the Dropout layers shift the names ...
    for a, b in zip(plain.values(), dropped.values(), strict=True):
        np.testing.assert_array_equal(a, b)  # ... not the weights


def test_jaccard_and_its_chance_level(examples_path):
    common = load("_common")
    rng = np.random.default_rng(0)
    a = [rng.random((30, 40)) < 0.3, rng.random((10, 5)) < 0.6]
    assert common.jaccard(a, a) == 1.0
    assert common.jaccard(a, [~m for m in a]) == 0.0
    # Independent random masks of the same densities land near the chance value
    b = [rng.random(m.shape) < m.mean() for m in a]
    assert abs(common.jaccard(a, b) - common.chance_jaccard(a, b)) < 0.05
    with pytest.raises(ValueError, match="masks of different layers"):
        common.jaccard(a, a[:1])


def test_comparison_table_gives_each_run_its_density_when_they_differ(examples_path):
    common = load("_common")
    first = [{"round": 0, "density": 1.0, "early_stop_test_accuracy": 0.9},
             {"round": 1, "density": 0.8, "early_stop_test_accuracy": 0.91}]
    other = [{"round": 0, "density": 1.0, "early_stop_test_accuracy": 0.9},
             {"round": 1, "density": 0.7, "early_stop_test_accuracy": 0.5}]
    headers, rows = common.comparison_rows(
        {"a": first, "b": other}, [("early_stop_test_accuracy", "acc %")])
    assert headers == ["round", "remaining %", "b remaining %", "a acc %", "b acc %"]
    assert rows[1] == [1, "80.0", "70.0", "91.00", "50.00"]
    headers, _ = common.comparison_rows({"a": first, "c": first},
                                        [("early_stop_test_accuracy", "acc %")])
    assert "c remaining %" not in headers


def test_beyond_smoke(examples_path, tmp_path, capsys):
    """Instability, pruning at initialisation and supermasks, end to end and tiny."""
    out = tmp_path / "beyond"
    assert load("beyond").main(["--smoke", "--no-progress", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "stable from:" in printed and "pruning at initialisation" in printed
    assert "supermasks" in printed
    for part in ("stability-dense", "stability-ticket", "prune-at-init", "supermask"):
        assert (out / part / "results.json").is_file()


def test_sparsity_comparison_smoke(examples_path, tmp_path, capsys):
    """Every method of the comparison, one seed, a table and a figure; again: resumed."""
    out = tmp_path / "cmp"
    argv = ["--smoke", "--seeds", "1", "--net", "lenet", "--no-progress", "--out", str(out)]
    assert load("sparsity_comparison").main(argv) == 0
    table = (out / "comparison.md").read_text()
    for method in ("IMP (reset to init)", "IMP (rewind to 5%)", "IMP N:M", "structured IMP",
                   "gradual pruning", "SET", "RigL"):
        assert f"| {method}" in table
    assert (out / "comparison.png").stat().st_size > 1000
    before = (out / "seed0" / "sparse" / "results.json").stat().st_mtime_ns
    assert load("sparsity_comparison").main(argv) == 0
    assert (out / "seed0" / "sparse" / "results.json").stat().st_mtime_ns == before


def test_sparsity_speed_smoke(examples_path, tmp_path, capsys):
    out = tmp_path / "speed.png"
    assert load("sparsity_speed").main(["--smoke", "--out", str(out)]) == 0
    rows = json.loads(out.with_suffix(".json").read_text())
    kinds = {(r["net"], r["kind"]) for r in rows}
    assert {("lenet300", "masked"), ("lenet300", "CSR"), ("lenet300", "compacted"),
            ("conv2", "compacted")} <= kinds
    assert all(r["inference_s"] > 0 and r["train_step_s"] > 0 for r in rows)
    assert out.stat().st_size > 1000
