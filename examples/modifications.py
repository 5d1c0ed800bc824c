"""The modifications of IMP: one-shot vs iterative, reset to init vs late reset, layer vs global.

Four lottery runs of one network, each changing one choice of the baseline
(iterative, layer-wise, reset to the initial weights):

- one-shot: prune the trained dense network straight to each density, instead
  of a little every round. Frankle & Carbin (arXiv 1803.03635, Section 2 and
  Figure 4c) find one-shot tickets too, but iterative pruning finds smaller ones.
- late reset (rewind): reset the survivors to their values after one epoch
  of training instead of iteration 0 (Frankle et al., arXiv 1903.01611;
  Morcos et al., arXiv 1906.02773, use it as their default): it keeps
  tickets accurate where reset to iteration 0 stops working.
- global pruning: rank the weights of all layers together, 20% a round,
  instead of each layer at its own rate. The paper prunes VGG-19 and ResNet
  globally and notes that layer-wise pruning of VGG-19 only reaches 6.9%:
  global pruning keeps the small first layers, whose weights are large (small
  fan-in), denser and takes more from the big ones. The per-layer profile
  plot shows this.

Scales:
- default: Conv-2 at width 1/8 on the synthetic task (see conv_nets.py for
  why), 500 iterations a round, 6 rounds: 28 trainings, 48 s on an idle
  2-core CPU (OPENBLAS_NUM_THREADS=1);
- --paper: width 1, the preset's iterations and 20 rounds (``--model``,
  ``--dataset cifar10 --data-dir DIR``): for a GPU;
- --smoke: a few seconds.
"""

from __future__ import annotations

import sys
from dataclasses import replace

from _common import (
    ACCURACY_AND_ITERATION,
    Stopwatch,
    comparison_rows,
    example_parser,
    finish,
    out_dir,
    plot_layer_profile,
    plot_panels,
    run,
    scale_of,
)

from minilottery.config import LotteryConfig
from minilottery.plots import plot_run
from minilottery.plots import records_series as series
from minilottery.tables import format_table, percent

NAME = "modifications"
SCALES = {
    "smoke": dict(width=0.0625, max_train=120, iterations=8, eval_every=4, rounds=2),
    "default": dict(width=0.125, iterations=500, rounds=6),
    "paper": dict(width=1.0),
}
GLOBAL_RATE = 0.2  # of all remaining weights a round, as Morcos et al. and the paper's VGG/ResNet


def parse_args(argv=None):
    parser = example_parser(NAME, __doc__)
    parser.add_argument("--model", choices=("conv2", "conv4", "conv6", "lenet300", "vgg19",
                                            "resnet20"), default="conv2")
    parser.add_argument("--dataset", choices=("synthetic", "cifar10", "mnist5k", "mnist",
                                              "digits"), default="synthetic")
    parser.add_argument("--data-dir", default=None, help="directory of the mnist / cifar10 files")
    parser.add_argument("--width", type=float, default=None,
                        help="width multiplier (default: 1/8, 1 with --paper)")
    return parser.parse_args(argv)


def make_configs(args) -> dict[str, LotteryConfig]:
    """The baseline and the three runs that change one of its choices."""
    scale = dict(SCALES[scale_of(args)])
    if args.width is not None:
        scale["width"] = args.width
    # The baseline of the comparison is the LTH's: layer-wise, reset to init
    base = LotteryConfig(model=args.model, dataset=args.dataset, data_dir=args.data_dir,
                         seed=args.seed, controls=(), scope="layer", reset="init", **scale)
    resolved = base.resolved(len(base.load_data().y_train))
    # Late reset to about one epoch of training (Morcos et al.'s choice)
    epoch = -(-len(base.load_data().y_train) // resolved.batch_size)
    return {
        "iterative": base,
        "one-shot": replace(base, strategy="oneshot"),
        "rewind": replace(base, reset="rewind",
                          rewind_iteration=min(epoch, resolved.iterations // 2)),
        "global": replace(base, scope="global", rate=GLOBAL_RATE),
    }


def main(argv=None) -> int:
    args = parse_args(argv)
    clock = Stopwatch()
    out = out_dir(args, NAME)
    results = {}
    for label, config in make_configs(args).items():
        results[label] = run(config, out, label.replace("-", ""), args)
        plot_run(results[label], out / label.replace("-", ""))
    rounds = {label: r["rounds"] for label, r in results.items()}
    rewind_at = results["rewind"]["config"]["rewind_iteration"]
    model = results["iterative"]["config"]["model"]

    tables = {}
    # Each table: the baseline under the name of the choice it makes, then the change
    for title, baseline, change in (
            ("one-shot vs iterative pruning", "iterative", "one-shot"),
            (f"reset to init vs late reset (iteration {rewind_at})", "init", "rewind"),
            ("layer-wise vs global pruning", "layer-wise", "global")):
        runs = {baseline: rounds["iterative"], change: rounds[change]}
        tables[title] = comparison_rows(runs, ACCURACY_AND_ITERATION)

    # Where each scope leaves the weights, at the last round both reached
    last = min(len(rounds["iterative"]), len(rounds["global"])) - 1
    profiles = {}
    for label, name in (("iterative", "layer-wise"), ("global", "global")):
        record = rounds[label][last]
        profiles[f"{name} ({percent(record['density'])}% remaining)"] = {
            **record["layer_density"], "all layers": record["density"]}
    layer_rows = [[layer] + [percent(p[layer]) for p in profiles.values()]
                  for layer in rounds["iterative"][last]["layer_density"]]

    labels = {"iterative": "iterative, layer-wise, reset to init", "one-shot": "one-shot",
              "rewind": f"late reset (iteration {rewind_at})", "global": "global pruning"}
    figure = plot_panels([
        {"series": {labels[k]: series(r, "early_stop_test_accuracy") for k, r in rounds.items()},
         "ylabel": "test accuracy at early stop (%)"},
        {"series": {labels[k]: series(r, "early_stop_iteration") for k, r in rounds.items()},
         "ylabel": "early-stop iteration", "percent_y": False},
    ], out / f"{NAME}.png", title=f"{model} on {results['iterative']['config']['dataset']}: "
                                  "modifications of IMP")
    profile = plot_layer_profile(profiles, out / f"{NAME}_layers.png",
                                 title=f"{model}: weights each layer keeps after round {last}")

    for title, (headers, rows) in tables.items():
        print(f"\n{title}: test accuracy at early stop and early-stop iteration")
        print(format_table(headers, rows))
    print(f"\nper-layer weights remaining (%) after round {last}")
    print(format_table(["layer"] + list(profiles), layer_rows))
    print(f"\nplots: {figure}, {profile}, {out}/<run>/*.png")
    finish(NAME, clock, out, {
        "example": NAME, "scale": scale_of(args),
        "tables": {t: {"headers": h, "rows": r} for t, (h, r) in tables.items()},
        "layer_profile": {"headers": ["layer"] + list(profiles), "rows": layer_rows},
        "figures": [str(figure), str(profile)]}, *results.values())
    return 0


if __name__ == "__main__":
    sys.exit(main())
