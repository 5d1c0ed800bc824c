"""The figures of the experiments beyond one lottery run: instability, pruning at
initialisation, supermasks, ticket transfer and sweeps over seeds.

They read results (as stored in a results.json) and never train; each draws
with base.py's building blocks.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..tables import TRANSFER_SERIES, supermask_variants, transfer_networks
from .base import draw_series, new_figure, plot_series, save_figure


def plot_stability(results: dict, out_dir) -> Path:
    """stability.png: test error along the line (one panel per variant, one curve per k),
    then the barrier against k (the threshold dashed; k on a symlog axis, ticks at each k)."""
    records = results["records"]
    variants = list(dict.fromkeys(r["variant"] for r in records))
    figure, axes = new_figure(len(variants) + 1, width=4.2, height=3.4)
    for ax, variant in zip(axes, variants, strict=False):
        for r in sorted((r for r in records if r["variant"] == variant), key=lambda r: r["k"]):
            ax.plot(r["alphas"], 100 * np.asarray(r["test_errors"]), marker=".",
                    label=f"k={r['k']}")
        ax.set(title=f"{variant} ({100 * r['density']:.1f}% weights)",
               xlabel="α: weights (1 - α)·A + α·B", ylabel="test error (%)")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    ax = axes[-1]
    for variant in variants:
        rs = sorted((r for r in records if r["variant"] == variant), key=lambda r: r["k"])
        ax.plot([r["k"] for r in rs], [100 * r["barrier"] for r in rs], marker="o",
                label=variant)
    ax.axhline(100 * results["meta"]["threshold"], color="grey", ls="--",
               label="threshold (stable below)")
    ks = sorted({r["k"] for r in records})
    if len(ks) > 1 and ks[-1] > 0:
        ax.set_xscale("symlog", linthresh=min(k for k in ks if k > 0))
    ax.set_xticks(ks, [str(k) for k in ks])
    ax.minorticks_off()
    ax.set(xlabel="rewind iteration k", ylabel="error barrier (%)", ylim=(0, None),
           title="barrier vs rewind point")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    figure.suptitle("Two copies A and B trained from the weights of iteration k with different "
                    "data orders; α moves along the line from A (0) to B (1).\nBarrier: the "
                    "highest error on that line minus the mean error of A and B.",
                    fontsize="small")
    return save_figure(figure, Path(out_dir) / "stability.png")


def plot_prune_at_init(results: dict, out_dir) -> Path:
    """Early-stop test accuracy against density: IMP, its controls and each method."""

    def series(records):
        records = sorted(records, key=lambda r: -r["density"])
        return {"density": [r["density"] for r in records],
                "mean": [r["early_stop_test_accuracy"] for r in records]}

    lines = {"IMP ticket": series(results["source"]["rounds"])}
    lines.update({f"{name.replace('_', ' ')} (control)": series(rs)
                  for name, rs in results["source"]["controls"].items() if rs})
    lines.update({name: series(rs) for name, rs in results["methods"].items() if rs})
    path = Path(out_dir) / "prune_at_init.png"
    plot_series(lines, path, ylabel="test accuracy at early stop (%)",
                title="pruning at initialisation vs IMP", log_x=True, percent_y=True)
    return path


def plot_supermask(results: dict, out_dir) -> Path:
    """Untrained test accuracy against density, one line per variant."""
    variants = supermask_variants(results)
    series = {}
    for variant in variants:
        rs = [r for r in results["rounds"] if variant in r["test_accuracy"]]
        series[variant.replace("_", " ")] = {
            "density": [r["density"] for r in rs],
            "mean": [r["test_accuracy"][variant] for r in rs]}
    path = Path(out_dir) / "supermask.png"
    plot_series(series, path, ylabel="test accuracy, no training (%)",
                title="supermasks: masks on the initial weights", log_x=True, percent_y=True)
    return path


def transfer_series(results, key: str = "early_stop_test_accuracy") -> dict:
    """The four curves of plot_series: label -> {"density": [...], "mean": [...]}."""
    series = {}
    dense = results.get("dense")
    for name, label in TRANSFER_SERIES:
        records = transfer_networks(results)[name]
        if name == "target_ticket" and dense:
            records = [dense] + list(records)  # IMP on the target starts from the dense net
        series[label] = {"density": [r["density"] for r in records],
                         "mean": [r.get(key) for r in records]}
    if dense and results["rounds"]:
        lowest = min(r["density"] for r in results["rounds"])
        series["dense network"] = {"density": [dense["density"], lowest],
                                   "mean": [dense.get(key)] * 2}
    return series


def plot_transfer(results, path, title: str | None = None) -> Path:
    """Test accuracy at early stop against weights remaining, for the four networks."""

    config = results["config"]
    if title is None:
        source = config["source_config"]
        title = (f"{source['model']}: {source['dataset']} ({source['optimizer']}) -> "
                 f"{config['dataset']} ({config['target_config']['optimizer']})")
    figure, (ax,) = new_figure()
    # The dense network is one number: a dashed line across the densities
    styles = {"dense network": {"color": "black", "linestyle": "--", "marker": ""}}
    draw_series(ax, transfer_series(results), styles=styles)
    ax.set_xlabel("weights remaining (%)")
    ax.set_ylabel("test accuracy at early stop (%)")
    ax.set_title(title, fontsize="medium")
    return save_figure(figure, path)
