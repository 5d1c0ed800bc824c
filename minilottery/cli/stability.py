"""``minilottery stability``: the error barrier between two copies trained from each k."""

from __future__ import annotations

from pathlib import Path

from .arguments import (
    add_common,
    add_config_arguments,
    add_list_argument,
    config_from_args,
    resolve_dataset,
)


def register(commands) -> None:
    parser = commands.add_parser(
        "stability", help="instability analysis: error barrier between two copies per k",
        description="Frankle et al. 2020: train two copies from iteration k with different "
                    "data orders; the error barrier on the line between them, per k.")
    add_config_arguments(parser, ("data", "training"))
    add_list_argument(parser, "--rewind-iterations", cast=int, default=None, metavar="K,K,...",
                      help="iterations k to analyse (default 0,50,100,500)")
    parser.add_argument("--ticket", default=None, metavar="RUN_DIR",
                        help="analyse a ticket of this lottery run (and a random mask of "
                             "its density) instead of the dense net; its config is used")
    parser.add_argument("--round", type=int, default=None, help="the ticket's round")
    parser.add_argument("--threshold", type=float, default=0.02,
                        help="stable when the barrier is below this (default 0.02)")
    parser.add_argument("--points", type=int, default=30, help="points on the line")
    parser.add_argument("--out", required=True, help="output directory (resumed)")
    add_common(parser)
    parser.set_defaults(func=run)


def run(args) -> int:
    from ..experiments.stability_run import run_stability
    from ..plots import plot_stability
    from ..tables import stability_table

    ticket = None
    if args.ticket is not None:
        if args.round is None:
            raise ValueError("--round: required with --ticket (the round whose mask to use)")
        ticket = (args.ticket, args.round)
        config = None
    else:
        resolve_dataset(args)
        config = config_from_args(args)
    out = Path(args.out)
    ks = args.rewind_iterations or [0, 50, 100, 500]
    results = run_stability(config, ks, out, ticket=ticket, points=args.points,
                            threshold=args.threshold, backend=args.backend,
                            progress=not args.no_progress,
                            log=lambda line: print(line, flush=True))
    path = plot_stability(results, out)
    print(stability_table(results))
    for variant, k in results["stable_k"].items():
        verdict = (f"stable from k={k}: use --reset rewind --rewind-iteration {k}"
                   if k is not None else "not stable at any k tried")
        print(f"{variant}: {verdict} (threshold {100 * args.threshold:.1f}%)")
    print(f"results: {out / 'results.json'}; plot: {path}")
    return 0
