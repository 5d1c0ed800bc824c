"""``minilottery transfer``: train the tickets of a lottery run on another dataset or optimizer."""

from __future__ import annotations

from pathlib import Path

from ..schema import options_of
from .arguments import add_common, add_config_arguments, config_from_args


def register(commands) -> None:
    from ..transfer import TransferConfig

    parser = commands.add_parser(
        "transfer", help="train the tickets of a lottery run on another dataset or optimizer",
        description="Morcos et al. 2019: at each density of the source run, the transferred "
                    "ticket, the ticket IMP finds on the target, a random ticket and the "
                    "dense network, all trained on the target.")
    add_config_arguments(parser, ("transfer",), options_of(TransferConfig))
    parser.add_argument("--out", required=True, help="output directory (resumed)")
    add_common(parser)
    parser.set_defaults(func=run)


def run(args) -> int:
    from ..plots import plot_transfer
    from ..runner import RunContext
    from ..tables import transfer_table
    from ..transfer import TransferConfig, TransferRun

    config = config_from_args(args, TransferConfig)
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
