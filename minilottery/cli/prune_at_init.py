"""``minilottery prune-at-init``: SNIP / SynFlow / GraSP masks at the densities of an IMP run."""

from __future__ import annotations

from pathlib import Path

from .arguments import add_common, add_list_argument


def register(commands) -> None:
    from ..experiments.pruning_at_init import METHODS

    parser = commands.add_parser(
        "prune-at-init", help="SNIP / SynFlow masks at the densities of a lottery run, trained")
    parser.add_argument("--source", required=True, metavar="RUN_DIR",
                        help="the lottery run whose densities, init and recipe to use")
    add_list_argument(parser, "--methods", choices=METHODS, default=None, metavar="M,M,...",
                      help=f"some of {', '.join(METHODS)} (default: snip,synflow)")
    add_list_argument(parser, "--rounds", cast=int, default=None, metavar="R,R,...",
                      help="source rounds to match (default: all)")
    parser.add_argument("--out", required=True, help="output directory (resumed)")
    add_common(parser)
    parser.set_defaults(func=run)


def run(args) -> int:
    from ..experiments.prune_at_init_run import run_prune_at_init
    from ..plots import plot_prune_at_init
    from ..tables import prune_at_init_table

    out = Path(args.out)
    methods = list(dict.fromkeys(args.methods or ["snip", "synflow"]))
    rounds = set(args.rounds) if args.rounds else None
    results = run_prune_at_init(args.source, methods, out, rounds=rounds,
                                backend=args.backend, progress=not args.no_progress,
                                log=lambda line: print(line, flush=True))
    path = plot_prune_at_init(results, out)
    print(prune_at_init_table(results))
    print(f"results: {out / 'results.json'}; plot: {path}")
    return 0
