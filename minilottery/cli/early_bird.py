"""``minilottery early-bird --source RUN``: early-bird tickets at the densities of a run."""

from __future__ import annotations

from pathlib import Path

from ..schema import options_of
from .arguments import add_common, add_config_arguments, check_out_dir, config_from_args


def register(commands) -> None:
    from ..experiments.early_bird import EarlyBirdOptions

    parser = commands.add_parser(
        "early-bird", help="early-bird masks during one dense training, trained and costed "
                           "against a lottery run's IMP tickets")
    add_config_arguments(parser, ("analysis",), options_of(EarlyBirdOptions))
    parser.add_argument("--out", required=True, help="output directory (resumed)")
    add_common(parser)
    parser.set_defaults(func=run)


def run(args) -> int:
    from ..experiments.early_bird import EarlyBirdOptions, run_early_bird
    from ..plots.dynamics import plot_early_bird
    from ..tables import early_bird_table

    check_out_dir(args.out)
    out = Path(args.out)
    options = config_from_args(args, EarlyBirdOptions)
    results = run_early_bird(options, out, backend=args.backend,
                             progress=not args.no_progress,
                             log=lambda line: print(line, flush=True))
    path = plot_early_bird(results, out / "early_bird.png")
    print(early_bird_table(results))
    print(f"results: {out / 'results.json'}; plot: {path}")
    return 0
