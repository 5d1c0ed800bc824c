"""``minilottery sweep [FILE] --out DIR``: many lottery runs, on joblib or Dask."""

from __future__ import annotations

from .arguments import add_common, check_out_dir


def register(commands) -> None:
    parser = commands.add_parser(
        "sweep", help="many lottery runs (a grid of configurations x seeds), joblib or Dask",
        description="Runs every configuration of a sweep file ([base], [grid], [[runs]] of "
                    "LotteryConfig fields) in its own run directory under --out; a sweep "
                    "started again skips finished runs and resumes the others.")
    parser.add_argument("file", nargs="?", help="sweep file (TOML, or JSON)")
    parser.add_argument("--out", required=True, help="the sweep's directory")
    parser.add_argument("--grid", action="append", default=[], metavar="FIELD=V1,V2",
                        help="add a field to the grid (repeatable)")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="set a field of every run (repeatable)")
    parser.add_argument("--jobs", type=int, default=None,
                        help="local worker processes (default 1); with --dask local, its "
                             "workers (default 2)")
    parser.add_argument("--dask", default=None, metavar="ADDRESS",
                        help="run on a Dask cluster: tcp://HOST:PORT, or 'local'")
    parser.add_argument("--band", choices=("std", "minmax"), default="std",
                        help="spread drawn in the plots: mean +- std, or min to max")
    parser.add_argument("--list", action="store_true", help="print the runs and exit")
    add_common(parser)  # --threads: BLAS threads per run (default: cores / workers)
    parser.set_defaults(func=run)


def run(args) -> int:
    from ..plots import aggregate_sweep
    from ..sweep import load_sweep, run_sweep, spec_from_options

    check_out_dir(args.out)
    if not (args.file or args.grid or args.set):
        raise ValueError("sweep: give a sweep FILE, or --grid FIELD=V1,V2 / --set FIELD=VALUE")
    spec = spec_from_options(load_sweep(args.file) if args.file else None, args.set, args.grid)
    runs = spec.expand()
    if args.list:
        for run_ in runs:
            print(run_.name)
        return 0
    print(f"sweep: {len(runs)} runs in {args.out}")
    report = run_sweep(spec, args.out, jobs=args.jobs, dask=args.dask, threads=args.threads,
                       backend=args.backend, progress=not args.no_progress)
    print(report.summary())
    if len(report.done) + len(report.skipped):
        table, paths = aggregate_sweep(args.out, band=args.band)
        print(table)
        for path in paths:
            print(path)
    return 0 if report.ok else 1
