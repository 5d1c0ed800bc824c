"""``minilottery mask-dynamics RUN [RUN ...] --out DIR``: how far apart the masks are."""

from __future__ import annotations

from pathlib import Path

from .arguments import add_common, check_out_dir


def register(commands) -> None:
    parser = commands.add_parser(
        "mask-dynamics", help="Hamming distances between the masks of rounds, of seeds, of a "
                              "ticket's source and target runs (no training)")
    parser.add_argument("runs", nargs="+", metavar="RUN",
                        help="lottery run directories (two or more: every pair is compared)")
    parser.add_argument("--out", required=True, help="output directory")
    add_common(parser)
    parser.set_defaults(func=run)


def run(args) -> int:
    from ..experiments.mask_dynamics import mask_dynamics
    from ..plots.dynamics import plot_mask_dynamics
    from ..runs import atomic_write_json
    from ..tables import mask_dynamics_table

    check_out_dir(args.out)
    results = mask_dynamics(args.runs)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "mask_dynamics.json", results)
    path = plot_mask_dynamics(results, out / "mask_dynamics.png")
    print(mask_dynamics_table(results))
    print(f"results: {out / 'mask_dynamics.json'}; plot: {path}")
    return 0
