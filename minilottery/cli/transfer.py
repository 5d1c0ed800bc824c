"""``minilottery transfer``: train the tickets of a lottery run on another dataset or optimizer."""

from __future__ import annotations

from pathlib import Path

from ..config import OPTIMIZER_NAMES
from ..data import DATASET_NAMES
from ..models import MODEL_NAMES
from .arguments import add_common


def register(commands) -> None:
    parser = commands.add_parser(
        "transfer", help="train the tickets of a lottery run on another dataset or optimizer",
        description="Morcos et al. 2019: at each density of the source run, the transferred "
                    "ticket, the ticket IMP finds on the target, a random ticket and the "
                    "dense network, all trained on the target.")
    parser.add_argument("--source", required=True, metavar="RUN_DIR",
                        help="a finished `minilottery lottery` run directory")
    parser.add_argument("--dataset", choices=DATASET_NAMES, required=True, help="the target")
    parser.add_argument("--out", required=True, help="output directory (resumed)")
    parser.add_argument("--data-dir", default=None,
                        help="the dataset's files (docs/datasets.md); for npz, the .npz file")
    parser.add_argument("--max-train", type=int, default=None)
    parser.add_argument("--model", choices=MODEL_NAMES, default=None,
                        help="the architecture expected of the source (checked)")
    parser.add_argument("--width", type=float, default=None, help="expected width (checked)")
    parser.add_argument("--optimizer", choices=OPTIMIZER_NAMES, default=None,
                        help="train on the target with this optimizer (default: the source's)")
    parser.add_argument("--lr", type=float, default=None)
    parser.add_argument("--iterations", type=int, default=None,
                        help="default: the source's (the schedule is rescaled)")
    parser.add_argument("--output-mask", choices=("dense", "random"), default="dense",
                        help="the replaced output layer: unpruned (Morcos et al.) or a "
                             "random mask at the source output layer's density")
    parser.add_argument("--random-weights", choices=("reset", "fresh"), default="reset",
                        help="the random ticket's weights: the ticket's or fresh ones")
    parser.add_argument("--target-run", default=None, metavar="RUN_DIR",
                        help="the IMP run on the target (default: OUT/target)")
    add_common(parser)
    parser.set_defaults(func=run)


def run(args) -> int:
    from ..plots import plot_transfer
    from ..runner import RunContext
    from ..tables import transfer_table
    from ..transfer import TransferConfig, TransferRun

    config = TransferConfig(
        source=args.source, dataset=args.dataset, data_dir=args.data_dir,
        max_train=args.max_train, model=args.model, width=args.width,
        optimizer=args.optimizer, lr=args.lr, iterations=args.iterations,
        output_mask=args.output_mask, random_weights=args.random_weights,
        target_dir=args.target_run)
    out = Path(args.out)

    def redraw(results):
        plot_transfer(results, out / "transfer.png")

    # Built first: the source and every argument are checked before anything is printed
    context = RunContext(backend=args.backend, progress=not args.no_progress)
    transfer = TransferRun(config, out, context=context, on_density=redraw)
    print(f"transfer run directory: {out}")
    results = transfer.run()
    print(transfer_table(results))
    print(f"results: {out / 'results.json'}; plot: {out / 'transfer.png'}")
    return 0
