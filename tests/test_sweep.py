"""Sweeps: grid expansion, joblib and Dask execution, restart, failures, aggregation."""

from __future__ import annotations

import csv
import json
import re
import shutil

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minilottery.cli import main
from minilottery.lottery import run_lottery
from minilottery.sweep import SWEEP_FILE, execution, reduce, run_sweep
from minilottery.sweep.spec import (
    SweepSpec,
    load_sweep,
    parse_value,
    spec_from_options,
    split_values,
)

# A tiny LeNet-300-100 on scikit-learn's digits: one pruning round in well under a second
TINY = {"model": "lenet300", "dataset": "digits", "width": 0.05, "iterations": 40,
        "rounds": 1}
TINY_SPEC = SweepSpec(base=TINY, grid={"seed": [0, 1], "reset": ["init", "reinit"]})
NAMES = ["reset=init,seed=0", "reset=init,seed=1", "reset=reinit,seed=0",
         "reset=reinit,seed=1"]
SCALARS = ("density", "kept_weights", "layer_density", "final_test_accuracy",
           "early_stop_iteration", "early_stop_test_accuracy", "round")


def comparable(results: dict) -> dict:
    """The measurements of a run, network by network, without timings."""
    networks = {"ticket": results["rounds"], **results["controls"]}
    return {name: [{k: r[k] for k in SCALARS} for r in records]
            for name, records in networks.items()}


def assert_same_results(got: dict, expected: dict) -> None:
    assert comparable(got) == comparable(expected)
    for name in ("rounds",):
        for a, b in zip(got[name], expected[name], strict=True):
            np.testing.assert_allclose([h["val_loss"] for h in a["history"]],
                                       [h["val_loss"] for h in b["history"]], rtol=1e-5)


def read_manifest(sweep_dir) -> dict:
    with open(sweep_dir / SWEEP_FILE) as handle:
        return {run["name"]: run for run in json.load(handle)["runs"]}


def read_results(path) -> dict:
    with open(path / "results.json") as handle:
        return json.load(handle)


@pytest.fixture(scope="module")
def alone(tmp_path_factory):
    """Each run of the tiny sweep run by itself, in this process."""
    out = {}
    for run in TINY_SPEC.expand():
        path = tmp_path_factory.mktemp("alone") / run.name
        out[run.name] = run_lottery(run.config, path, progress=False)
    return out


@pytest.fixture(scope="module")
def local_sweep(tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep")
    report = run_sweep(TINY_SPEC, out, jobs=2, progress=False)
    return out, report


# -- the sweep file -----------------------------------------------------------------------

def test_grid_expands_to_every_combination_with_stable_names():
    spec = SweepSpec(base={"model": "lenet300", "seed": 7},
                     grid={"seed": [0, 1, 2], "reset": ["init", "reinit"]},
                     runs=[{"dataset": "digits"}, {"dataset": "synthetic", "width": 0.5}])
    runs = spec.expand()
    assert len(runs) == 2 * 3 * 2
    # Only the fields that vary name a run; sorted, seed last; defaults fill the gaps
    assert runs[0].name == "dataset=digits,reset=init,width=1.0,seed=0"
    assert runs[-1].name == "dataset=synthetic,reset=reinit,width=0.5,seed=2"
    assert len({run.name for run in runs}) == len(runs)
    assert {run.config.seed for run in runs} == {0, 1, 2}  # the grid overrides [base]
    assert all(run.config.model == "lenet300" for run in runs)
    assert spec.expand()[5].name == runs[5].name  # the same spec, the same names


def test_one_run_sweep_is_named_run():
    (run,) = SweepSpec(base={"seed": 3}).expand()
    assert run.name == "run" and run.config.seed == 3


def test_sweep_file_toml_and_json_agree(tmp_path):
    toml = tmp_path / "s.toml"
    toml.write_text('[base]\nmodel = "lenet300"\nresize = [8, 8]\n\n[grid]\nseed = [0, 1]\n'
                    '\n[[runs]]\nlr = 0.01\n\n[[runs]]\nlr = 0.02\n')
    spec = load_sweep(toml)
    as_json = tmp_path / "s.json"
    as_json.write_text(json.dumps(spec.to_dict()))
    runs = spec.expand()
    assert [r.name for r in runs] == [r.name for r in load_sweep(as_json).expand()]
    assert [r.name for r in runs] == ["lr=0.01,seed=0", "lr=0.01,seed=1", "lr=0.02,seed=0",
                                      "lr=0.02,seed=1"]
    assert runs[0].config.resize == (8, 8)


@pytest.mark.parametrize("data, words", [
    ({"base": {"sed": 1}}, ["[base]", "'sed'", "did you mean 'seed'"]),
    ({"grid": {"seed": 0}}, ["[grid] seed", "non-empty list"]),
    ({"grid": {"seed": []}}, ["[grid] seed", "non-empty list"]),
    ({"grid": {"seed": ["1"]}}, ["'seed'", "'1'", "int"]),
    ({"grid": {"reset": ["init", "late"]}}, ["'reset'", "'late'", "rewind"]),
    ({"base": {"lr": "fast"}}, ["'lr'", "'fast'", "float"]),
    ({"base": {"controls": ["reinit", "shuffle"]}}, ["'controls'", "random_prune"]),
    ({"base": {"model": "lenet5"}}, ["'model'", "'lenet5'", "lenet300"]),
    ({"bases": {}}, ["unknown tables", "bases"]),
    ({"runs": [{"seed": 1}, {"wd": 0.1}]}, ["[[runs]] #2", "'wd'"]),
    ({"grid": {"seed": [0, 1]}, "runs": [{"seed": 2}]}, ["[[runs]] #1", "seed", "[grid]"]),
    ({"grid": {"seed": [0, 0]}}, ["runs 1 and 2 have the same configuration"]),
    ({"runs": [{"data_dir": "a/b"}, {"data_dir": "a_b"}]}, ["directory name 'data_dir=a_b'"]),
])
def test_bad_sweeps_name_the_field(data, words):
    with pytest.raises(ValueError) as error:
        SweepSpec.from_dict(data).expand()
    for word in words:
        assert word in str(error.value)


def test_bad_sweep_file_is_reported_with_its_name(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text("[base\nseed = 1\n")
    with pytest.raises(ValueError, match="broken.toml: not valid TOML"):
        load_sweep(path)
    with pytest.raises(FileNotFoundError, match="missing.toml"):
        load_sweep(tmp_path / "missing.toml")


def test_command_line_grid_and_set():
    spec = spec_from_options(None, ["model=conv2", "lr=1e-3"],
                             ["seed=0,1,2", "reset=init,reinit", "milestones=[10,20],[5]"])
    assert spec.base == {"model": "conv2", "lr": 0.001}
    assert spec.grid == {"seed": [0, 1, 2], "reset": ["init", "reinit"],
                         "milestones": [[10, 20], [5]]}
    assert len(spec.expand()) == 12
    assert parse_value("controls", "reinit+random_prune", "--set") == ["reinit", "random_prune"]
    assert parse_value("controls", "none", "--set") == []
    assert parse_value("rewind_iteration", "none", "--set") is None
    assert parse_value("dataset", "digits", "--set") == "digits"
    assert split_values("1,[2,3],{\"a\":1}") == ["1", "[2,3]", '{"a":1}']
    with pytest.raises(ValueError, match="--grid: got 'seed', expected FIELD=VALUE"):
        spec_from_options(None, [], ["seed"])
    with pytest.raises(ValueError, match="'iterations' got 'ten'"):
        spec_from_options(None, ["iterations=ten"])
    # an unknown field is named, with the close match (it was a bare KeyError: 'bogus')
    with pytest.raises(ValueError, match="--set: unknown field 'iteration'.*'iterations'"):
        spec_from_options(None, ["iteration=10"])


# -- execution ----------------------------------------------------------------------------

def test_two_local_processes_give_the_results_of_each_run_alone(local_sweep, alone):
    out, report = local_sweep
    assert report.ok and sorted(report.done) == NAMES and report.skipped == []
    manifest = read_manifest(out)
    assert sorted(manifest) == NAMES
    assert all(run["status"] == "done" and run["attempts"] == 1 for run in manifest.values())
    assert manifest["reset=reinit,seed=1"]["varied"] == {"reset": "reinit", "seed": 1}
    for name in NAMES:
        assert_same_results(read_results(out / name), alone[name])


def test_dask_local_cluster_gives_the_same_results(tmp_path, alone):
    pytest.importorskip("distributed", reason="dask.distributed is not installed "
                        '(pip install "minilottery[distributed]")')
    report = run_sweep(TINY_SPEC, tmp_path, dask="local", jobs=2, progress=False)
    assert report.ok and sorted(report.done) == NAMES
    for name in NAMES:
        assert_same_results(read_results(tmp_path / name), alone[name])


def test_a_running_dask_scheduler_by_its_address(tmp_path, alone):
    distributed = pytest.importorskip("distributed", reason="dask.distributed is not installed")
    runs = [run for run in TINY_SPEC.expand() if run.config.reset == "init"]
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster:
        report = run_sweep(runs, tmp_path, dask=cluster.scheduler_address, progress=False)
    assert report.ok and sorted(report.done) == [run.name for run in runs]
    for run in runs:
        assert_same_results(read_results(tmp_path / run.name), alone[run.name])


def _blas_threads() -> int:
    from threadpoolctl import threadpool_info

    return max((pool["num_threads"] for pool in threadpool_info()), default=0)


def test_workers_share_the_cores_instead_of_fighting():
    from joblib import Parallel, cpu_count, delayed

    with execution(jobs=2) as threads:
        seen = Parallel()(delayed(_blas_threads)() for _ in range(2))
    assert threads == max(1, cpu_count() // 2)
    if max(seen):  # NumPy reports a BLAS thread pool
        assert max(seen) <= threads


def test_restart_skips_finished_runs_and_resumes_the_others(local_sweep, alone, tmp_path):
    source, _ = local_sweep
    out = tmp_path / "sweep"
    shutil.copytree(source, out)
    # One run never started, one interrupted after round 0
    shutil.rmtree(out / "reset=init,seed=0")
    interrupted = out / "reset=reinit,seed=1"
    results = read_results(interrupted)
    results["rounds"] = results["rounds"][:1]
    results["controls"] = {name: [] for name in results["controls"]}
    (interrupted / "results.json").write_text(json.dumps(results))
    finished = ["reset=init,seed=1", "reset=reinit,seed=0"]
    stamps = {name: (out / name / "results.json").stat().st_mtime_ns for name in finished}
    round0 = (interrupted / "checkpoints" / "round_00.npz").stat().st_mtime_ns

    report = run_sweep(TINY_SPEC, out, jobs=1, progress=False)
    assert sorted(report.skipped) == finished
    assert sorted(report.done) == ["reset=init,seed=0", "reset=reinit,seed=1"]
    for name in finished:
        assert (out / name / "results.json").stat().st_mtime_ns == stamps[name]
    # Resumed after round 0: round 0's checkpoint was not rewritten
    assert (interrupted / "checkpoints" / "round_00.npz").stat().st_mtime_ns == round0
    manifest = read_manifest(out)
    assert {name: run["attempts"] for name, run in manifest.items()} == {
        "reset=init,seed=0": 2, "reset=init,seed=1": 1, "reset=reinit,seed=0": 1,
        "reset=reinit,seed=1": 2}
    for name in NAMES:
        assert_same_results(read_results(out / name), alone[name])


def test_a_failing_run_is_reported_and_the_others_finish(tmp_path, capsys):
    # A batch larger than the training set fails only once the data is loaded
    args = ["sweep", "--out", str(tmp_path), "--jobs", "2", "--no-progress",
            "--grid", "batch_size=30,100000,20"]
    for name, value in TINY.items():
        args += ["--set", f"{name}={value}"]
    assert main(args) == 1
    manifest = read_manifest(tmp_path)
    bad = manifest["batch_size=100000"]
    assert bad["status"] == "failed"
    assert bad["error"]["type"] == "ValueError"
    assert "batch_size: got 100000" in bad["error"]["message"]
    assert any("raise ValueError" in line for line in bad["error"]["traceback"])
    for name in ("batch_size=30", "batch_size=20"):
        assert manifest[name]["status"] == "done"
        assert len(read_results(tmp_path / name)["rounds"]) == 2
    printed = capsys.readouterr().out
    assert "FAILED batch_size=100000: ValueError: batch_size: got 100000" in printed
    assert "2 runs done" in printed and "1 failed" in printed


# -- aggregation --------------------------------------------------------------------------

@settings(deadline=None)
@given(st.lists(st.floats(0, 1), min_size=1, max_size=8))
def test_reduce_matches_numpy(values):
    out = reduce(values)
    assert out["n"] == len(values)
    assert out["mean"] == pytest.approx(np.mean(values))
    assert out["std"] == pytest.approx(np.std(values, ddof=1) if len(values) > 1 else 0.0,
                                       abs=1e-12)
    assert out["min"] == min(values) and out["max"] == max(values)


def test_plot_on_a_sweep_draws_the_aggregate(local_sweep, tmp_path, capsys):
    out = tmp_path / "sweep"
    shutil.copytree(local_sweep[0], out)
    assert main(["plot", str(out)]) == 0
    for name in ("sweep_accuracy.png", "sweep_final_accuracy.png", "sweep_early_stop.png"):
        assert (out / name).stat().st_size > 1000
    with open(out / "aggregate.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert {row["group"] for row in rows} == {"reset=init", "reset=reinit"}
    # Round 1 of the reset=init ticket: the mean and spread of the two seeds
    values = [read_results(out / f"reset=init,seed={s}")["rounds"][1]["early_stop_test_accuracy"]
              for s in (0, 1)]
    (row,) = [r for r in rows if r["group"] == "reset=init" and r["network"] == "ticket"
              and r["curve"] == "early_stop_test_accuracy" and r["round"] == "1"]
    assert int(row["n"]) == 2
    assert float(row["mean"]) == pytest.approx(np.mean(values), rel=1e-5)
    assert float(row["std"]) == pytest.approx(np.std(values, ddof=1), rel=1e-5, abs=1e-7)
    assert float(row["min"]) == pytest.approx(min(values), rel=1e-5)
    # The controls start from the dense round 0 of the ticket
    controls = [r for r in rows if r["network"] == "reinit"]
    assert {r["round"] for r in controls} == {"0", "1"}
    printed = capsys.readouterr().out
    assert "reset=init" in printed and "early-stop acc %" in printed



def test_the_table_names_each_reset_s_own_rounds_rightly():
    """reset=reinit rows were labelled "ticket": a reinit run has no winning ticket."""
    from minilottery.sweep.aggregate import aggregate_runs
    from minilottery.tables import aggregate_table

    def record(index):
        return {"round": index, "density": 0.8 ** index, "early_stop_test_accuracy": 0.9,
                "final_test_accuracy": 0.9, "early_stop_iteration": 10}

    resets = {"init": {"reset": "init"}, "rewind": {"reset": "rewind", "rewind_iteration": 5},
              "reinit": {"reset": "reinit"}}
    manifest = {"runs": [{"name": f"reset={r}", "varied": {"reset": r}} for r in resets]}
    results = {f"reset={r}": {"config": config, "rounds": [record(0), record(1)],
                              "controls": {"reinit": [record(1)]}}
               for r, config in resets.items()}
    rows = aggregate_runs(manifest, results)
    labels = {tuple(re.split(r"\s{2,}", line)[:2])
              for line in aggregate_table(rows).splitlines()[2:]}
    assert labels == {("reset=init", "ticket"), ("reset=init", "reinit"),
                      ("reset=rewind", "ticket (rewind to iteration 5)"),
                      ("reset=rewind", "reinit"),
                      ("reset=reinit", "IMP, reinit"), ("reset=reinit", "reinit")}
