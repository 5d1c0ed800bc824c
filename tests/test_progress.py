"""Progress: the overall line, a line per finished round, and a rerun that says it is done.

The output is what a user sees, so the tests read it as captured from the
command line and from ``run_lottery``.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
from cli_runner import run_cli

from minilottery.config import LotteryConfig
from minilottery.lottery import LotteryRun, run_lottery
from minilottery.progress import RunProgress, clock, round_line
from minilottery.runner import RunContext

TINY = ["--model", "lenet300", "--dataset", "digits", "--width", "0.1", "--iterations", "40",
        "--eval-every", "20"]


def as_terminal(monkeypatch):
    """stderr taken for a terminal, where tqdm draws its bars (disable=None); called in the
    test's body, where capsys has put its stream in place."""
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)




def test_clock():
    assert [clock(s) for s in (0, 75, 3725, -3)] == ["00:00", "01:15", "1:02:05", "00:00"]


def test_estimate_counts_iterations_of_this_call_only():
    """Two trainings of 100 and one of 50 after one of 100 took 10 s: 15 s left (the
    trainings done before this call, ``done``, are not counted as free)."""
    progress = RunProgress([100, 100, 100, 50], done=1, bars=False, log=None)
    assert progress.remaining_seconds() is None and "estimating" in progress.status()
    progress.started -= 10.0
    progress.finished()
    assert progress.done == 2
    assert progress.remaining_seconds() == pytest.approx(15.0, rel=0.05)
    assert re.search(r"00:1\d elapsed, ~00:1\d left", progress.status())


def test_lines_go_to_log_without_bars(capsys):
    lines = []
    with RunProgress([10, 10], bars=False, log=lines.append) as progress:
        progress.finished()
        progress.write("round 0: done")
    assert lines == ["round 0: done"]
    out, err = capsys.readouterr()
    assert out == "" and err == ""


def test_overall_line_on_stderr(capsys, monkeypatch):
    as_terminal(monkeypatch)
    with RunProgress([10, 10, 10], done=1, bars=True) as progress:
        progress.finished()
        progress.write("a line that stays")
    out, err = capsys.readouterr()
    assert "a line that stays" in out
    assert "trainings 1/3" in err and "trainings 2/3" in err and "elapsed" in err


def test_round_line_names_density_accuracies_and_controls():
    record = {"round": 3, "density": 0.512, "early_stop_test_accuracy": 0.971,
              "early_stop_iteration": 400, "final_test_accuracy": 0.969}
    control = {"early_stop_test_accuracy": 0.952, "final_test_accuracy": 0.95}
    assert round_line(record, {"random_prune": control}) == (
        "round 3: 51.2% of weights, test accuracy 97.10% at early stop (iteration 400), "
        "96.90% at the end; random prune 95.20% / 95.00%")


def test_lottery_reports_each_round_and_the_whole_run(tmp_path, capsys, monkeypatch):
    as_terminal(monkeypatch)
    code, out, err = run_cli(["lottery", *TINY, "--rounds", "2", "--out",
                              str(tmp_path / "run")], capsys)
    assert code == 0, err
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    for record in results["rounds"]:
        line = next(ln for ln in out.splitlines() if ln.startswith(f"round {record['round']}:"))
        assert f"{100 * record['early_stop_test_accuracy']:.2f}% at early stop" in line
        assert f"{100 * record['final_test_accuracy']:.2f}% at the end" in line
        assert ("reinit" in line) == (record["round"] > 0)
    # 3 ticket trainings and 2 reinit controls, counted over the whole run
    assert "trainings 5/5" in err and "left" in err

    # Again: nothing to train, and it says so instead of silently reprinting the table
    code, out, err = run_cli(["lottery", *TINY, "--rounds", "2", "--out",
                              str(tmp_path / "run")], capsys)
    assert code == 0
    assert f"nothing left to train: 3 rounds (0 to 2) already in {tmp_path / 'run'}" in out
    assert not any(ln.startswith("round 0:") for ln in out.splitlines())
    assert "trainings" not in err

    # One more round: the run resumes and counts from where it stopped
    code, out, err = run_cli(["lottery", *TINY, "--rounds", "3", "--out",
                              str(tmp_path / "run")], capsys)
    assert code == 0, err
    assert "resuming" in out and "round 3:" in out and "round 2:" not in out
    assert "trainings 5/7" in err and "trainings 7/7" in err


def test_no_progress_keeps_the_round_lines_and_draws_no_bar(tmp_path, capsys, monkeypatch):
    as_terminal(monkeypatch)
    code, out, err = run_cli(["lottery", *TINY, "--rounds", "1", "--no-progress", "--out",
                              str(tmp_path / "run")], capsys)
    assert code == 0, err
    assert "round 0:" in out and "round 1:" in out
    assert "trained" not in out
    assert err == ""


def test_output_to_a_file_has_no_bar_and_a_plain_line_per_training(tmp_path):
    """``minilottery lottery > log 2>&1``: no carriage return, no cursor move; each training
    leaves one line (what, density, accuracy, time), then the round's line."""
    log = tmp_path / "log"
    with open(log, "wb") as handle:
        done = subprocess.run([sys.executable, "-m", "minilottery", "lottery", *TINY,
                               "--rounds", "1", "--out", str(tmp_path / "run")],
                              stdout=handle, stderr=subprocess.STDOUT, timeout=300)
    text = log.read_bytes()
    assert done.returncode == 0, text
    assert b"\r" not in text and b"\x1b[" not in text
    lines = text.decode().splitlines()
    trained = [line for line in lines if line.startswith("trained ")]
    assert [re.sub(r"\d+\.\d\d%|\d+ s\b|~\S+", "#", line) for line in trained] == [
        "trained round 0 (100.0%): test accuracy # at early stop, # at the end, # "
        "(training 1/3, # left)",
        "trained round 1 (80.4%): test accuracy # at early stop, # at the end, # "
        "(training 2/3, # left)",
        "trained reinit (80.4%): test accuracy # at early stop, # at the end, # "
        "(training 3/3)"]
    assert lines.index(trained[0]) < lines.index(next(ln for ln in lines
                                                      if ln.startswith("round 0:")))


def test_run_lottery_from_python_logs_where_asked(tmp_path, capsys):
    config = LotteryConfig(model="lenet300", dataset="digits", width=0.1, iterations=20,
                           eval_every=20, rounds=1, controls=())
    lines = []
    run_lottery(config, tmp_path / "run", progress=False, log=lines.append)
    assert [ln.split(":")[0] for ln in lines] == ["round 0", "round 1"]
    run = LotteryRun(config, tmp_path / "run", context=RunContext(progress=False, log=None))
    assert run.planned_trainings() == [20, 20] and run.trainings_done() == 2
    run.run()
    assert capsys.readouterr() == ("", "")


def test_train_and_lottery_round_0_give_the_same_numbers(tmp_path, capsys):
    """They used different seed streams for the batch order (95.30% against 95.10% with
    the defaults); train now draws round 0's."""
    code, out, _ = run_cli(["train", *TINY, "--no-progress"], capsys)
    assert code == 0
    final = re.search(r"final test accuracy ([\d.]+)%", out).group(1)
    code, _, err = run_cli(["lottery", *TINY, "--rounds", "0", "--no-progress", "--out",
                            str(tmp_path / "run")], capsys)
    assert code == 0, err
    round0 = json.loads((tmp_path / "run" / "results.json").read_text())["rounds"][0]
    assert final == f"{100 * round0['final_test_accuracy']:.2f}"
    history = [line.split()[-1] for line in out.splitlines() if re.match(r"^\d+\s", line)]
    assert history == [f"{100 * h['test_accuracy']:.2f}" for h in round0["history"]]


def test_transfer_reports_each_density_and_a_finished_run(tmp_path):
    from minilottery.transfer import TransferConfig, run_transfer

    source = LotteryConfig(model="lenet300", dataset="digits", width=0.1, iterations=20,
                           eval_every=20, rounds=2, controls=())
    run_lottery(source, tmp_path / "source", progress=False, log=None)
    config = TransferConfig(source=str(tmp_path / "source"), dataset="digits",
                            optimizer="sgd", lr=0.05)
    lines = []
    results = run_transfer(config, tmp_path / "transfer", progress=False, log=lines.append)
    assert [line.split(" (")[0] for line in lines] == ["density 1", "density 2"]
    first = results["rounds"][0]
    assert f"transferred {100 * first['early_stop_test_accuracy']:.2f}%" in lines[0]
    lines.clear()
    run_transfer(config, tmp_path / "transfer", progress=False, log=lines.append)
    assert lines == [f"nothing left to train: 2 densities already in {tmp_path / 'transfer'}"]
