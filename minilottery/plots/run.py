"""The figures of one lottery run: accuracy and early stopping against the weights
remaining, the training curves of chosen rounds, and the density of each layer.

The layout follows Frankle & Carbin's Figures 1, 3 and 4 (docs/papers.md);
the drawing is base.py's. These functions read results and never train.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, FuncFormatter, LogLocator, NullFormatter

from .base import (
    PLOT_FILES,
    STYLES,
    _value,  # the one reading of a record's value, shared with base
    check_results,
    draw_series,
    history_columns,
    network_label,
    networks,
    new_figure,
    percent_label,
    records_series,
    run_title,
    save_figure,
)
from .cost import plot_cost
from .overlap import cycle_style, hollow, same_as


def _run_series(results, key: str) -> tuple[dict, dict]:
    series, styles = {}, {}
    for name, records in networks(results).items():
        label = network_label(name, results)
        series[label] = records_series(records, key)
        styles[label] = STYLES.get(name, {"marker": "o"})
    return series, styles


def build_accuracy_vs_density(results) -> Figure:
    """Two panels: test accuracy at early stop and at the end of training, vs density."""
    figure, axes = new_figure(2)
    panels = [("early_stop_test_accuracy", "test accuracy at early stop (%)"),
              ("final_test_accuracy", "test accuracy at end of training (%)")]
    for ax, (key, ylabel) in zip(axes, panels, strict=True):
        series, styles = _run_series(results, key)
        draw_series(ax, series, styles=styles)
        ax.set_xlabel("weights remaining (%)")
        ax.set_ylabel(ylabel)
    seed = (results.get("config") or {}).get("seed")
    one_run = ("" if seed is None else f"\none run (seed {seed}): no spread shown; "
               "`minilottery lottery --seeds N` draws the mean and spread over N seeds")
    figure.suptitle(run_title(results) + one_run, fontsize="medium")
    return figure


def build_early_stop_vs_density(results) -> Figure:
    """The early-stopping iteration (minimum validation loss) vs density."""
    figure, (ax,) = new_figure()
    series, styles = _run_series(results, "early_stop_iteration")
    draw_series(ax, series, percent_y=False, styles=styles)
    # From 0 to the end of training: a point at the top line never stopped early
    iterations = (results.get("config") or {}).get("iterations")
    if iterations:
        ax.axhline(iterations, color="grey", linestyle=":", zorder=1,
                   label=f"end of training ({iterations}): no early stop")
        ax.legend(loc="lower left", fontsize="small")
        ax.set_ylim(0, 1.08 * iterations)
    else:
        ax.set_ylim(bottom=0)
    ax.set_xlabel("weights remaining (%)")
    ax.set_ylabel("early-stop iteration (min. validation loss)")
    ax.set_title(run_title(results), fontsize="medium")
    return figure


def default_rounds(results, count: int = 5) -> list[int]:
    """Round 0 and up to ``count - 1`` more spread evenly up to the last round."""
    available = [r["round"] for r in check_results(results)]
    picks = np.linspace(0, len(available) - 1, num=min(count, len(available)))
    return [available[i] for i in sorted({int(round(p)) for p in picks})]


def build_training_curves(results, rounds=None) -> Figure:
    """Test accuracy over the iterations of training for the chosen ticket rounds: the
    whole curve from 0% (left), and the same curves with the y axis fitted to their
    last 90% of training, where the rounds differ (right)."""
    by_round = {r["round"]: r for r in check_results(results)}
    rounds = default_rounds(results) if rounds is None else list(rounds)
    missing = [r for r in rounds if r not in by_round]
    if missing or not rounds:
        raise ValueError(f"rounds: got {rounds}, expected rounds of this run "
                         f"({sorted(by_round)})")
    figure, axes = new_figure(2, width=5.0)
    late = []
    for index, round_index in enumerate(rounds):
        record = by_round[round_index]
        columns = history_columns(record.get("history") or [])
        x = np.array(columns.get("iteration", []), dtype=np.float64)
        y = 100.0 * np.array([math.nan if v is None else v
                              for v in columns.get("test_accuracy", [])], dtype=np.float64)
        style = {**cycle_style(index), "markersize": 3, "marker": "."}
        label = f"round {round_index}: {percent_label(100 * _value(record, 'density'))}%"
        for ax in axes:
            ax.plot(x, y, label=label, **style)
        if x.size:
            late.extend(y[(x >= 0.1 * x.max()) & np.isfinite(y)].tolist())
    axes[0].set_ylim(0, 100)
    axes[0].set_title("the whole curve", fontsize="medium")
    if late:
        span = max(late) - min(late)
        axes[1].set_ylim(max(0.0, min(late) - 0.1 * span - 0.5),
                         min(100.5, max(late) + 0.1 * span + 0.5))
    axes[1].set_title("zoomed on the last 90% of training", fontsize="medium")
    for ax in axes:
        ax.set_xlabel("training iteration")
        ax.set_ylabel("test accuracy (%)")
        ax.grid(True, alpha=0.3)
    axes[0].legend(title="round: weights remaining", loc="lower right", fontsize="small",
                   title_fontsize="small")
    figure.suptitle(run_title(results), fontsize="medium")
    return figure


def layer_labels(results) -> dict[str, str]:
    """Parameter name -> what the layer is, from the weight shapes in the run's meta:
    "fc1 784x300" (in x out), "conv3 64x128 3x3" (channels in x out, kernel), and
    "output 100x10" for a last Linear layer. Runs stored without shapes keep the names."""
    names = list(dict.fromkeys(name for r in check_results(results)
                               for name in r.get("layer_density", {})))
    shapes = (results.get("meta") or {}).get("weight_shapes") or {}
    labels, counts = {}, {"fc": 0, "conv": 0}
    for name in names:
        shape = shapes.get(name)
        if shape is not None and len(shape) == 2:
            kind = "output" if name == names[-1] else "fc"
            if kind == "fc":
                counts["fc"] += 1
                kind = f"fc{counts['fc']}"
            labels[name] = f"{kind} {shape[1]}x{shape[0]}"  # Linear weights are (out, in)
        elif shape is not None and len(shape) == 4:
            counts["conv"] += 1
            labels[name] = f"conv{counts['conv']} {shape[1]}x{shape[0]} {shape[2]}x{shape[3]}"
        else:
            labels[name] = name
    return labels


def build_layer_density(results) -> Figure:
    """Percent of each layer's weights remaining at each round (log scale).

    Layers pruned at the same rate have equal lines: the later one is drawn
    hollow and dashed over the first, and its legend says "same as".
    """
    rounds = check_results(results)
    labels = layer_labels(results)
    many = len(labels) > 8  # VGG-19 has 17 layers: their legend goes beside the axes
    figure, (ax,) = new_figure(width=9.5 if many else 6.0, height=5.0 if many else 4.0)
    x = [r["round"] for r in rounds]
    lowest = 100.0
    drawn = []
    for index, (name, label) in enumerate(labels.items()):
        y = [100 * _value(r.get("layer_density", {}), name) for r in rounds]
        lowest = min([lowest] + [v for v in y if math.isfinite(v)])
        style = cycle_style(index)
        same = same_as(x, y, drawn)
        ax.plot(x, y, label=f"{label} (same as {same.split()[0]})" if same else label,
                **(hollow(style) if same else style))
        drawn.append((label, np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)))
    y = [100 * _value(r, "density") for r in rounds]
    same = same_as(x, y, drawn)
    ax.plot(x, y, color="black", linestyle=":", linewidth=1.5, zorder=5,  # over the layers
            label=f"all layers (same as {same.split()[0]})" if same else "all layers")
    ax.set_yscale("log")
    # Labels at 1, 2, 5 x 10^k; at every integer multiple when less than a decade is shown
    subs = (1.0, 2.0, 5.0) if lowest < 20 else tuple(float(k) for k in range(1, 10))
    ax.yaxis.set_major_locator(LogLocator(base=10, subs=subs))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda p, _: f"{p:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.xaxis.set_major_locator(FixedLocator(x) if len(x) <= 20 else
                               FixedLocator(x[::math.ceil(len(x) / 20)]))
    ax.set_xlabel("pruning round")
    ax.set_ylabel("weights remaining in the layer (%, log scale)")
    ax.set_title(run_title(results), fontsize="medium")
    ax.grid(True, which="both", alpha=0.3)
    placement = (dict(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)
                 if many else dict(loc="best"))
    ax.legend(fontsize="x-small" if many else "small", title_fontsize="small",
              title="layer: inputs x outputs\n(conv: channels, kernel)", **placement)
    return figure


def plot_accuracy_vs_density(results, path) -> Path:
    """Save the accuracy-vs-density figure (early stop and end of training) as a PNG."""
    return save_figure(build_accuracy_vs_density(results), path)


def plot_early_stop_vs_density(results, path) -> Path:
    """Save the early-stop-iteration-vs-density figure as a PNG."""
    return save_figure(build_early_stop_vs_density(results), path)


def plot_training_curves(results, path, rounds=None) -> Path:
    """Save test accuracy over training for ``rounds`` (default: 0 and a few up to the last)."""
    return save_figure(build_training_curves(results, rounds), path)


def plot_layer_density(results, path) -> Path:
    """Save the per-layer density of every round as a PNG."""
    return save_figure(build_layer_density(results), path)


def plot_run(results, out_dir) -> list[Path]:
    """Write accuracy.png, early_stop.png, training.png and layer_density.png in ``out_dir``,
    and cost.png (accuracy against cost, plots/cost.py) when the records have costs.

    Works on a run in progress (only round 0, or controls behind the ticket).
    ``run_lottery`` draws nothing; from Python, after it::

        results = run_lottery(config, "runs/mine")
        plot_run(results, "runs/mine")    # or plot_run_dir("runs/mine")
    """
    check_results(results)
    out_dir = Path(out_dir)
    writers = (plot_accuracy_vs_density, plot_early_stop_vs_density, plot_training_curves,
               plot_layer_density)
    paths = [write(results, out_dir / name)
             for write, name in zip(writers, PLOT_FILES, strict=True)]
    if any(r.get("cost") for r in results["rounds"]):
        paths.append(plot_cost(results, out_dir / "cost.png"))
    return paths


def plot_run_dir(run_dir) -> list[Path]:
    """Draw the figures of the lottery run stored in ``run_dir`` (its results.json), in
    ``run_dir``; ValueError when no round has finished yet."""
    from ..runs import RunDirectory

    directory = RunDirectory(run_dir)
    results = directory.load_results()
    if not results.get("rounds"):
        raise ValueError(f"run_dir: {run_dir} has no finished round yet, expected a run with "
                         "at least round 0 done")
    return plot_run(results, directory.path)
