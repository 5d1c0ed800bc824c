"""``minilottery sanity --source RUN --method M``: does a method's mask carry information?"""

from __future__ import annotations

from pathlib import Path

from ..schema import options_of
from .arguments import add_common, add_config_arguments, check_out_dir, config_from_args


def register(commands) -> None:
    from ..experiments.sanity import SanityOptions

    parser = commands.add_parser(
        "sanity", help="sanity checks of IMP / SNIP / SynFlow / GraSP masks: as found, "
                       "shuffled, reinitialised, inverted, random, trained side by side")
    add_config_arguments(parser, ("analysis",), options_of(SanityOptions))
    parser.add_argument("--out", required=True, help="output directory (resumed)")
    add_common(parser)
    parser.set_defaults(func=run)


def run(args) -> int:
    from ..experiments.sanity import SanityOptions, run_sanity
    from ..plots.dynamics import plot_sanity
    from ..tables import sanity_table

    check_out_dir(args.out)
    out = Path(args.out)
    options = config_from_args(args, SanityOptions)
    results = run_sanity(options, out, backend=args.backend, progress=not args.no_progress,
                         log=lambda line: print(line, flush=True))
    path = plot_sanity(results, out / "sanity.png")
    print(sanity_table(results))
    print(f"results: {out / 'results.json'}; plot: {path}")
    return 0
