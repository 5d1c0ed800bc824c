"""The cost figure of a lottery run: accuracy against what each network costs.

Three panels, one per measure of minilottery/cost.py: inference FLOPs with
zeros skipped, compression, and the training FLOPs spent to obtain the
trained network (its mask's search and its own training). It reads the
``cost`` of each record and never trains.
"""

from __future__ import annotations

from pathlib import Path

from matplotlib.ticker import NullFormatter

from .base import (
    STYLES,
    network_label,
    networks,
    new_figure,
    run_title,
    save_figure,
)

COST_AXES = {
    "inference_flops_sparse": "inference FLOPs per example, zeros skipped",
    "compression": "compression (weights / weights kept)",
    "total_flops": "training FLOPs to obtain it (search + own training)",
}


def build_cost(results, key: str = "early_stop_test_accuracy"):
    """The Figure ``plot_cost`` saves: ``key`` (%) against each of COST_AXES (log x)."""
    figure, axes = new_figure(len(COST_AXES), width=4.6)
    for ax, (measure, label) in zip(axes, COST_AXES.items(), strict=True):
        for name, records in networks(results).items():
            # in round order: a line from the dense network to the sparsest
            points = [(r["cost"][measure], 100 * r[key]) for r in records
                      if r.get("cost") and r.get(key) is not None]
            if not points:
                continue
            style = {k: v for k, v in STYLES.get(name, {"marker": "o"}).items()
                     if k in ("color", "marker")}
            ax.plot(*zip(*points, strict=True), label=network_label(name, results),
                    markersize=5, **style)
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())  # decades only: no overlapping labels
        ax.set(xlabel=label, ylabel="test accuracy at early stop (%)")
        ax.grid(alpha=0.3, which="both")
    axes[0].legend(fontsize=8)
    figure.suptitle(run_title(results) + "\nFLOPs = 2 x multiply-adds of the dense and "
                    "convolution layers (minilottery/cost.py)", fontsize="medium")
    return figure


def plot_cost(results, path) -> Path:
    """cost.png: the test accuracy of the ticket and of each control against its inference
    FLOPs, its compression and the training FLOPs it took to obtain."""
    return save_figure(build_cost(results), Path(path))
