"""``minilottery supermask RUN_DIR --out DIR``: each round's mask on the untrained weights."""

from __future__ import annotations

from pathlib import Path

from .arguments import add_common, check_out_dir


def register(commands) -> None:
    parser = commands.add_parser(
        "supermask", help="accuracy of each round's mask on the initial weights, untrained")
    parser.add_argument("run_dir")
    parser.add_argument("--out", required=True, help="output directory")
    add_common(parser)
    parser.set_defaults(func=run)


def run(args) -> int:
    from ..experiments.supermask import run_supermask
    from ..plots import plot_supermask
    from ..tables import supermask_table

    check_out_dir(args.out)
    results = run_supermask(args.run_dir, args.out, backend=args.backend)
    path = plot_supermask(results, args.out)
    print(supermask_table(results))
    print(f"results: {Path(args.out) / 'results.json'}; plot: {path}")
    return 0
