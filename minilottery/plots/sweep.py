"""The figures and the CSV of a sweep: every curve as mean and spread over seeds.

The numbers come from sweep/aggregate.py; this module only draws them, writes
them as CSV and tables them, reading stored results and never training.
"""

from __future__ import annotations

from pathlib import Path

from ..config import CONTROLS as CONTROL_NAMES
from ..sweep.aggregate import (
    BANDS,
    CSV_FILE,
    CURVES,
    aggregate_runs,
    read_sweep,
    write_csv,
)
from ..tables import aggregate_table
from .base import LABELS, plot_series, run_title


def series_for(rows: list[dict], curve: str, band: str = "std") -> dict[str, dict]:
    """plot_series' input for one curve: one series per (group, network)."""
    if band not in BANDS:
        raise ValueError(f"band: got {band!r}, expected one of {', '.join(BANDS)}")
    groups = list(dict.fromkeys(row["group"] for row in rows))
    series: dict[str, dict] = {}
    for row in rows:
        if row["curve"] != curve:
            continue
        network = LABELS.get(row["network"], row["network"].replace("_", " "))
        if len(groups) == 1:
            label = network
        else:  # a group's own rounds are named by the group (reset=init, reset=reinit)
            own = row["network"] not in CONTROL_NAMES
            label = row["group"] if own else f"{row['group']}: {network}"
        curve_data = series.setdefault(label, {"density": [], "mean": []} | (
            {"std": []} if band == "std" else {"low": [], "high": []}))
        curve_data["density"].append(row["density"])
        curve_data["mean"].append(row["mean"])
        if band == "std":
            curve_data["std"].append(row["std"])
        else:
            curve_data["low"].append(row["min"])
            curve_data["high"].append(row["max"])
    return series


def plot_aggregate(rows: list[dict], out_dir, *, band: str = "std", title: str = "") -> list[Path]:
    """One PNG per curve in ``out_dir`` (the names in CURVES), with the spread as ``band``."""
    seeds = max((row["n"] for row in rows), default=0)
    spread = "mean ± std" if band == "std" else "mean, min to max"
    title = f"{title}\n{spread} over {seeds} seeds" if title else f"{spread} over {seeds} seeds"
    paths = []
    for curve, (ylabel, filename) in CURVES.items():
        series = series_for(rows, curve, band)
        if series:
            paths.append(plot_series(series, Path(out_dir) / filename, ylabel=ylabel,
                                     title=title, percent_y=curve != "early_stop_iteration"))
    return paths


def aggregate_sweep(sweep_dir, *, band: str = "std") -> tuple[str, list[Path]]:
    """Write aggregate.csv and the sweep_*.png plots in ``sweep_dir``; (table, paths)."""
    sweep_dir = Path(sweep_dir)
    manifest, results = read_sweep(sweep_dir)
    if not results:
        raise ValueError(f"sweep directory {sweep_dir}: no run has finished a round yet")
    rows = aggregate_runs(manifest, results)
    titles = {run_title(r).split(":")[0] for r in results.values()}
    title = titles.pop() if len(titles) == 1 else ""
    paths = [write_csv(rows, sweep_dir / CSV_FILE)]
    paths += plot_aggregate(rows, sweep_dir, band=band, title=title)
    return aggregate_table(rows), paths
