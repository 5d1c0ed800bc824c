"""``minilottery plot DIR``: redraw the figures of a run or a sweep directory."""

from __future__ import annotations

from pathlib import Path

from .arguments import add_common


def register(commands) -> None:
    parser = commands.add_parser("plot", help="redraw the plots of a run or sweep directory")
    parser.add_argument("run_dir")
    add_common(parser)
    parser.set_defaults(func=run)


def run(args) -> int:
    from ..plots import aggregate_sweep, plot_run_dir
    from ..plots.kinds import plot_any_dir
    from ..sweep import read_sweep

    if (Path(args.run_dir) / "sweep.json").is_file():
        # A sweep (or lottery --seeds): every run's figures, then the mean and spread
        paths = []
        for name in read_sweep(args.run_dir)[1]:
            paths += plot_run_dir(Path(args.run_dir) / name)
        table, aggregate = aggregate_sweep(args.run_dir)
        paths += aggregate
        print(table)
    else:
        # a lottery run, or another command's (early-bird, sanity, ...): its own figure
        paths = plot_any_dir(args.run_dir)
    for path in paths:
        print(path)
    return 0
