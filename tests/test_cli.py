"""The command line end to end on tiny runs, and its answers to bad flags.

Flags argparse cannot parse exit with code 2 and argparse's message naming
the flag; values that parse but are out of range are refused by the library,
and ``main`` turns that error into exit code 2 with the library's message,
before anything is written.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
from cli_runner import run_cli

from minilottery.cli import build_parser

TINY = ["--model", "lenet300", "--dataset", "digits", "--width", "0.1", "--iterations", "60",
        "--no-progress"]




def test_lottery_prints_the_rounds_table_and_writes_results(tmp_path, capsys):
    out_dir = tmp_path / "run"
    argv = ["lottery", *TINY, "--rounds", "2", "--out", str(out_dir)]
    code, out, err = run_cli(argv, capsys)
    assert code == 0, err
    results = json.loads((out_dir / "results.json").read_text())
    assert [r["round"] for r in results["rounds"]] == [0, 1, 2]
    assert [r["round"] for r in results["controls"]["reinit"]] == [1, 2]
    assert results["config"]["iterations"] == 60 and results["config"]["width"] == 0.1
    assert f"run directory: {out_dir}" in out
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("round  remaining %"))
    assert "early-stop acc %" in lines[header] and "reinit early-stop %" in lines[header]
    rows = lines[header + 2:header + 5]
    for row, record in zip(rows, results["rounds"], strict=True):
        cells = row.split()
        assert int(cells[0]) == record["round"]
        assert cells[1] == f"{100 * record['density']:.1f}"
        assert cells[2] == f"{100 * record['early_stop_test_accuracy']:.2f}"
    assert [r.split()[1] for r in rows] == ["100.0", "80.4", "64.7"]
    assert sorted(p.name for p in out_dir.glob("*.png"))  # the plots were drawn

    # The same command again resumes a finished run: nothing retrained, same table
    before = (out_dir / "results.json").read_text()
    code, again, err = run_cli(argv, capsys)
    assert code == 0, err
    assert json.loads((out_dir / "results.json").read_text())["rounds"] == \
        json.loads(before)["rounds"]
    again_lines = again.splitlines()
    at = again_lines.index(lines[header])  # the round lines are not repeated: nothing trained
    assert rows == again_lines[at + 2:at + 5]
    assert "nothing left to train" in again

    # Another configuration in the same directory: refused, the message says what differs
    code, _, err = run_cli(argv + ["--lr", "0.01"], capsys)
    assert code == 2
    assert "minilottery lottery: error:" in err and "lr: stored 0.0012, given 0.01" in err
    assert json.loads((out_dir / "results.json").read_text())["rounds"] == \
        json.loads(before)["rounds"]


def test_train_prints_the_history():
    """Through ``python -m minilottery``, as a user runs it."""
    done = subprocess.run(
        [sys.executable, "-m", "minilottery", "train", *TINY, "--eval-every", "20"],
        capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("iteration"))
    assert "val acc %" in lines[header] and "test acc %" in lines[header]
    iterations = [int(line.split()[0]) for line in lines[header + 2:header + 6]]
    assert iterations == [0, 20, 40, 60]
    assert re.search(r"final test accuracy \d+\.\d\d%; early stop at iteration \d+",
                     done.stdout)


@pytest.mark.parametrize("argv, message", [
    (["lottery", "--width", "abc"], "argument --width: got 'abc', expected float"),
    (["lottery", "--model", "lenet5"], "argument --model: got 'lenet5', expected one of"),
    (["lottery", "--dataset", "digitz"], "argument --dataset: got 'digitz', expected one of"),
    (["lottery", "--resize", "32y"], "--resize: got '32y', expected HxW such as 32x32"),
    (["lottery", "--layer-rate", "1.weight=lots"],
     "--layer-rate: got '1.weight=lots', expected NAME=RATE"),
    (["lottery", "--control", "shuffle"], "--control: got 'shuffle', expected a list of one of"),
    (["lottery", "--strategy", "twoshot"], "argument --strategy: got 'twoshot', expected one of"),
    (["train", "--iterations", "1.5"], "argument --iterations: got '1.5', expected int"),
    (["train", "--rounds", "2"], "unrecognized arguments: --rounds 2"),
])
def test_unparsable_flags_exit_2_naming_the_argument(argv, message, capsys, tmp_path):
    code, _, err = run_cli(argv + ["--out", str(tmp_path / "x")] if argv[0] == "lottery"
                           else argv, capsys)
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1  # one line, no usage block, no traceback
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("flags, message", [
    (["--rate", "1.5"], r"rate: got 1.5, expected a fraction in [0, 1)"),
    (["--layer-rate", "9.weight=0.1"], "['9.weight'] are not prunable weights"),
    (["--reset", "rewind", "--rewind-iteration", "100"], "--rewind-iteration: got 100"),
    (["--batch-size", "0"], "--batch-size: got 0"),
    (["--width", "-1"], "width: got -1.0, expected a number > 0"),
    (["--iterations", "0"], "iterations: got 0, expected >= 1"),
    (["--rate", "0"], "rate: got 0"),
    (["--lr", "-0.1"], "lr: got -0.1, expected a finite number > 0"),
    (["--momentum", "-0.9"], "momentum: got -0.9, expected a finite number >= 0"),
    (["--warmup", "-5"], "warmup: got -5"),
])
def test_out_of_range_values_exit_2_with_the_library_message(flags, message, capsys, tmp_path):
    out_dir = tmp_path / "run"
    code, _, err = run_cli(["lottery", *TINY, "--rounds", "1", *flags, "--out", str(out_dir)],
                           capsys)
    assert code == 2
    assert err.startswith("minilottery lottery: error:")
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert not out_dir.exists()


# -- every error of ours: one line, exit 2, nothing made ----------------------------------

def one_line_error(err: str, command: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"minilottery {command}: error: "), err
    return lines[0]


def test_out_naming_a_file_is_one_line(tmp_path, capsys):
    target = tmp_path / "notes.txt"
    target.write_text("mine")
    code, out, err = run_cli(["lottery", *TINY, "--rounds", "1", "--out", str(target)], capsys)
    assert code == 2 and "which is a file" in one_line_error(err, "lottery")
    assert "run directory" not in out and target.read_text() == "mine"


def test_cupy_without_cupy_is_one_line(tmp_path, capsys):
    from minilottery.backends import available_backends
    if "cupy" in available_backends():
        pytest.skip("CuPy works here")
    code, out, err = run_cli(["lottery", *TINY, "--backend", "cupy", "--out",
                              str(tmp_path / "run")], capsys)
    assert code == 2 and "cupy" in one_line_error(err, "lottery").lower()
    assert out == "" and not (tmp_path / "run").exists()


def test_plot_of_a_run_with_no_finished_round_is_one_line(tmp_path, capsys):
    (tmp_path / "results.json").write_text(json.dumps({"config": {}, "rounds": []}))
    code, _, err = run_cli(["plot", str(tmp_path)], capsys)
    assert code == 2 and "no finished round" in one_line_error(err, "plot")


def test_plot_of_a_sparse_train_run_refuses_naming_it(tmp_path, capsys):
    (tmp_path / "results.json").write_text(json.dumps(
        {"config": {"training": {}, "sparse": {"methods": ["rigl"]}}, "meta": {},
         "methods": {"rigl": [{"density": 0.5}]}}))
    code, _, err = run_cli(["plot", str(tmp_path)], capsys)
    line = one_line_error(err, "plot")
    assert code == 2 and "sparse-train run" in line and "minilottery sparse-train" in line


@pytest.mark.parametrize("command", ["train", "lottery", "stability", "prune-at-init",
                                     "supermask", "transfer", "sweep", "plot"])
def test_every_command_takes_threads(command, capsys):
    code, out, _ = run_cli([command, "--help"], capsys)
    assert code == 0 and "--threads" in out


def test_list_flags_take_commas_and_repeats(capsys):
    from minilottery.cli import build_parser
    from minilottery.cli.arguments import config_from_args

    args = build_parser().parse_args(
        ["lottery", "--control", "reinit", "--controls", "random-prune", "--milestones", "5,9",
         "--layer-rate", "0.weight=0.1,2.weight=0", "--layer-rate", "4.weight=0.05"])
    config = config_from_args(args)
    assert config.controls == ("reinit", "random_prune")
    assert config.milestones == (5, 9)
    assert config.layer_rates == {"0.weight": 0.1, "2.weight": 0.0, "4.weight": 0.05}
    args = build_parser().parse_args(["stability", "--out", "x", "--rewind-iterations", "0,5",
                                      "--rewind-iterations", "9"])
    assert args.rewind_iterations == [0, 5, 9]
    args = build_parser().parse_args(["lottery", "--control", "none"])
    assert config_from_args(args).controls == ()


def test_flags_are_the_fields_of_lottery_config(capsys):
    """One schema: every LotteryConfig field is a flag of `lottery`, and only those
    (with --out and the machine's flags)."""
    from dataclasses import fields

    from minilottery.config import LotteryConfig

    code, out, _ = run_cli(["lottery", "--help"], capsys)
    assert code == 0
    flags = set(re.findall(r"(--[a-z-]+)", out))
    expected = {"--" + f.name.replace("_", "-") for f in fields(LotteryConfig)}
    assert expected <= flags
    assert flags - expected <= {"--help", "--out", "--backend", "--no-progress", "--threads",
                                "--control", "--layer-rate", "--seeds", "--jobs", "--band",
                                "--print-config"}


def test_dataset_names_with_a_dash_are_read_as_they_are():
    """--dataset fashion-mnist was read as 'fashion_mnist' (a choice's dashes became
    underscores) and refused; a dash that is not in any choice still reads as one."""
    for name in ("fashion-mnist", "cifar100-coarse"):
        assert build_parser().parse_args(["lottery", "--dataset", name]).dataset == name
        args = build_parser().parse_args(["transfer", "--source", "s", "--dataset", name,
                                          "--out", "o"])
        assert args.dataset == name
    args = build_parser().parse_args(["lottery", "--control", "random-prune"])
    assert args.controls == ["random_prune"]


def test_a_list_of_iterations_is_not_read_as_a_size():
    """'x' splits a pair such as --resize 32x32, never a list: --rounds x was an empty list."""
    with pytest.raises(SystemExit):
        build_parser().parse_args(["prune-at-init", "--source", "s", "--rounds", "x",
                                   "--out", "o"])
    assert build_parser().parse_args(["lottery", "--resize", "16x12"]).resize == [16, 12]


def test_a_mismatch_is_one_clean_list_naming_derived_options(tmp_path, capsys):
    """--iterations changed: eval_every, which the user never set, follows it and is named as
    derived from --iterations, after the options given; one line, no stray ':;'."""
    argv = ["lottery", *TINY, "--rounds", "0", "--controls", "none", "--out",
            str(tmp_path / "run")]
    code, _, err = run_cli(argv, capsys)
    assert code == 0, err
    code, _, err = run_cli(argv + ["--iterations", "40"], capsys)
    assert code == 2
    assert err == (f"minilottery lottery: error: run directory {tmp_path / 'run'} holds a run "
                   "of another configuration (iterations: stored 60, given 40; eval_every "
                   "(derived from --iterations): stored 3, given 2); use a new --out directory "
                   "or the same options\n")


def test_the_command_line_starts_without_the_heavy_libraries():
    """``minilottery --help`` and an argument error took 2.3 s, most of it importing
    scikit-learn (data/splits.py), mlxtend, tqdm: a command imports them when it runs."""
    code = ("import sys\n"
            "from minilottery.cli import main\n"
            "for argv in (['--help'], ['lottery', '--help'], ['lottery', '--lr', 'x']):\n"
            "    try:\n"
            "        main(argv)\n"
            "    except SystemExit:\n"
            "        pass\n"
            "heavy = ('sklearn', 'scipy', 'pandas', 'matplotlib', 'tqdm', 'mlxtend', 'joblib')\n"
            "print(sorted({m.split('.')[0] for m in sys.modules} & set(heavy)))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "[]"


def test_print_config_prints_a_sweep_file_that_runs_the_same_configuration(tmp_path, capsys):
    """Every value resolved (the preset scaled to the data), in the sweep file's format: read
    back, it is the configuration the command would have run; nothing is trained or made."""
    from minilottery.config import LotteryConfig
    from minilottery.recipe import prepare
    from minilottery.sweep import load_sweep

    argv = ["lottery", "--model", "lenet300", "--dataset", "digits", "--rate", "0.5",
            "--reset", "rewind", "--layer-rates", "fc1=0.3", "--out", str(tmp_path / "run")]
    code, out, err = run_cli(argv + ["--print-config"], capsys)
    assert code == 0, err
    assert not (tmp_path / "run").exists()
    for line in ("lr = 0.0012", "batch_size = 60", "eval_every = ", "milestones = []",
                 'controls = ["reinit"]', 'layer_rates = { "fc1" = 0.3 }', "rewind_iteration = "):
        assert line in out.splitlines() or any(ln.startswith(line) for ln in out.splitlines())
    path = tmp_path / "printed.toml"
    path.write_text(out)
    (run,) = load_sweep(path).expand()
    expected, dataset = prepare(LotteryConfig(model="lenet300", dataset="digits", rate=0.5,
                                              reset="rewind", layer_rates={"fc1": 0.3}))
    assert run.config.resolved(len(dataset.y_train)) == expected


def test_help_lists_every_fixed_choice_and_the_defaults_not_left_to_the_model(capsys):
    from minilottery.cli.arguments import flag
    from minilottery.schema import OPTIONS

    code, out, _ = run_cli(["lottery", "--help"], capsys)
    assert code == 0
    text = " ".join(out.split())
    for option in OPTIONS.values():
        for choice in option.choices or ():
            assert re.search(rf"{flag(option.name)} [^ ]*\b{choice}\b", text), (option.name,
                                                                               choice)
    for piece in ("--lr LR learning rate (default: the model's preset; lenet300: 0.0012)",
                  "--batch-size BATCH_SIZE examples per iteration (default: the model's "
                  "preset; lenet300: 60)", "--print-config", "(default: reinit)"):
        assert piece in text
