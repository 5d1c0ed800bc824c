"""``minilottery prune-at-init``: SNIP / SynFlow / GraSP masks at the densities of an IMP run."""

from __future__ import annotations

from pathlib import Path

from ..schema import options_of
from .arguments import add_common, add_config_arguments, config_from_args


def register(commands) -> None:
    from ..experiments.prune_at_init_run import PruneAtInitOptions

    parser = commands.add_parser(
        "prune-at-init", help="SNIP / SynFlow masks at the densities of a lottery run, trained")
    add_config_arguments(parser, ("analysis",), options_of(PruneAtInitOptions))
    parser.add_argument("--out", required=True, help="output directory (resumed)")
    add_common(parser)
    parser.set_defaults(func=run)


def run(args) -> int:
    from ..experiments.prune_at_init_run import PruneAtInitOptions, run_prune_at_init
    from ..plots import plot_prune_at_init
    from ..tables import prune_at_init_table

    out = Path(args.out)
    options = config_from_args(args, PruneAtInitOptions)
    results = run_prune_at_init(options.source, list(dict.fromkeys(options.methods)), out,
                                rounds=set(options.rounds) if options.rounds else None,
                                backend=args.backend, progress=not args.no_progress,
                                log=lambda line: print(line, flush=True))
    path = plot_prune_at_init(results, out)
    print(prune_at_init_table(results))
    print(f"results: {out / 'results.json'}; plot: {path}")
    return 0
