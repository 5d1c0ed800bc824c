"""Where the time of a paper-scale LeNet round goes: training iterations against evaluation.

A round of Frankle & Carbin's LeNet experiment is 50,000 iterations of batch
60 with an evaluation of the 5,000 validation and 10,000 test images every
100 iterations (500 evaluation points). This script times both parts on the
full MNIST (``minilottery fetch mnist``) at one BLAS thread and writes them
to a JSON file that the reproduction card reads:

    python examples/paper_timing.py --out docs/results/lenet300-mnist/timing.json

Run it on an idle machine: every figure is a median over repeats.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

from minilottery import threads
from minilottery.data import load_dataset
from minilottery.models import get_model
from minilottery.optim import Adam
from minilottery.train import evaluate, train

ITERATIONS, EVALUATIONS = 50_000, 500  # a paper round, and its evaluation points


def blas_kernels() -> str:
    from threadpoolctl import threadpool_info

    return ", ".join(f"{i.get('internal_api')} {i.get('version')} ({i.get('architecture')})"
                     for i in threadpool_info() if i.get("user_api") == "blas")


def measure(repeats: int, steps: int) -> dict:
    data = load_dataset("mnist")
    model = get_model("lenet300", data.input_shape, data.num_classes, seed=0)
    optimizer = Adam(model, lr=1.2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    threads.configure(1)
    step, point = [], []
    with threads.limit():
        for _ in range(repeats):
            # eval_every > steps: the training's only evaluations are its first and last
            result = train(model, data, optimizer, iterations=steps, batch_size=60,
                           eval_every=10 * steps, progress=False)
            started = time.perf_counter()
            evaluate(model, data.x_val, data.y_val)
            evaluate(model, data.x_test, data.y_test)
            point.append(time.perf_counter() - started)
            step.append((result.seconds - 2 * point[-1]) / steps)
    iteration, evaluation = float(np.median(step)), float(np.median(point))
    round_seconds = ITERATIONS * iteration + EVALUATIONS * evaluation
    return {
        "iteration_seconds": iteration,
        "evaluation_seconds": evaluation,
        "round_seconds": round_seconds,
        "evaluation_share": EVALUATIONS * evaluation / round_seconds,
        "repeats": repeats,
        "blas": blas_kernels(),
        "numpy": np.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="write the figures here")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, default=500, help="iterations timed a repeat")
    args = parser.parse_args(argv)
    figures = measure(args.repeats, args.steps)
    text = json.dumps(figures, indent=1)
    print(text)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
