"""``minilottery lottery --seeds N``: N runs as a sweep over seed, their mean and spread."""

from __future__ import annotations

import csv
import json
import sys

import pytest
from cli_runner import run_cli

from minilottery.sweep import run_sweep, spec_from_options

TINY = ["--model", "lenet300", "--dataset", "digits", "--width", "0.1", "--iterations", "40",
        "--eval-every", "20", "--no-progress"]




def test_seeds_runs_each_seed_and_draws_mean_and_spread(tmp_path, capsys):
    out_dir = tmp_path / "seeds"
    code, out, err = run_cli(["lottery", *TINY, "--rounds", "1", "--seed", "3", "--seeds", "2",
                              "--out", str(out_dir)], capsys)
    assert code == 0, err
    runs = {p.name for p in out_dir.iterdir() if p.is_dir()}
    assert runs == {"seed=3", "seed=4"}
    for name in runs:
        results = json.loads((out_dir / name / "results.json").read_text())
        assert results["config"]["seed"] == int(name.split("=")[1])
        assert (out_dir / name / "accuracy.png").is_file()  # each run's own figures
    for name in ("aggregate.csv", "sweep_accuracy.png", "sweep_final_accuracy.png",
                 "sweep.json"):
        assert (out_dir / name).is_file(), name
    rows = list(csv.DictReader((out_dir / "aggregate.csv").open()))
    ticket_1 = next(r for r in rows if r["network"] == "ticket" and r["round"] == "1"
                    and r["curve"] == "early_stop_test_accuracy")
    values = [json.loads((out_dir / n / "results.json").read_text())["rounds"][1]
              ["early_stop_test_accuracy"] for n in sorted(runs)]
    assert int(ticket_1["n"]) == 2
    assert float(ticket_1["mean"]) == pytest.approx(sum(values) / 2, abs=1e-5)
    assert "seed=3: round 1:" in out and "seeds" in out  # round lines and the table

    # The seed-3 run is the run a single-seed command gives
    code, _, err = run_cli(["lottery", *TINY, "--rounds", "1", "--seed", "3", "--out",
                            str(tmp_path / "one")], capsys)
    assert code == 0, err
    def numbers(path):
        return [{k: v for k, v in r.items() if k != "seconds"}
                for r in json.loads(path.read_text())["rounds"]]

    assert numbers(tmp_path / "one" / "results.json") == \
        numbers(out_dir / "seed=3" / "results.json")

    # Again: nothing is trained; `minilottery plot` redraws every figure
    code, out, err = run_cli(["lottery", *TINY, "--rounds", "1", "--seed", "3", "--seeds", "2",
                              "--out", str(out_dir)], capsys)
    assert code == 0, err
    assert "nothing left to run" in out
    (out_dir / "sweep_accuracy.png").unlink()
    (out_dir / "seed=4" / "training.png").unlink()
    code, out, err = run_cli(["plot", str(out_dir)], capsys)
    assert code == 0, err
    assert (out_dir / "sweep_accuracy.png").is_file()
    assert (out_dir / "seed=4" / "training.png").is_file()


@pytest.mark.parametrize("flags, message", [
    (["--seeds", "0"], "--seeds: got 0, expected a number of seeds >= 1"),
    (["--seeds", "2", "--jobs", "0"], "--jobs: got 0, expected a number of processes >= 1"),
    (["--seeds", "2", "--iterations", "0"], "iterations: got 0"),
])
def test_bad_seeds_flags_are_one_line_and_create_nothing(flags, message, tmp_path, capsys):
    out_dir = tmp_path / "seeds"
    code, out, err = run_cli(["lottery", *TINY, *flags, "--out", str(out_dir)], capsys)
    assert code == 2
    assert err.count("\n") == 1 and message in err, err
    assert not out_dir.exists() and "run directory" not in out


def test_dask_without_distributed_leaves_nothing_behind(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed fails
    spec = spec_from_options(None, ["model=lenet300", "dataset=digits", "iterations=20"],
                             ["seed=0,1"])
    with pytest.raises(ImportError, match="distributed"):
        run_sweep(spec, tmp_path / "sweep", dask="local", progress=False)
    assert not (tmp_path / "sweep").exists()


@pytest.mark.parametrize("argv", [
    ["sweep", "--set", "iterations=20"],
    ["supermask", "RUN"],
    ["lottery", *TINY, "--seeds", "2"],
])
def test_out_naming_a_file_is_one_line_in_every_command(argv, tmp_path, capsys):
    """sweep and supermask raised FileExistsError with a traceback."""
    target = tmp_path / "a-file"
    target.write_text("not a directory")
    argv = [str(tmp_path) if a == "RUN" else a for a in argv]
    code, _, err = run_cli([*argv, "--out", str(target)], capsys)
    assert code == 2
    assert err.count("\n") == 1 and f"--out: got {str(target)!r}, which is a file" in err
