"""Example: beyond the first papers: instability analysis, pruning at init, supermasks.

One IMP run (LeNet-300-100, layer-wise pruning, the random-pruning control) is
the source of three analyses, each a resumable directory under --out:

    stability-dense/   Frankle et al. 2020 (arXiv 1912.05671): the error barrier
                       between two copies trained from iteration k, dense net
    stability-ticket/  the same for the last round's IMP ticket and a random
                       mask of its density, from the same weights
    prune-at-init/     SNIP, SynFlow and GraSP masks at the IMP densities,
                       trained from the same init (Lee et al. 2019, Tanaka et
                       al. 2020, Wang et al. 2020)
    supermask/         each round's mask on the untrained initial weights
                       (Zhou et al. 2019, arXiv 1905.01067)

The same as the commands ``minilottery stability``, ``prune-at-init`` and
``supermask`` (see the README), chained.

Scales:
    (default)  MNIST sample, 1000 iterations a round, 6 rounds of 40% (output
               20%), k in 0, 50, 100, 250: about an hour on a 2-core CPU
    --smoke    digits, width 0.1, 20 iterations, 2 rounds: seconds
    --paper    the preset (50K iterations scaled to the data, 20 rounds of 20%)

    python examples/beyond.py [--smoke | --paper] [--out DIR] [--backend cupy]
"""

from __future__ import annotations

import sys

from _common import Stopwatch, example_parser, out_dir, run, scale_of

from minilottery.config import LotteryConfig
from minilottery.experiments.prune_at_init_run import run_prune_at_init
from minilottery.experiments.stability_run import StabilityOptions, run_stability
from minilottery.experiments.supermask import run_supermask
from minilottery.plots import plot_prune_at_init, plot_stability, plot_supermask
from minilottery.tables import prune_at_init_table, stability_table, supermask_table

SCALES = {
    "smoke": dict(config=dict(dataset="digits", width=0.1, iterations=20, rounds=2, rate=0.5),
                  ks=(0, 5), points=5),
    "default": dict(config=dict(dataset="mnist5k", iterations=1000, rounds=6, rate=0.4),
                    ks=(0, 50, 100, 250), points=30),
    "paper": dict(config=dict(dataset="mnist5k"), ks=(0, 100, 500, 2000), points=30),
}


def main(argv=None) -> int:
    args = example_parser("beyond", __doc__).parse_args(argv)
    scale = SCALES[scale_of(args)]
    out = out_dir(args, "beyond")
    clock = Stopwatch()
    progress = not args.no_progress
    config = LotteryConfig(seed=args.seed, controls=("random_prune",), **scale["config"])
    source = run(config, out, "imp", args)
    last = source["rounds"][-1]["round"]

    analyses = {"stability-dense": (config, {}),  # a ticket: its own run's configuration
                "stability-ticket": (None, dict(ticket=str(out / "imp"), round=last))}
    for label, (training, ticket) in analyses.items():
        options = StabilityOptions(rewind_iterations=scale["ks"], points=scale["points"],
                                   **ticket)
        results = run_stability(training, out / label, options, backend=args.backend,
                                progress=progress)
        plot_stability(results, out / label)
        print(f"\n{label}\n{stability_table(results)}\nstable from: {results['stable_k']}")

    pai = run_prune_at_init(out / "imp", ["snip", "synflow", "grasp"], out / "prune-at-init",
                            backend=args.backend, progress=progress)
    plot_prune_at_init(pai, out / "prune-at-init")
    print(f"\npruning at initialisation\n{prune_at_init_table(pai)}")

    masks = run_supermask(out / "imp", out / "supermask", backend=args.backend,
                          log=lambda line: None)
    plot_supermask(masks, out / "supermask")
    print(f"\nsupermasks (test accuracy without training)\n{supermask_table(masks)}")
    print(f"\nall results under {out} ({clock})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
