"""Conv-2, Conv-4 and Conv-6: winning tickets against random reinitialisation.

Frankle & Carbin (arXiv 1803.03635), Figure 5: the VGG-like networks of the
paper (pairs of 3x3 convolutions and max pooling, then dense 256-256-10),
pruned layer by layer at the paper's rates: conv layers 10% a round (Conv-6:
15%), dense layers 20%, the output layer 10%; reset to the initial weights.
The paper (CIFAR-10) finds tickets that learn up to 3.5x faster and end 3.3 to
3.5 points more accurate, above the dense network while more than ~2% of the
weights remain; the reinitialised controls fall behind as pruning goes on.

The data. CIFAR-10 needs its files (``--dataset cifar10 --data-dir DIR``,
the python batches). By default the three networks learn the bundled
synthetic task (16x16 grey images of 10 classes: smooth class prototypes,
shifted by up to 2 pixels, contrast-scaled and noisy), at width 1/8 (8, 16
and 32 channels; dense 32-32-10). Why that task: it needs no download, a
convolution's translation invariance pays off on it (the shifts), it is not
solved at once (a linear model stays well below 100%), and at 16x16 the
networks take three poolings (16 -> 8 -> 4 -> 2) at a quarter of the cost of
the MNIST sample resized to 32x32. At width 1/8 and the paper's small Adam
learning rates the validation loss is still falling after 500 iterations, so
the early-stop iteration sits near the end of training: the default scale
compares accuracies, not learning speed.

Scales:
- default: synthetic, width 1/8, 500 iterations of 60 a round, 5 rounds
  (Conv-2 down to 34% of its weights), the reinit control: 33 trainings,
  113 s on an idle 2-core CPU (OPENBLAS_NUM_THREADS=1);
- --paper: width 1, the presets' iterations (20K / 25K / 30K on CIFAR-10)
  and 20 rounds: for a GPU, ``--dataset cifar10 --data-dir DIR --backend cupy``;
- --smoke: a few seconds.
"""

from __future__ import annotations

import sys

from _common import (
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
from minilottery.plots import networks as run_networks
from minilottery.plots import plot_run
from minilottery.plots import records_series as series
from minilottery.tables import format_table

NAME = "conv_nets"
MODELS = ("conv2", "conv4", "conv6")
TITLES = {"conv2": "Conv-2", "conv4": "Conv-4", "conv6": "Conv-6"}
SCALES = {
    "smoke": dict(width=0.0625, max_train=120, iterations=6, eval_every=3, rounds=1),
    "default": dict(width=0.125, iterations=500, rounds=5),
    "paper": dict(width=1.0),  # the presets' iterations, rates and 20 rounds
}


def parse_args(argv=None):
    parser = example_parser(NAME, __doc__)
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    parser.add_argument("--dataset", choices=("synthetic", "cifar10", "mnist5k", "digits"),
                        default="synthetic")
    parser.add_argument("--data-dir", default=None, help="directory of the CIFAR-10 batches")
    parser.add_argument("--width", type=float, default=None,
                        help="width multiplier (default: 1/8, 1 with --paper)")
    return parser.parse_args(argv)


def make_config(args, model: str) -> LotteryConfig:
    scale = dict(SCALES[scale_of(args)])
    if args.width is not None:
        scale["width"] = args.width
    # mnist5k / digits are grey 28x28 / 8x8: resize them to the CIFAR shape
    resize = (32, 32) if args.dataset in ("mnist5k", "digits") else None
    return LotteryConfig(model=model, dataset=args.dataset, data_dir=args.data_dir,
                         resize=resize, seed=args.seed, controls=("reinit",), **scale)


def main(argv=None) -> int:
    args = parse_args(argv)
    clock = Stopwatch()
    out = out_dir(args, NAME)
    results = {}
    for model in args.models:
        results[model] = run(make_config(args, model), out, model, args)
        plot_run(results[model], out / model)

    tickets = {TITLES[m]: r["rounds"] for m, r in results.items()}
    reinits = {f"{TITLES[m]} reinit": run_networks(r).get("reinit", []) for m, r in results.items()}
    panels = []
    for key, ylabel, percent_y in (
            ("early_stop_test_accuracy", "test accuracy at early stop (%)", True),
            ("early_stop_iteration", "early-stop iteration", False)):
        curves = {}
        for m in results:
            curves[TITLES[m]] = series(tickets[TITLES[m]], key)
            curves[f"{TITLES[m]} reinit"] = series(reinits[f"{TITLES[m]} reinit"], key)
        panels.append({"series": curves, "ylabel": ylabel, "percent_y": percent_y})
    dataset = next(iter(results.values()))["config"]["dataset"]
    figure = plot_panels(panels, out / f"{NAME}.png",
                         title=f"Conv-2/4/6 on {dataset}: tickets (reset to init) vs reinit")

    summary = {"example": NAME, "scale": scale_of(args), "figure": str(figure), "tables": {}}
    for m in results:
        title = TITLES[m]
        headers, rows = comparison_rows(
            {"ticket": tickets[title], "reinit": reinits[f"{title} reinit"]},
            (("early_stop_test_accuracy", "acc %"), ("early_stop_iteration", "iter")))
        weights = results[m]["meta"]["total_weights"]
        print(f"\n{title} ({weights:,} weights): test accuracy at early stop and "
              "early-stop iteration")
        print(format_table(headers, rows))
        summary["tables"][m] = {"weights": weights, "headers": headers, "rows": rows}
    print(f"\nplots: {figure}, {out}/<model>/*.png")
    finish(NAME, clock, out, summary, *results.values())
    return 0


if __name__ == "__main__":
    sys.exit(main())
