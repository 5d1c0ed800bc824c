"""``minilottery sparse-train``: gradual magnitude pruning, SET and RigL, one training each."""

from __future__ import annotations

from pathlib import Path

from ..schema import options_of
from .arguments import (
    add_common,
    add_config_arguments,
    check_out_dir,
    config_from_args,
    resolve_dataset,
)


def register(commands) -> None:
    from ..experiments.sparse_training_run import SparseTrainingOptions

    parser = commands.add_parser(
        "sparse-train", help="gradual pruning, SET and RigL: masks found while training",
        description="Each method trained once to each density, from the initial weights and "
                    "with the batch order of round 0 of the lottery run with the same flags.")
    add_config_arguments(parser, ("data", "training"))
    add_config_arguments(parser, ("sparse",), options_of(SparseTrainingOptions))
    parser.add_argument("--out", default=None, help="run directory (resumed if it exists)")
    add_common(parser)
    parser.set_defaults(func=run)


def run(args) -> int:
    from ..experiments.sparse_training_run import SparseTrainingOptions, SparseTrainingRun
    from ..runner import RunContext
    from ..tables import sparse_training_table

    resolve_dataset(args)
    config = config_from_args(args)
    options = config_from_args(args, SparseTrainingOptions)
    out = Path(args.out) if args.out else (
        Path("runs") / f"{config.model}-{config.dataset}-sparse-seed{config.seed}")
    check_out_dir(out)
    context = RunContext(backend=args.backend, progress=not args.no_progress,
                         log=lambda line: print(line, flush=True))
    run = SparseTrainingRun(config, options, out, context=context)  # every option checked
    print(f"run directory: {out}")
    results = run.run()
    print(sparse_training_table(results))
    print(f"results: {out / 'results.json'}")
    return 0
