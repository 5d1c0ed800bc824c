"""Every stored file of a run checked before it is used: named, with what to do, when it is not.

For each kind of file a run stores (results.json; the init, rewind and round
checkpoints) and each way it can go wrong (damaged in place, truncated,
missing, replaced by a foreign file): one line naming the file, what is wrong
and what to do, never a parser's words alone nor advice to unpickle; a
damaged round is trained again, to the results of a run never damaged.
"""

from __future__ import annotations

import io
import json
import shutil

import numpy as np
import pytest
from cli_runner import run_cli
from test_runs import assert_same_run, snapshot

from minilottery import lottery
from minilottery.config import LotteryConfig
from minilottery.runs import DamagedFileError, RunDirectory
from minilottery.stored_run import StoredRun

TINY = dict(model="lenet300", dataset="digits", width=0.1, iterations=20, eval_every=10,
            rounds=3, seed=3, reset="rewind", rewind_iteration=5, controls=("reinit",))
FLAGS = ["--model", "lenet300", "--dataset", "digits", "--width", "0.1", "--iterations", "20",
         "--eval-every", "10", "--rounds", "3", "--seed", "3", "--reset", "rewind",
         "--rewind-iteration", "5", "--controls", "reinit", "--no-progress"]
KINDS = ("damaged", "truncated", "missing", "foreign")
PROBLEMS = {"damaged": "damaged: its sha256 differs", "truncated": "truncated: ",
            "missing": "missing", "foreign": "replaced by another file: its size and sha256 "
            "differ"}


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    """The run never damaged."""
    path = tmp_path_factory.mktemp("clean") / "run"
    lottery.run_lottery(LotteryConfig(**TINY), path, progress=False, log=None)
    return path


@pytest.fixture
def copy(clean, tmp_path):
    path = tmp_path / "run"
    shutil.copytree(clean, path)
    return path


def foreign_npz() -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **{"weights/other": np.zeros(7, dtype=np.float32)})
    return buffer.getvalue()


def spoil(path, kind: str) -> None:
    """Damage the file ``path`` as ``kind`` says."""
    data = path.read_bytes()
    if kind == "damaged":  # a few bytes changed in place: the size is the same
        middle = len(data) // 2
        path.write_bytes(data[:middle] + bytes(b ^ 0xFF for b in data[middle:middle + 8])
                         + data[middle + 8:])
    elif kind == "truncated":
        path.write_bytes(data[:len(data) // 3])
    elif kind == "missing":
        path.unlink()
    else:
        path.write_bytes(foreign_npz() if path.suffix == ".npz" else b'["not", "a run"]\n')


def checkpoint(path, name):
    return path / "checkpoints" / f"{name}.npz"


def records(path) -> dict:
    return json.loads((path / "results.json").read_text())["checkpoints"]


def test_every_checkpoint_is_recorded_with_its_size_and_sha256(clean):
    import hashlib

    stored = records(clean)
    names = sorted(p.stem for p in (clean / "checkpoints").iterdir())
    assert sorted(stored) == names == ["init", "rewind", "round_00", "round_01", "round_02",
                                       "round_03"]
    for name, record in stored.items():
        data = checkpoint(clean, name).read_bytes()
        assert record == {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


@pytest.mark.parametrize("kind", KINDS)
def test_a_damaged_round_is_trained_again_to_the_clean_results(clean, copy, kind):
    """round_02 spoiled, rounds 0 and 1 intact: the same call retrains from round 2."""
    spoil(checkpoint(copy, "round_02"), kind)
    lines = []
    lottery.run_lottery(LotteryConfig(**TINY), copy, progress=False, log=lines.append)
    assert lines[0].startswith(f"{checkpoint(copy, 'round_02')}: {PROBLEMS[kind]}")
    assert lines[0].endswith("; retraining from round 2 (rounds 0 to 1 are intact)")
    assert [line.split(":")[0] for line in lines[2:]] == ["round 2", "round 3"]
    assert_same_run(copy, clean)
    assert records(copy).keys() == records(clean).keys()


def test_a_garbage_round_of_a_run_without_records_is_found(clean, copy):
    """A run stored before the records (no "checkpoints" in results.json): each checkpoint is
    still read before it is trusted, so a garbage round_01.npz is trained again."""
    results = json.loads((copy / "results.json").read_text())
    del results["checkpoints"]
    (copy / "results.json").write_text(json.dumps(results))
    checkpoint(copy, "round_01").write_bytes(b"garbage" * 100)
    lines = []
    lottery.run_lottery(LotteryConfig(**TINY), copy, progress=False, log=lines.append)
    assert lines[0] == (f"{checkpoint(copy, 'round_01')}: not a checkpoint: it is not a .npz "
                        "archive (not a zip file); retraining from round 1 (round 0 is intact)")
    assert_same_run(copy, clean)


def test_a_checkpoint_of_pickled_objects_is_refused_without_advising_to_unpickle(copy):
    buffer = io.BytesIO()
    np.savez(buffer, **{"weights/w": np.array([{"a": 1}], dtype=object)})
    checkpoint(copy, "round_03").write_bytes(buffer.getvalue())
    directory = RunDirectory(copy)
    directory.load_results()
    directory.checksums.clear()  # as in a run stored before the records
    with pytest.raises(DamagedFileError) as error:
        directory.load_checkpoint("round_03")
    assert "pickled Python objects" in str(error.value)
    assert "allow_pickle" not in str(error.value)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", ["init", "rewind"])
def test_damaged_reset_weights_are_named_and_nothing_is_changed(copy, name, kind, capsys):
    spoil(checkpoint(copy, name), kind)
    before = snapshot(copy)
    code, out, err = run_cli(["lottery", *FLAGS, "--rounds", "4", "--out", str(copy)], capsys)
    assert code == 2
    assert err == (f"minilottery lottery: error: {checkpoint(copy, name)}: {PROBLEMS[kind]}"
                   f"{err.split(PROBLEMS[kind])[1]}")
    assert err.rstrip().endswith("nothing was changed: restore it from a copy, or start "
                                 f"again in a new directory (another --out, or move {copy} "
                                 "away)")
    assert len(err.splitlines()) == 1 and "allow_pickle" not in err
    assert snapshot(copy) == before


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", ["rewind", "round_02"])
def test_the_reader_of_stored_runs_names_a_damaged_checkpoint(copy, name, kind):
    """Transfer, stability, pruning at initialisation and supermasks read through StoredRun."""
    spoil(checkpoint(copy, name), kind)
    with pytest.raises(DamagedFileError) as error:
        StoredRun(copy).finished()
    message = str(error.value)
    assert message.startswith(f"{checkpoint(copy, name)}: {PROBLEMS[kind]}")
    advice = ("run the same `minilottery lottery` command" if name.startswith("round")
              else "restore it from a copy")
    assert advice in message


def test_transfer_from_a_damaged_source_is_one_line(copy, tmp_path, capsys):
    spoil(checkpoint(copy, "round_01"), "damaged")
    code, _, err = run_cli(["transfer", "--source", str(copy), "--dataset", "digits",
                            "--no-progress", "--out", str(tmp_path / "t")], capsys)
    assert code == 2
    assert err.startswith(f"minilottery transfer: error: {checkpoint(copy, 'round_01')}: "
                          "damaged: its sha256")
    assert len(err.splitlines()) == 1


RESULTS_PROBLEMS = {"damaged": "damaged: not valid JSON (", "truncated": "truncated: its JSON "
                    "stops at line ", "foreign": "not the results of a minilottery run"}


@pytest.mark.parametrize("kind", KINDS)
def test_damaged_results_are_named_with_how_to_start_again(copy, kind, capsys):
    path = copy / "results.json"
    if kind == "damaged":  # a quote lost: the JSON parser's words alone named no file
        text = path.read_text()
        path.write_text(text.replace('"round"', '"round', 1))
    else:
        spoil(path, kind)
    before = snapshot(copy)
    code, _, err = run_cli(["lottery", *FLAGS, "--out", str(copy)], capsys)
    assert code == 2 and len(err.splitlines()) == 1
    if kind == "missing":
        assert err.startswith(f"minilottery lottery: error: {path}: missing, beside the "
                              "checkpoints of a run; nothing was changed")
    else:
        assert err.startswith(f"minilottery lottery: error: {path}: {RESULTS_PROBLEMS[kind]}")
    assert err.rstrip().endswith(f"start again in a new directory (another --out, or move "
                                 f"{copy} away)")
    assert snapshot(copy) == before  # nothing overwritten
    with pytest.raises((DamagedFileError, ValueError), match=str(copy)):
        StoredRun(copy)
