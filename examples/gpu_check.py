"""The GPU check in one command: the suite on CuPy, the benchmark against PyTorch CUDA, and
the main job on both backends; one table.

On a machine with an NVIDIA GPU, CuPy and (for the comparison) PyTorch with CUDA:

    python examples/gpu_check.py [--out DIR] [--skip suite,bench,main]

1. the suite on the GPU: ``MINILOTTERY_BACKEND=cupy python -m pytest -q -x`` (a real
   CuPy, not the stand-in), its last line;
2. the benchmark (examples/benchmark.py's networks and step, with 50% masks):
   LeNet-300-100 and Conv-4 at batch 60, VGG-19-BN and ResNet-50 at full width, batch
   128, 3x32x32; iterations a second of minilottery on CuPy and of PyTorch CUDA, timed in
   alternating blocks, and the peak GPU memory of each (CuPy's memory pool after the
   timed iterations, PyTorch's ``max_memory_allocated``);
3. the main job (``minilottery lottery``, 5 rounds) on NumPy and on CuPy, and the fraction
   of mask entries the two runs agree on at round 5 (rounding differs between NumPy's
   BLAS and cuBLAS, so a weight near the pruning threshold may fall either way).

It stops at once, with the reason and exit status 2, where CuPy or a GPU is missing.
``--smoke`` runs the benchmark and the main job at a tiny size (the tests run it on the
stand-in CuPy, tests/test_gpu_check.py). Budget: under 8 minutes on one GPU.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchmark  # noqa: E402  (examples/benchmark.py: the networks and the step)

from minilottery.backends import get_backend, unavailable_reason  # noqa: E402

GPU_CASES = {
    "lenet300": ((1, 28, 28), 60, 1.0, "adam"),
    "conv4": ((3, 32, 32), 60, 1.0, "adam"),
    "vgg19": ((3, 32, 32), 128, 1.0, "sgd"),
    "resnet50": ((3, 32, 32), 128, 1.0, "sgd"),
}
STEPS = ("suite", "bench", "main")


def run_suite() -> str:
    """The suite's last line on the CuPy backend (a real CuPy: the stand-in is off)."""
    env = {k: v for k, v in os.environ.items() if k != "MINILOTTERY_CUPY_STANDIN"}
    env["MINILOTTERY_BACKEND"] = "cupy"
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider"],
                          cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    return (lines[-1] if lines else done.stderr.strip()[-200:]) + f" (exit {done.returncode})"


def gpu_memory_mib(framework: str, torch, cupy) -> float:
    if framework == "pytorch":
        return torch.cuda.max_memory_allocated() / 2**20
    return cupy.get_default_memory_pool().total_bytes() / 2**20


def run_bench(repeats: int, cases: dict) -> list[dict]:
    """One row per network and framework: its/s, peak GPU MiB, ratio ours / PyTorch."""
    torch = benchmark.import_torch()
    use_torch = torch is not None and torch.cuda.is_available()
    backend = get_backend("cupy")
    cupy = backend.xp
    rows = []
    for name, case in cases.items():
        cupy.get_default_memory_pool().free_all_blocks()
        model, ml_step, masks, batch = benchmark.build_minilottery(name, case, backend)
        steps = {"minilottery": ml_step}
        if use_torch:
            twin, t_step, _ = benchmark.build_torch(torch, name, case, "cuda", masks,
                                                    model.state_dict())
            benchmark.check_twins(torch, name, model, twin, batch)
            torch.cuda.reset_peak_memory_stats()
            steps["pytorch"] = t_step
        rates = benchmark.interleaved(steps, repeats, block_seconds=1.0)
        found = {f: float(np.median(r)) for f, r in rates.items()}
        for framework, its in found.items():
            rows.append({"model": name, "batch": case[1], "framework": framework,
                         "its_per_s": its, "peak_mib": gpu_memory_mib(framework, torch, cupy),
                         "ratio": its / found["pytorch"] if framework == "minilottery"
                         and "pytorch" in found else None})
        del model, steps
    if not use_torch:
        rows.append({"model": "-", "framework": "pytorch", "note": "PyTorch CUDA not found"})
    return rows


def run_main(out: Path, smoke: bool) -> dict:
    """The main job (5 rounds) on each backend; the fraction of round-5 mask entries shared."""
    tiny = ["--dataset", "digits", "--width", "0.1", "--iterations", "10",
            "--eval-every", "10"] if smoke else []
    from minilottery.runs import RunDirectory

    seconds, masks = {}, {}
    for backend in ("numpy", "cupy"):
        run_dir = out / f"main-{backend}"
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "minilottery", "lottery", "--rounds", "5",
                        "--backend", backend, "--out", str(run_dir), "--no-progress", *tiny],
                       cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        seconds[backend] = time.perf_counter() - start
        masks[backend] = RunDirectory(run_dir).load_checkpoint("round_05")["masks"]
    same = sum(int((masks["numpy"][k] == masks["cupy"][k]).sum()) for k in masks["numpy"])
    total = sum(int(m.size) for m in masks["numpy"].values())
    return {"seconds": seconds, "agreement": same / total}


def table(report: dict) -> str:
    lines = ["| check | result |", "|---|---|"]
    if "suite" in report:
        lines.append(f"| suite on CuPy | {report['suite']} |")
    for row in report.get("bench", []):
        if "note" in row:
            lines.append(f"| benchmark | {row['note']} |")
            continue
        ratio = f", ratio {row['ratio']:.2f}" if row.get("ratio") is not None else ""
        lines.append(f"| {row['model']} batch {row['batch']}, {row['framework']} | "
                     f"{row['its_per_s']:.1f} it/s, peak {row['peak_mib']:.0f} MiB{ratio} |")
    if "main" in report:
        main = report["main"]
        lines.append(f"| main job, 5 rounds | NumPy {main['seconds']['numpy']:.0f} s, CuPy "
                     f"{main['seconds']['cupy']:.0f} s; round-5 masks agree on "
                     f"{100 * main['agreement']:.3f}% of entries |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="where the main job's runs go (default: a temporary "
                                      "directory)")
    parser.add_argument("--skip", default="", help=f"comma-separated, from {', '.join(STEPS)}")
    parser.add_argument("--repeats", type=int, default=3, help="timed blocks per framework")
    parser.add_argument("--smoke", action="store_true", help="tiny networks and main job")
    args = parser.parse_args(argv)
    skip = {s for s in args.skip.split(",") if s}
    if skip - set(STEPS):
        parser.error(f"--skip: got {sorted(skip - set(STEPS))}, expected some of "
                     f"{', '.join(STEPS)}")
    reason = unavailable_reason("cupy")
    if reason is not None:
        print(f"gpu_check: no GPU check here: {reason}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    report = {}
    if "suite" not in skip:
        report["suite"] = run_suite()
    if "bench" not in skip:
        report["bench"] = run_bench(args.repeats, benchmark.SMOKE_CASES if args.smoke
                                    else GPU_CASES)
    if "main" not in skip:
        with tempfile.TemporaryDirectory() as scratch:
            report["main"] = run_main(Path(args.out or scratch), args.smoke)
    print(table(report))
    print(f"\ngpu_check: {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
