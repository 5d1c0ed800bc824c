"""The thread default, idle and busy: a training with the default threads and with one.

On a shared machine other jobs run beside ours; OpenBLAS's threads spin while
they wait for each other, and two of them on two busy cores can make a small
training many times slower than one thread. minilottery's default is one
thread of its own pool per core this process may use (threads.py), each
product on one BLAS thread, the pool's workers blocking while they wait. This
script measures what that does when the machine is shared. It times

    minilottery train --model lenet300 --dataset digits --iterations 1500 --no-progress

with the default threads and with ``--threads 1``, first on the machine as it
is (idle, if nothing else runs), then with ``--busy`` background processes
(default 2) each multiplying 1024 x 1024 float32 matrices in a loop with
NumPy's default threads, as other NumPy jobs would. Runs alternate (default,
one thread, one thread, default, ...) so a load that comes and goes hits both.

The criteria (issues 12 and 20): busy, the default takes at most 1.5x the time
of ``--threads 1``; idle, the default is at least as fast as ``--threads 1``
(within 5%, the noise of two timings; ``--repeats`` > 1 shows the spread).
``--model conv4`` (with ``--iterations 20``) times a conv net instead, where the
pool has work to spread.
``--main`` also times the main job (``minilottery lottery``, LeNet-300-100 on
mnist5k, 41 trainings) with the default threads, idle and busy.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python examples/threads_check.py \\
        [--busy 2] [--iterations 1500] [--repeats 3] [--main] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from minilottery.threads import default_threads

ROOT = Path(__file__).resolve().parent.parent
BUSY_LOOP = ("import numpy as np\n"
             "a = np.random.default_rng(0).standard_normal((1024, 1024), dtype=np.float32)\n"
             "while True:\n    a @ a\n")


def environment() -> dict:
    """This environment, with the checkout importable (no install needed)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def timed(command: list[str]) -> float:
    """Wall-clock seconds of one ``python -m minilottery`` command (which must succeed)."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "minilottery", *command], env=environment(),
                   check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def measure(args, label: str) -> dict:
    """Seconds of the training with the default threads and with --threads 1, alternating."""
    train = ["train", "--model", args.model, "--dataset", args.dataset,
             "--iterations", str(args.iterations), "--no-progress"]
    times = {"default": [], "threads 1": []}
    for repeat in range(args.repeats):
        order = ["default", "threads 1"] if repeat % 2 == 0 else ["threads 1", "default"]
        for which in order:
            times[which].append(timed(train + (["--threads", "1"] if which == "threads 1"
                                               else [])))
    result = {which: statistics.median(values) for which, values in times.items()}
    result["all"] = times
    if args.main:
        with tempfile.TemporaryDirectory() as out:
            result["main job, default"] = timed(["lottery", "--out", out, "--no-progress"])
    result["ratio"] = result["default"] / result["threads 1"]
    print(f"{label:<6} default {result['default']:7.1f} s   --threads 1 "
          f"{result['threads 1']:7.1f} s   ratio {result['ratio']:.2f}"
          + (f"   main job (default) {result['main job, default']:.0f} s" if args.main else ""),
          flush=True)
    return result


def busy_processes(count: int) -> list[subprocess.Popen]:
    return [subprocess.Popen([sys.executable, "-c", BUSY_LOOP]) for _ in range(count)]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--busy", type=int, default=2, help="background matmul processes")
    parser.add_argument("--iterations", type=int, default=1500)
    parser.add_argument("--repeats", type=int, default=1, help="timings of each, alternating")
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--model", default="lenet300")
    parser.add_argument("--main", action="store_true", help="also time the main job")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    args = parser.parse_args(argv)
    for name in ("busy", "iterations", "repeats"):
        if getattr(args, name) < 1:
            parser.error(f"--{name}: got {getattr(args, name)}, expected >= 1")
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)
    pinned = [k for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if k in os.environ]
    if pinned:
        print(f"warning: {', '.join(pinned)} set: OpenBLAS's kernels are pinned; run with "
              f"env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE", file=sys.stderr)
    report = {"cores": os.cpu_count(), "busy_processes": args.busy,
              "iterations": args.iterations, "pinned": pinned}
    report["idle"] = measure(args, "idle")
    workers = busy_processes(args.busy)
    try:
        time.sleep(1.0)  # let them start multiplying
        report["busy"] = measure(args, "busy")
    finally:
        for worker in workers:
            worker.kill()
            worker.wait()
    report["busy_ok"] = report["busy"]["ratio"] <= 1.5
    report["idle_ok"] = report["idle"]["ratio"] <= 1.05
    print(f"busy: default / --threads 1 = {report['busy']['ratio']:.2f} (at most 1.5: "
          f"{'yes' if report['busy_ok'] else 'NO'}); idle: {report['idle']['ratio']:.2f} "
          f"(at most 1.0, within 5%: {'yes' if report['idle_ok'] else 'NO'})"
          + f"; the default here is {default_threads()} threads (the cores this process may "
            "use)")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
