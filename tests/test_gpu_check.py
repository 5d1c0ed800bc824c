"""examples/gpu_check.py where there is no GPU: it says why and stops, with no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_without_cupy_the_gpu_check_says_why_and_stops():
    env = {k: v for k, v in os.environ.items()
           if k not in ("MINILOTTERY_CUPY_STANDIN", "MINILOTTERY_BACKEND")}
    # the stand-in is not CuPy: with it off, `import cupy` fails here as on a machine
    # without CuPy (a real CuPy without a GPU gives its own reason, the same way)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in env.get("PYTHONPATH", "").split(os.pathsep) if "cupy_standin" not in p)
    done = subprocess.run([sys.executable, "examples/gpu_check.py"], cwd=ROOT, env=env,
                          capture_output=True, text=True, check=False)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("gpu_check: no GPU check here: backend 'cupy'")
    assert "Traceback" not in done.stderr and done.stdout == ""


def test_an_unknown_step_is_named():
    done = subprocess.run([sys.executable, "examples/gpu_check.py", "--skip", "fft"],
                          cwd=ROOT, capture_output=True, text=True, check=False)
    assert done.returncode == 2 and "--skip: got ['fft']" in done.stderr


def test_the_smoke_check_on_the_standin_prints_one_table():
    """Every step but the suite, tiny, on the stand-in CuPy (no PyTorch CUDA here)."""
    from conftest import STANDIN_PATH

    env = dict(os.environ, MINILOTTERY_CUPY_STANDIN="1")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(STANDIN_PATH),
                                                    env.get("PYTHONPATH")) if p)
    done = subprocess.run([sys.executable, "examples/gpu_check.py", "--smoke", "--skip",
                           "suite", "--repeats", "1"], cwd=ROOT, env=env,
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "| check | result |"
    for name in ("lenet300", "conv4", "vgg19", "resnet50"):
        assert any(line.startswith(f"| {name} batch") and "it/s" in line for line in lines)
    main = [line for line in lines if line.startswith("| main job")]
    assert len(main) == 1 and "round-5 masks agree on" in main[0]
