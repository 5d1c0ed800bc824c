"""examples/benchmark.py at smoke size: with and without PyTorch, and its FLOP count."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from minilottery.backends import get_backend, unavailable_reason

SCRIPT = Path(__file__).resolve().parent.parent / "examples" / "benchmark.py"


def load_benchmark():
    spec = importlib.util.spec_from_file_location("benchmark_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_smoke_without_pytorch(monkeypatch, tmp_path):
    """With torch absent (import fails), the benchmark still times every model and writes JSON."""
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises ImportError
    bench = load_benchmark()
    assert bench.import_torch() is None
    out = tmp_path / "bench.json"
    report = bench.main(["--smoke", "--backend", "numpy", "--no-memory", "--json", str(out)])
    rows = json.loads(out.read_text())["rows"]
    for threads in report["threads"]:  # by default 1 and the BLAS default (once where that is 1)
        assert [r["model"] for r in rows if r["threads"] == threads] == list(bench.CASES)
    assert {r["framework"] for r in rows} == {"minilottery"}
    for row in rows:
        assert row["its_per_s"] > 0 and row["q1"] <= row["its_per_s"] <= row["q3"]
        assert row["gflop_per_iter"] > 0 and "ratio" not in row
    assert report["torch"] is None and min(report["threads"]) >= 1
    assert {r["threads"] for r in rows} == set(report["threads"])


def test_smoke_against_pytorch(tmp_path):
    """The PyTorch twins: same parameter count and logits (checked inside), a ratio, memory."""
    pytest.importorskip("torch")
    bench = load_benchmark()
    report = bench.main(["--smoke", "--backend", "numpy", "--models", "lenet300,resnet50",
                         "--threads", "1"])
    by_key = {(r["model"], r["framework"]): r for r in report["rows"]}
    assert set(by_key) == {(m, f) for m in ("lenet300", "resnet50")
                           for f in ("minilottery", "pytorch")}
    for model in ("lenet300", "resnet50"):
        ours, theirs = by_key[model, "minilottery"], by_key[model, "pytorch"]
        assert ours["ratio"] == pytest.approx(ours["its_per_s"] / theirs["its_per_s"])
        # at smoke size the warm-up already touched the memory: 0 MiB added is possible
        assert ours["peak_mib"] is not None and ours["peak_mib"] >= 0
        assert theirs["peak_mib"] is not None and theirs["peak_mib"] >= 0


@pytest.mark.parametrize("name", ["conv4", "vgg19", "resnet50"])
def test_torch_twins_match(name):
    """Every twin at smoke size has minilottery's parameter count and logits (check_twins)."""
    torch = pytest.importorskip("torch")
    bench = load_benchmark()
    case = bench.SMOKE_CASES[name]
    model, _, masks, batch = bench.build_minilottery(name, case, get_backend("numpy"))
    twin, _, _ = bench.build_torch(torch, name, case, "cpu", masks, model.state_dict())
    bench.check_twins(torch, name, model, twin, batch)
    with torch.no_grad():  # a twin that differs must be caught (BatchNorm would undo a
        list(twin.parameters())[-1].add_(1.0)  # scaled weight: shift the output bias)
    with pytest.raises(AssertionError, match="logits differ"):
        bench.check_twins(torch, name, model, twin, batch)


def test_macs_of_lenet_are_counted_from_shapes():
    bench = load_benchmark()
    model, _, _, (x, _) = bench.build_minilottery("lenet300", bench.CASES["lenet300"],
                                                  get_backend("numpy"))
    assert bench.count_macs(model, x) == 60 * (784 * 300 + 300 * 100 + 100 * 10)
    # the forward methods are restored: no recording wrapper left behind
    assert all("forward" not in vars(m) for m in model.modules())


def test_macs_of_a_convolution():
    bench = load_benchmark()
    from minilottery import nn

    conv = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, rng=0))
    x = np.zeros((2, 3, 10, 10), np.float32)
    assert bench.count_macs(conv, x) == 2 * 8 * 10 * 10 * 3 * 3 * 3


def test_unavailable_cupy_is_a_clean_error(capsys):
    if unavailable_reason("cupy") is None:
        pytest.skip("CuPy is available here")
    bench = load_benchmark()
    with pytest.raises(SystemExit) as exit_info:
        bench.main(["--smoke", "--backend", "cupy"])
    assert exit_info.value.code == 2
    assert "--backend cupy is not available here" in capsys.readouterr().err


@pytest.mark.parametrize("argv, match", [
    (["--models", "alexnet"], "--models"),
    (["--repeats", "0"], "--repeats"),
    (["--backend", "tpu"], "--backend"),
    (["--threads", "0"], "--threads"),
    (["--threads", "1,x"], "--threads"),
])
def test_bad_flags_are_named(argv, match, capsys):
    bench = load_benchmark()
    with pytest.raises(SystemExit):
        bench.main(argv)
    assert match in capsys.readouterr().err


def test_pinned_kernels_are_named_in_a_warning(monkeypatch, capsys):
    """OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE in the environment: the header warns, the report
    records them; without them, no warning."""
    monkeypatch.setitem(sys.modules, "torch", None)
    bench = load_benchmark()
    argv = ["--smoke", "--backend", "numpy", "--no-memory", "--models", "lenet300",
            "--threads", "1"]
    for name in bench.PINNING_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    assert bench.main(argv)["pinned"] == {}
    assert "warning" not in capsys.readouterr().err
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")
    report = bench.main(argv)
    assert report["pinned"] == {"OPENBLAS_CORETYPE": "Haswell"}
    err = capsys.readouterr().err
    assert "warning: OPENBLAS_CORETYPE=Haswell pins" in err and "env -u OPENBLAS_CORETYPE" in err


def test_every_thread_count_gets_its_rows(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)
    bench = load_benchmark()
    report = bench.main(["--smoke", "--backend", "numpy", "--no-memory", "--models", "lenet300",
                         "--threads", "1,2"])
    assert [(r["model"], r["threads"]) for r in report["rows"]] == [("lenet300", 1),
                                                                    ("lenet300", 2)]
    assert set(report["matmul_gflops"]) == {1, 2}


def test_threads_check_times_both_settings_and_stops_its_workers(monkeypatch):
    """examples/threads_check.py at a tiny size: idle and busy timings, the workers killed."""
    spec = importlib.util.spec_from_file_location(
        "threads_check", SCRIPT.parent / "threads_check.py")
    check = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(check)
    started = []
    real = check.busy_processes
    monkeypatch.setattr(check, "busy_processes", lambda n: started.extend(real(n)) or started)
    report = check.main(["--iterations", "2", "--busy", "1"])
    for condition in ("idle", "busy"):
        assert report[condition]["default"] > 0 and report[condition]["threads 1"] > 0
        assert report[condition]["ratio"] == pytest.approx(
            report[condition]["default"] / report[condition]["threads 1"])
    assert len(started) == 1 and all(worker.poll() is not None for worker in started)
