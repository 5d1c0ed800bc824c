"""``minilottery stability``: the error barrier between two copies trained from each k."""

from __future__ import annotations

from pathlib import Path

from ..schema import options_of
from .arguments import add_common, add_config_arguments, config_from_args, resolve_dataset


def register(commands) -> None:
    parser = commands.add_parser(
        "stability", help="instability analysis: error barrier between two copies per k",
        description="Frankle et al. 2020: train two copies from iteration k with different "
                    "data orders; the error barrier on the line between them, per k.")
    from ..experiments.stability_run import StabilityOptions

    add_config_arguments(parser, ("data", "training"))
    add_config_arguments(parser, ("analysis",), options_of(StabilityOptions))
    parser.add_argument("--out", required=True, help="output directory (resumed)")
    add_common(parser)
    parser.set_defaults(func=run)


def run(args) -> int:
    from ..experiments.stability_run import StabilityOptions, run_stability
    from ..plots import plot_stability
    from ..tables import stability_table

    options = config_from_args(args, StabilityOptions)
    config = None  # a ticket is analysed with its own run's configuration
    if options.ticket is None:
        resolve_dataset(args)
        config = config_from_args(args)
    out = Path(args.out)
    results = run_stability(config, out, options, backend=args.backend,
                            progress=not args.no_progress,
                            log=lambda line: print(line, flush=True))
    path = plot_stability(results, out)
    print(stability_table(results))
    for variant, k in results["stable_k"].items():
        verdict = (f"stable from k={k}: use --reset rewind --rewind-iteration {k}"
                   if k is not None else "not stable at any k tried")
        print(f"{variant}: {verdict} (threshold {100 * options.threshold:.1f}%)")
    print(f"results: {out / 'results.json'}; plot: {path}")
    return 0
