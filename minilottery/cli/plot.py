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
    from ..plots import aggregate_sweep, plot_run
    from ..runs import RunDirectory

    if (Path(args.run_dir) / "sweep.json").is_file():
        table, paths = aggregate_sweep(args.run_dir)
        print(table)
    else:
        directory = RunDirectory(args.run_dir)
        results = directory.load_results()
        if not results.get("rounds"):
            raise ValueError(f"run_dir: {args.run_dir} has no finished round yet, expected a "
                             "run with at least round 0 done")
        paths = plot_run(results, directory.path)
    for path in paths:
        print(path)
    return 0
