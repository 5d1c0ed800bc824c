"""``minilottery lottery``: iterative magnitude pruning with resets and controls."""

from __future__ import annotations

from pathlib import Path

from .arguments import add_common, add_config_arguments, config_from_args, resolve_dataset


def register(commands) -> None:
    parser = commands.add_parser(
        "lottery", help="iterative magnitude pruning with resets and controls",
        description="With no arguments: LeNet-300-100 on the bundled MNIST sample, IMP with "
                    "the reinit control, in a few minutes on a laptop.")
    add_config_arguments(parser, ("data", "training", "pruning"))
    parser.add_argument("--out", default=None, help="run directory (resumed if it exists)")
    add_common(parser)
    parser.set_defaults(func=run)


def default_run_dir(config) -> Path:
    """runs/<model>-<dataset>-<strategy>[-<scope>][-<reset>]-seed<seed>: the choices made."""
    parts = [config.model, config.dataset, config.strategy, config.scope, config.reset]
    return Path("runs") / "-".join([p for p in parts if p] + [f"seed{config.seed}"])


def run(args) -> int:
    from ..lottery import LotteryRun
    from ..plots import plot_run
    from ..tables import rounds_table

    resolve_dataset(args)
    config = config_from_args(args)
    out = Path(args.out) if args.out else default_run_dir(config)

    def redraw(results):
        plot_run(results, out)

    # Built first: every argument is checked before the directory is named or made
    lottery = LotteryRun(config, out, backend=args.backend, progress=not args.no_progress,
                         on_round=redraw)
    print(f"run directory: {out}")
    results = lottery.run()
    print(rounds_table(results))
    print(f"results: {out / 'results.json'}; plots: {out}/*.png")
    return 0
