"""Sweeps: grids of lottery runs (spec), their execution (execute) and aggregation."""

from .aggregate import aggregate_runs, read_sweep, reduce
from .execute import SWEEP_FILE, SweepReport, execute_run, execution, run_is_finished, run_sweep
from .spec import (
    SweepRun,
    SweepSpec,
    load_sweep,
    run_name,
    spec_from_options,
    sweep_file_text,
)

__all__ = [
    "SWEEP_FILE",
    "SweepReport",
    "SweepRun",
    "SweepSpec",
    "aggregate_runs",
    "execute_run",
    "execution",
    "load_sweep",
    "read_sweep",
    "reduce",
    "run_is_finished",
    "run_name",
    "run_sweep",
    "spec_from_options",
    "sweep_file_text",
]
