"""Run directories: atomic writes, checkpoints, refusal of a foreign run, and resume.

A run stopped anywhere (killed between two rounds, in the middle of one,
between a checkpoint and results.json) and started again with the same
command must end with exactly the results of a run never interrupted.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minilottery import lottery, recipe, runs
from minilottery.config import LotteryConfig
from minilottery.runs import (
    ConfigMismatchError,
    RunDirectory,
    atomic_write_json,
    load_npz,
    save_npz,
)

TINY = dict(model="lenet300", dataset="digits", width=0.1, iterations=40, eval_every=20,
            rounds=2, seed=5, controls=("reinit", "random_prune"))


def comparable(results: dict) -> dict:
    """Rounds and controls without the wall-clock times, which differ from run to run."""
    def strip(record):
        return {k: v for k, v in record.items() if k != "seconds"}
    return {"config": results["config"],
            "rounds": [strip(r) for r in results["rounds"]],
            "controls": {n: [strip(r) for r in rs] for n, rs in results["controls"].items()}}


def read_results(path) -> dict:
    return json.loads((path / "results.json").read_text())


def snapshot(path) -> dict:
    """Every file under ``path`` with its bytes and modification time."""
    return {p.relative_to(path): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(path.rglob("*")) if p.is_file()}


def assert_same_run(a, b) -> None:
    """Same results.json (but timings) and the same checkpoints, array for array."""
    assert comparable(read_results(a)) == comparable(read_results(b))
    names = sorted(p.name for p in (a / "checkpoints").iterdir())
    assert names == sorted(p.name for p in (b / "checkpoints").iterdir())
    for name in names:
        x, y = load_npz(a / "checkpoints" / name), load_npz(b / "checkpoints" / name)
        assert x.keys() == y.keys()
        for group in x:
            assert x[group].keys() == y[group].keys()
            assert all(np.array_equal(x[group][k], y[group][k]) for k in x[group]), name


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The uninterrupted run."""
    path = tmp_path_factory.mktemp("reference")
    lottery.run_lottery(LotteryConfig(**TINY), path, progress=False)
    return path


# -- atomic writes and npz -------------------------------------------------------------

def test_atomic_write_json_leaves_only_the_file(tmp_path):
    path = tmp_path / "sub" / "results.json"
    atomic_write_json(path, {"a": np.float32(0.5), "b": np.arange(3), "c": (1, 2),
                             "d": float("nan"), "e": np.int64(7), "f": float("inf")})
    assert [p.name for p in path.parent.iterdir()] == ["results.json"]
    assert json.loads(path.read_text()) == {"a": 0.5, "b": [0, 1, 2], "c": [1, 2],
                                            "d": None, "e": 7, "f": None}


def test_a_failing_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "results.json"
    atomic_write_json(path, {"rounds": [1]})

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(runs.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_json(path, {"rounds": [1, 2]})
    with pytest.raises(OSError, match="disk full"):
        save_npz(tmp_path / "c.npz", {"weights": {"w": np.ones(3)}})
    monkeypatch.undo()
    # an object JSON cannot hold fails before anything is written
    with pytest.raises(TypeError):
        atomic_write_json(path, {"rounds": object()})
    assert json.loads(path.read_text()) == {"rounds": [1]}
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]


@given(shapes=st.lists(st.lists(st.integers(0, 4), max_size=3), min_size=1, max_size=4),
       seed=st.integers(0, 99))
def test_save_npz_load_npz_round_trip(tmp_path_factory, shapes, seed):
    rng = np.random.default_rng(seed)
    groups = {
        "masks": {f"features.{i}.weight": rng.random(s) < 0.5 for i, s in enumerate(shapes)},
        "weights": {f"features.{i}.weight": rng.standard_normal(s).astype(np.float32)
                    for i, s in enumerate(shapes)},
        "meta": {"steps": np.array(seed, dtype=np.int64)},
    }
    path = tmp_path_factory.mktemp("npz") / "checkpoints" / "round_00.npz"
    save_npz(path, groups)
    loaded = load_npz(path)
    assert loaded.keys() == groups.keys()
    for group, arrays in groups.items():
        assert loaded[group].keys() == arrays.keys()
        for name, array in arrays.items():
            got = loaded[group][name]
            assert got.dtype == array.dtype and np.array_equal(got, array)
    assert [p.name for p in path.parent.iterdir()] == ["round_00.npz"]


# -- a directory of another run is refused and left alone ------------------------------

def test_run_directory_open_and_refuse(tmp_path):
    directory = RunDirectory(tmp_path / "new")
    assert directory.open({"lr": 0.1}, {"config": {"lr": 0.1}, "rounds": []}) == {
        "config": {"lr": 0.1}, "rounds": []}
    directory.save_results({"config": {"lr": 0.1, "rounds": 2}, "rounds": [{"round": 0}]})
    assert directory.open({"lr": 0.1, "rounds": 5}, {}, ignore=("rounds",))["rounds"] == [
        {"round": 0}]
    with pytest.raises(ConfigMismatchError, match=r"lr: stored 0.1, given 0.2"):
        directory.open({"lr": 0.2, "rounds": 2}, {})
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(ConfigMismatchError, match="not empty and holds no results.json"):
        RunDirectory(tmp_path / "other").open({}, {})
    with pytest.raises(FileNotFoundError, match="checkpoint round_07.npz missing"):
        directory.load_checkpoint("round_07")
    with pytest.raises(FileNotFoundError, match="no results.json"):
        RunDirectory(tmp_path / "other").load_results()


@pytest.mark.parametrize("changes, field", [
    (dict(lr=0.01), r"lr: stored 0.0012, given 0.01"),
    (dict(seed=6), r"seed: stored 5, given 6"),
    (dict(reset="rewind", rewind_iteration=5), r"reset: stored 'init', given 'rewind'"),
])
def test_a_run_of_another_configuration_is_refused_untouched(reference, changes, field):
    before = snapshot(reference)
    with pytest.raises(ConfigMismatchError, match=field) as error:
        lottery.run_lottery(LotteryConfig(**{**TINY, **changes}), reference, progress=False)
    assert "another configuration" in str(error.value)
    assert snapshot(reference) == before


# -- resume ------------------------------------------------------------------------------

class Interrupt:
    """Replaces a function: raises KeyboardInterrupt on call number ``at`` (1-based)."""

    def __init__(self, real, at: int):
        self.real, self.at, self.calls = real, at, 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        if self.calls == self.at:
            raise KeyboardInterrupt
        return self.real(*args, **kwargs)


@pytest.mark.parametrize("call", [1, 2, 4, 6])
def test_a_run_stopped_during_training_resumes_to_the_same_results(reference, tmp_path,
                                                                   monkeypatch, call):
    """Trainings: 1 = round 0, 2..4 = round 1 and its controls, 5..7 = round 2 and its."""
    monkeypatch.setattr(recipe, "train", Interrupt(recipe.train, call))
    with pytest.raises(KeyboardInterrupt):
        lottery.run_lottery(LotteryConfig(**TINY), tmp_path, progress=False)
    finished = read_results(tmp_path)["rounds"]
    assert len(finished) == (call - 1 + 2) // 3  # the round under way is not recorded
    monkeypatch.undo()
    lottery.run_lottery(LotteryConfig(**TINY), tmp_path, progress=False)
    assert_same_run(tmp_path, reference)


def test_a_checkpoint_without_its_results_is_redone(reference, tmp_path, monkeypatch):
    """Stopped after round_02.npz was written but before results.json recorded round 2."""
    # save_results calls: the fresh file, then rounds 0, 1, 2
    stop = Interrupt(RunDirectory.save_results, 4)
    monkeypatch.setattr(RunDirectory, "save_results", lambda self, results: stop(self, results))
    with pytest.raises(KeyboardInterrupt):
        lottery.run_lottery(LotteryConfig(**TINY), tmp_path, progress=False)
    assert (tmp_path / "checkpoints" / "round_02.npz").is_file()
    assert len(read_results(tmp_path)["rounds"]) == 2
    monkeypatch.undo()
    lottery.run_lottery(LotteryConfig(**TINY), tmp_path, progress=False)
    assert_same_run(tmp_path, reference)


def test_more_rounds_continue_a_finished_run(reference, tmp_path):
    lottery.run_lottery(LotteryConfig(**{**TINY, "rounds": 1}), tmp_path, progress=False)
    assert len(read_results(tmp_path)["rounds"]) == 2
    lottery.run_lottery(LotteryConfig(**TINY), tmp_path, progress=False)
    assert_same_run(tmp_path, reference)


@pytest.mark.parametrize("reset", ["init", "reinit", "rewind"])
def test_a_control_added_to_a_finished_run_gives_what_a_run_with_it_gives(tmp_path, reset,
                                                                        monkeypatch):
    """random_prune added to a reinit-only run: trained at every stored round from its
    checkpoint, the same numbers as a run that had both controls from the start; a stop
    while the added controls train resumes to the same too."""
    both = LotteryConfig(**{**TINY, "reset": reset, "rewind_iteration": 0.25})
    lottery.run_lottery(both, tmp_path / "ref", progress=False)
    lottery.run_lottery(replace(both, controls=("reinit",)), tmp_path / "cut", progress=False)
    assert read_results(tmp_path / "cut")["controls"].keys() == {"reinit"}
    # trainings of the added controls: round 1's, then round 2's (stopped there)
    monkeypatch.setattr(recipe, "train", Interrupt(recipe.train, 2))
    with pytest.raises(KeyboardInterrupt):
        lottery.run_lottery(both, tmp_path / "cut", progress=False)
    assert len(read_results(tmp_path / "cut")["controls"]["random_prune"]) == 1
    monkeypatch.undo()
    lottery.run_lottery(both, tmp_path / "cut", progress=False)
    assert_same_run(tmp_path / "cut", tmp_path / "ref")


def test_a_resumed_run_may_not_drop_a_control(reference, capsys):
    before = snapshot(reference)
    with pytest.raises(ConfigMismatchError, match=r"drops random_prune \(a run may add "
                       r"controls on resume, not drop them\)"):
        lottery.run_lottery(LotteryConfig(**{**TINY, "controls": ("reinit",)}), reference,
                            progress=False)
    assert snapshot(reference) == before


def test_resume_of_a_rewind_run(tmp_path, monkeypatch):
    config = LotteryConfig(**{**TINY, "reset": "rewind", "rewind_iteration": 0.25,
                              "controls": ("random_prune",)})
    lottery.run_lottery(config, tmp_path / "ref", progress=False)
    monkeypatch.setattr(recipe, "train", Interrupt(recipe.train, 4))
    with pytest.raises(KeyboardInterrupt):
        lottery.run_lottery(config, tmp_path / "cut", progress=False)
    monkeypatch.undo()
    lottery.run_lottery(config, tmp_path / "cut", progress=False)
    assert read_results(tmp_path / "cut")["config"]["rewind_iteration"] == 10
    assert_same_run(tmp_path / "cut", tmp_path / "ref")


SCRIPT = """
import json, sys
from minilottery.config import LotteryConfig
from minilottery.lottery import run_lottery
run_lottery(LotteryConfig(**json.loads(sys.argv[1])), sys.argv[2], progress=False)
"""
SLOW = dict(TINY, iterations=150, eval_every=50, rounds=3, controls=("reinit",))


def test_a_killed_process_resumes_to_the_same_results(tmp_path):
    """SIGKILL while round 2 trains (round 1 is in results.json); the same command again."""
    command = [sys.executable, "-c", SCRIPT, json.dumps(SLOW)]
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    cut, ref = tmp_path / "cut", tmp_path / "ref"
    process = subprocess.Popen(command + [str(cut)], env=env)
    try:
        deadline = time.monotonic() + 120
        while process.poll() is None and time.monotonic() < deadline:
            if (cut / "results.json").is_file() and len(read_results(cut)["rounds"]) >= 2:
                process.send_signal(signal.SIGKILL)
                break
            time.sleep(0.02)
    finally:
        process.kill()
        returncode = process.wait()
    assert returncode == -signal.SIGKILL, "the run finished before it could be killed"
    finished = len(read_results(cut)["rounds"])
    assert 2 <= finished < 4
    subprocess.run(command + [str(cut)], env=env, check=True, timeout=120)
    subprocess.run(command + [str(ref)], env=env, check=True, timeout=120)
    assert len(read_results(cut)["rounds"]) == 4
    assert_same_run(cut, ref)


def test_opening_a_run_removes_what_a_killed_write_left(tmp_path):
    """SIGKILL in the middle of an atomic write leaves its temporary file; the next open
    removes it (and only it), so a killed-then-resumed run ends with the files of a clean one."""
    directory = RunDirectory(tmp_path / "run")
    results = directory.open({"seed": 0}, {"config": {"seed": 0}, "rounds": []})
    directory.save_results(results)
    directory.save_checkpoint("init", weights={"w": np.zeros(3, dtype=np.float32)})
    litter = [directory.path / ".results.json.abc123.tmp",
              directory.path / "checkpoints" / ".round_02.npz.def456.tmp"]
    for path in litter:
        path.write_bytes(b"partial")
    directory.open({"seed": 0}, {})
    assert not any(path.exists() for path in litter)
    assert sorted(p.name for p in directory.path.iterdir()) == ["checkpoints", "results.json"]
    assert [p.name for p in (directory.path / "checkpoints").iterdir()] == ["init.npz"]


def test_a_run_killed_before_its_first_results_can_still_be_opened(tmp_path):
    path = tmp_path / "run"
    path.mkdir()
    (path / ".results.json.abc123.tmp").write_bytes(b"{")
    assert RunDirectory(path).open({"seed": 0}, {"rounds": []}) == {"rounds": []}


def test_a_failed_write_ends_in_one_line_and_the_same_command_resumes(tmp_path):
    """A file-size limit (as a full disk would) stops the run at a checkpoint: one line naming
    the file, the system's reason and how to resume; no partial file; the same command
    then finishes with the results of a run that never failed."""
    import resource

    limit = 230_000  # init.npz (about 200 kB) fits, round_00.npz (weights and masks) does not

    def limited():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    def command(out):
        return [sys.executable, "-m", "minilottery", "lottery", "--dataset", "digits",
                "--iterations", "40", "--eval-every", "20", "--rounds", "2", "--seed", "5",
                "--control", "reinit", "--no-progress", "--out", str(out)]

    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MPLBACKEND="Agg")
    cut, ref = tmp_path / "cut", tmp_path / "ref"
    failed = subprocess.run(command(cut), env=env, preexec_fn=limited, capture_output=True,
                            text=True, timeout=300)
    lines = failed.stderr.strip().splitlines()
    assert failed.returncode == 1, failed.stderr
    assert len(lines) == 1, failed.stderr
    assert lines[0].startswith(f"minilottery lottery: error: could not write {cut}")
    assert os.strerror(27) in lines[0]  # EFBIG, "File too large"
    assert lines[0].endswith("run the same command again to resume)")
    assert not list(cut.rglob("*.tmp"))
    for out in (cut, ref):
        subprocess.run(command(out), env=env, check=True, capture_output=True, timeout=300)
    assert len(read_results(cut)["rounds"]) == 3
    assert_same_run(cut, ref)
