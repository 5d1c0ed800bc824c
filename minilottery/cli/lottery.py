"""``minilottery lottery``: iterative magnitude pruning with resets and controls.

``--seeds N`` runs the same configuration with N seeds (seed, seed + 1, ...)
as a sweep over ``seed`` (sweep/: the same execution, resume and failure
records as ``minilottery sweep``), each run in its own subdirectory, and draws
the mean and spread over the seeds at the top of the directory.
"""

from __future__ import annotations

from pathlib import Path

from .arguments import (
    add_common,
    add_config_arguments,
    check_out_dir,
    config_from_args,
    resolve_dataset,
)


def register(commands) -> None:
    parser = commands.add_parser(
        "lottery", help="iterative magnitude pruning with resets and controls",
        description="With no arguments: LeNet-300-100 on the bundled MNIST sample, IMP with "
                    "the reinit control, in a few minutes on a laptop.")
    add_config_arguments(parser, ("data", "training", "pruning"))
    parser.add_argument("--out", default=None, help="run directory (resumed if it exists)")
    parser.add_argument("--print-config", action="store_true",
                        help="print the configuration that would run, every value resolved "
                             "(the preset scaled to the dataset), as a sweep file to edit and "
                             "run with `minilottery sweep FILE --out DIR`; train nothing")
    seeds = parser.add_argument_group("several seeds")
    seeds.add_argument("--seeds", type=int, default=1, metavar="N",
                       help="run N seeds (--seed, --seed + 1, ...), each in OUT/seed=S, and "
                            "plot their mean and spread in OUT (default 1)")
    seeds.add_argument("--jobs", type=int, default=None,
                       help="with --seeds: runs at once, in local processes (default 1)")
    seeds.add_argument("--band", choices=("std", "minmax"), default="std",
                       help="with --seeds: the spread drawn, mean +- std or min to max")
    add_common(parser)
    parser.set_defaults(func=run)


def default_run_dir(config, seeds: int = 1) -> Path:
    """runs/<model>-<dataset>-<strategy>[-<scope>][-<reset>]-seed<seed>: the choices made
    (``-seeds0-4`` for five seeds from 0)."""
    parts = [config.model, config.dataset, config.strategy, config.scope, config.reset]
    seed = (f"seed{config.seed}" if seeds == 1 else
            f"seeds{config.seed}-{config.seed + seeds - 1}")
    return Path("runs") / "-".join([p for p in parts if p] + [seed])


def run(args) -> int:
    if args.seeds < 1:
        raise ValueError(f"--seeds: got {args.seeds}, expected a number of seeds >= 1")
    if args.jobs is not None and args.jobs < 1:
        raise ValueError(f"--jobs: got {args.jobs}, expected a number of processes >= 1")
    resolve_dataset(args)
    config = config_from_args(args)
    if args.print_config:
        return print_config(config)
    if args.seeds > 1:
        return run_seeds(args, config)
    from ..plots import plot_run
    from ..runner import RunContext
    from ..sweep.late_reset import late_reset_run
    from ..tables import cost_table, rounds_table

    out = Path(args.out) if args.out else default_run_dir(config)

    def redraw(results):
        plot_run(results, out)

    # Built first: every argument is checked before the directory is named or made
    context = RunContext(backend=args.backend, progress=not args.no_progress)
    lottery = late_reset_run(config, out, context=context, on_round=redraw)
    print(f"run directory: {out}")
    results = lottery.run()
    print(rounds_table(results))
    print(cost_table(results))
    print(f"results: {out / 'results.json'}; plots: {out}/*.png")
    return 0


def print_config(config) -> int:
    """--print-config: the resolved configuration as a sweep file of one run."""
    from ..recipe import prepare
    from ..sweep import sweep_file_text

    resolved, dataset = prepare(config)
    print(sweep_file_text(resolved, (
        f"minilottery lottery: {resolved.model} on {resolved.dataset} "
        f"({len(dataset.y_train):,} training images), every value resolved.\n"
        "Edit it, then run it: minilottery sweep FILE --out DIR")), end="")
    return 0


def run_seeds(args, config) -> int:
    """--seeds N: a sweep over seed; its table and the figures of every run and of all."""
    from ..plots import aggregate_sweep, plot_run_dir
    from ..recipe import prepare
    from ..sweep import SweepSpec, run_sweep

    prepare(config)  # every value checked against the data before anything is made
    base = {k: v for k, v in config.to_dict().items() if v is not None and k != "seed"}
    spec = SweepSpec.from_dict({"base": base,
                                "grid": {"seed": [config.seed + i for i in range(args.seeds)]}},
                               "--seeds")
    runs = spec.expand()
    out = Path(args.out) if args.out else default_run_dir(config, args.seeds)
    check_out_dir(out)
    print(f"run directory: {out} ({args.seeds} seeds: {', '.join(r.name for r in runs)})")
    report = run_sweep(spec, out, jobs=args.jobs, threads=args.threads, backend=args.backend,
                       progress=not args.no_progress)
    if report.failed:
        print(report.summary())
    for run_ in runs:
        if report.failed.get(run_.name) is None:
            plot_run_dir(out / run_.name)
    table, paths = aggregate_sweep(out, band=args.band)
    print(table)
    print(f"results: {out}/seed=*/results.json; mean and spread: {out / 'aggregate.csv'}; "
          f"plots: {', '.join(str(p) for p in paths[1:])}")
    return 0 if report.ok else 1
