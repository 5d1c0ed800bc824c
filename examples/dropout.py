"""Dropout and winning tickets: does dropout change which tickets IMP finds, and how they train?

Frankle & Carbin (arXiv 1803.03635), Section 4 and Figure 9: with dropout
(p = 0.5, training three times longer) the dense Conv-2/4/6 gain 2 to 3
points, IMP adds up to 2.3 / 4.6 / 4.7 more, and the early-stopping speed-up
of tickets shrinks: dropout and IMP are complementary. The paper guesses that
dropout "primes" the network to be pruned.

Two IMP runs start from the *same* initial weights (get_model draws the
weights of one seed alike with or without dropout: Dropout layers take their
masks from a stream of their own) and see the same batches; one trains with
dropout after each hidden layer, for three times as many iterations. Beside
their accuracy and early-stop curves, the script measures how alike the two
tickets are at each round: the Jaccard index |A ∩ B| / |A ∪ B| of the two
masks' kept weights, next to the value expected of two random masks with the
same per-layer densities (chance).

Scales:
- default: LeNet-300-100 on the MNIST sample, 1,500 iterations a round
  without dropout and 4,500 with, 7 rounds (down to 21.1%): 63 s on an
  idle 2-core CPU (OPENBLAS_NUM_THREADS=1);
- --paper: the preset's iterations (tripled with dropout) and 20 rounds; the
  paper's networks with ``--model conv2`` (conv4, conv6) and ``--dataset cifar10
  --data-dir DIR``: for a GPU;
- --smoke: a few seconds.
"""

from __future__ import annotations

import sys
from dataclasses import replace

from _common import (
    ACCURACY_AND_ITERATION,
    Stopwatch,
    chance_jaccard,
    comparison_rows,
    example_parser,
    finish,
    jaccard,
    ordered_masks,
    out_dir,
    plot_panels,
    run,
    scale_of,
)

from minilottery.data import default_dataset
from minilottery.plots import plot_run
from minilottery.plots import records_series as curve
from minilottery.tables import format_table

NAME = "dropout"
SCALES = {
    "smoke": dict(max_train=300, iterations=20, eval_every=5, rounds=2),
    "default": dict(iterations=1500, rounds=7),
    "paper": dict(),  # the preset's iterations and 20 rounds
}
ITERATION_FACTOR = 3  # the paper trains three times longer with dropout


def parse_args(argv=None):
    parser = example_parser(NAME, __doc__)
    parser.add_argument("--model", choices=("lenet300", "conv2", "conv4", "conv6"),
                        default="lenet300")
    parser.add_argument("--dataset", choices=("mnist5k", "mnist", "digits", "synthetic",
                                              "cifar10"), default=None,
                        help="default: mnist5k (else digits) for lenet300, synthetic for conv")
    parser.add_argument("--data-dir", default=None, help="directory of the mnist / cifar10 files")
    parser.add_argument("--p", type=float, default=0.5, help="dropout probability")
    parser.add_argument("--width", type=float, default=None,
                        help="width multiplier (default: 1; 1/8 for conv below --paper)")
    return parser.parse_args(argv)


def make_configs(args):
    """(without dropout, with dropout): the same network, data, seed and pruning."""
    from minilottery.config import LotteryConfig

    dataset = args.dataset
    if dataset is None:
        dataset = "synthetic" if args.model != "lenet300" else default_dataset()[0]
    scale = scale_of(args)
    width = args.width or (0.125 if args.model != "lenet300" and scale != "paper" else 1.0)
    plain = LotteryConfig(model=args.model, dataset=dataset, data_dir=args.data_dir,
                          width=width, seed=args.seed, controls=(), **SCALES[scale])
    iterations = plain.resolved(len(plain.load_data().y_train)).iterations
    return plain, replace(plain, dropout=args.p, iterations=ITERATION_FACTOR * iterations)


def main(argv=None) -> int:
    args = parse_args(argv)
    if not 0.0 < args.p < 1.0:
        raise ValueError(f"--p: got {args.p}, expected a dropout probability in (0, 1)")
    clock = Stopwatch()
    out = out_dir(args, NAME)
    plain_config, dropout_config = make_configs(args)
    plain = run(plain_config, out, "no_dropout", args)
    dropped = run(dropout_config, out, "dropout", args)
    for label, results in (("no_dropout", plain), ("dropout", dropped)):
        plot_run(results, out / label)

    # How alike are the two tickets? The Jaccard index of their kept weights, round by round
    overlap = []
    for index in range(1, min(len(plain["rounds"]), len(dropped["rounds"]))):
        a = ordered_masks(out / "no_dropout", index)
        b = ordered_masks(out / "dropout", index)
        overlap.append({"round": index, "density": plain["rounds"][index]["density"],
                        "jaccard": jaccard(a, b), "chance": chance_jaccard(a, b)})

    label_plain = f"no dropout ({plain['config']['iterations']} it.)"
    label_dropout = f"dropout {args.p:g} ({dropped['config']['iterations']} it.)"
    runs = {"no dropout": plain["rounds"], "dropout": dropped["rounds"]}
    headers, rows = comparison_rows(runs, ACCURACY_AND_ITERATION)
    by_round = {o["round"]: o for o in overlap}
    headers += ["mask Jaccard", "chance"]
    for row in rows:
        o = by_round.get(row[0])
        row += [f"{o['jaccard']:.3f}", f"{o['chance']:.3f}"] if o else ["", ""]
    figure = plot_panels([
        {"series": {label_plain: curve(plain["rounds"], "early_stop_test_accuracy"),
                    label_dropout: curve(dropped["rounds"], "early_stop_test_accuracy")},
         "ylabel": "test accuracy at early stop (%)"},
        {"series": {label_plain: curve(plain["rounds"], "early_stop_iteration"),
                    label_dropout: curve(dropped["rounds"], "early_stop_iteration")},
         "ylabel": "early-stop iteration", "percent_y": False},
        {"series": {"tickets with / without dropout": curve(overlap, "jaccard"),
                    "random masks (chance)": curve(overlap, "chance")},
         "ylabel": "Jaccard index of the kept weights", "percent_y": False},
    ], out / f"{NAME}.png", title=f"{plain['config']['model']} on "
                                  f"{plain['config']['dataset']}: IMP with and without dropout")

    print("\nTest accuracy at early stop, early-stop iteration, and the overlap of the two "
          "tickets' masks:")
    print(format_table(headers, rows))
    print(f"\nplots: {figure}, {out}/no_dropout/*.png, {out}/dropout/*.png")
    finish(NAME, clock, out, {"example": NAME, "scale": scale_of(args), "headers": headers,
                              "rows": rows, "overlap": overlap, "figure": str(figure)},
           plain, dropped)
    return 0


if __name__ == "__main__":
    sys.exit(main())
