"""The building blocks of every figure: a figure, a density axis, curves against density.

The figures follow Frankle & Carbin (docs/papers.md, Figures 1, 3 and 4):
the x axis is the percent of weights remaining, on a log scale that runs from
100 down to the sparsest network (so training left to right reads as pruning
further), with a tick at each density the run reached (100, 51.3, 26.3, ...).
The winning ticket is drawn beside its controls (random reinitialisation and
random pruning at the same density).

Every figure is built by a ``build_*`` function that returns a
``matplotlib.figure.Figure`` with its own Agg canvas. Pyplot is never
imported: there is no global figure state, so plotting is safe from threads,
subprocesses and servers, and a user's own matplotlib backend is left alone.
A thin ``plot_*`` wrapper renders the figure to PNG and writes it atomically
(temporary file in the same directory, then a rename), so a run interrupted
while plotting never leaves a half-written image.

``plot_series`` is the general building block: other experiments (transfer,
sweeps over seeds, pruning baselines) pass it their own curves.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

from ..config import retrain_words
from ..runs import atomic_write_bytes
from .overlap import cycle_style, hollow, same_as

DPI = 110
TICK_RATIO = 1.1  # the closest two labelled densities may be on the log axis
# One colour and marker per kind of network, the same in every figure
# (the ticket smallest and on top: where points coincide, the three nest and all show)
STYLES = {
    "ticket": {"color": "C0", "marker": "o", "markersize": 5, "zorder": 3},
    "reinit": {"color": "C1", "marker": "s", "markersize": 8.5, "zorder": 2.1},
    "random_prune": {"color": "C2", "marker": "^", "markersize": 7.5, "zorder": 2.2},
}
LABELS = {"ticket": "winning ticket", "reinit": "random reinit",
          "random_prune": "random pruning"}
SCOPE_WORDS = {"layer": "layer-wise", "global": "global"}
PLOT_FILES = ("accuracy.png", "early_stop.png", "training.png", "layer_density.png")


# -- figures and files --------------------------------------------------------------------

def new_figure(ncols: int = 1, *, width: float = 5.5, height: float = 4.0):
    """A Figure with an Agg canvas and ``ncols`` panels side by side: (figure, axes list)."""
    figure = Figure(figsize=(width * ncols, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(1, ncols, squeeze=False)[0]
    return figure, list(axes)


def save_figure(figure: Figure, path) -> Path:
    """Render ``figure`` as PNG and write it to ``path`` atomically."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return atomic_write_bytes(path, buffer.getvalue())


# -- reading results ----------------------------------------------------------------------

def check_results(results) -> list[dict]:
    """The ticket rounds of ``results``; ValueError when they are missing or empty."""
    if not isinstance(results, Mapping):
        raise ValueError(f"results: got {type(results).__name__}, expected the dict of a "
                         "results.json")
    if "rounds" not in results:
        raise ValueError(f"results: no 'rounds' key (keys: {sorted(results)}), expected "
                         "{'config': ..., 'rounds': [...], 'controls': {...}}")
    rounds = results["rounds"]
    if not isinstance(rounds, list) or not rounds:
        raise ValueError(f"results['rounds']: got {rounds!r:.60}, expected a non-empty list "
                         "of round records (no round has finished yet?)")
    return rounds


def networks(results) -> dict[str, list[dict]]:
    """{"ticket": rounds, "reinit": [...], "random_prune": [...]}, empty controls left out.

    The controls start at round 1; at 100% every network is the dense one, so
    each control's line is drawn from round 0's point.
    """
    rounds = check_results(results)
    out = {"ticket": rounds}
    for name, records in (results.get("controls") or {}).items():
        if records:
            has_dense = any(c.get("round") == 0 for c in records)
            dense = [] if has_dense else [r for r in rounds if r.get("round") == 0]
            out[name] = dense + list(records)
    return out


def network_label(name: str, results) -> str:
    config = results.get("config") or {}
    if name == "ticket" and retrain_words(config):
        return f"IMP ({retrain_words(config)})"  # trained weights kept: not a ticket
    if name == "ticket" and config.get("reset", "init") != "init":
        reset = config["reset"]
        if reset == "rewind" and config.get("rewind_iteration") is not None:
            reset = f"rewind to iteration {config['rewind_iteration']:g}"
        return f"ticket ({reset})"
    return LABELS.get(name, name.replace("_", " "))


def run_title(results) -> str:
    config = results.get("config") or {}
    if not config:
        return ""
    scope = config.get("scope", "")
    retrain = retrain_words(config) or f"reset {config.get('reset', '?')}"
    return (f"{config.get('model', '?')} on {config.get('dataset', '?')}: "
            f"{config.get('strategy', '')} {SCOPE_WORDS.get(scope, scope)} pruning, "
            f"{retrain}")


def _value(record: dict, key: str) -> float:
    value = record.get(key)
    return math.nan if value is None else float(value)


def records_series(records: Sequence[dict], key: str) -> dict[str, list[float]]:
    """{"density": [...], "mean": [...]} of one field of a list of round records."""
    return {"density": [_value(r, "density") for r in records],
            "mean": [_value(r, key) for r in records]}


def history_columns(history) -> dict[str, list]:
    """A training history as columns, from a list of evaluations or a dict of lists."""
    if isinstance(history, Mapping):
        return {key: list(values) for key, values in history.items()}
    keys = history[0].keys() if history else ()
    return {key: [h.get(key) for h in history] for key in keys}


# -- the density axis ---------------------------------------------------------------------

def percent_label(percent: float) -> str:
    """100 -> '100', 51.34 -> '51.3', 0.354 -> '0.35'."""
    if percent >= 99.95:
        return "100"
    return f"{percent:.1f}" if percent >= 1 else f"{percent:.2g}"


def density_ticks(percents: Sequence[float], max_ticks: int = 9,
                  preferred: Sequence[float] = ()) -> list[float]:
    """The densities to label: the largest, then each one far enough (in log) from the last.

    A density within a factor 1.1 of one of ``preferred`` (the first curve's,
    whose numbers the run's table prints) gives way to it, so a tick never
    reads 34.2 where the table's row says 34.1.

    Up to ``max_ticks`` densities are all labelled, unless two are within a
    factor of 1.1 (their labels would overlap). With more, neighbouring ticks
    are at least a factor (largest / smallest) ** (1 / (max_ticks - 1)) apart.
    The largest and the smallest density are always labelled, so when no
    density is that far from the largest, those two are the ticks, however close.
    """
    first = [p for p in preferred if p > 0 and math.isfinite(p)]
    keep = first + [p for p in percents if p > 0 and math.isfinite(p)
                    and all(max(p, q) / min(p, q) >= TICK_RATIO for q in first)]
    values = sorted({round(p, 9): p for p in keep}.values(), reverse=True)
    if len(values) <= 2:
        return values
    ratio = TICK_RATIO
    if len(values) > max_ticks:
        ratio = max(ratio, (values[0] / values[-1]) ** (1 / (max_ticks - 1)))
    ticks = [values[0]]
    for value in values[1:-1]:
        if ticks[-1] / value >= ratio:
            ticks.append(value)
    if ticks[-1] / values[-1] < ratio and len(ticks) > 1:
        ticks.pop()  # too close to the smallest, which wins
    return ticks + [values[-1]]


def format_density_axis(ax, percents: Sequence[float], *, log_x: bool = True,
                        preferred: Sequence[float] = ()) -> None:
    """Percent remaining from 100 down to the sparsest, ticks at the densities reached
    (``preferred``'s where two are close, density_ticks)."""
    finite = [p for p in percents if math.isfinite(p)]
    if not finite:
        return
    high, low = max(finite), min(finite)
    if log_x:
        ax.set_xscale("log")
        ax.set_xlim(high * 1.15, low / 1.15)  # inverted: pruning further goes right
        ax.xaxis.set_major_locator(FixedLocator(density_ticks(finite, preferred=preferred)))
        ax.xaxis.set_minor_locator(NullLocator())
    else:
        margin = max(0.05 * (high - low), 1.0)
        ax.set_xlim(high + margin, low - margin)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda p, _: percent_label(p)))


# -- the general curve plot ---------------------------------------------------------------

def _column(series: Mapping, label: str, key: str, length: int | None) -> np.ndarray:
    try:
        values = np.array([math.nan if v is None else v for v in series[key]],
                          dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"series[{label!r}][{key!r}]: got {series[key]!r:.80}, expected a "
                         "list of numbers") from None
    if values.ndim != 1 or (length is not None and len(values) != length):
        raise ValueError(f"series[{label!r}][{key!r}]: got {values.size} values, expected "
                         f"{length}, one per density")
    return values


def draw_series(ax, series: Mapping[str, Mapping], *, log_x: bool = True,
                percent_y: bool = True, styles: Mapping[str, Mapping] | None = None) -> None:
    """Draw each series on ``ax`` as markers and lines, with its band or error bars.

    ``series`` is as in ``plot_series``. Points are joined in order of
    decreasing density; missing values (None or NaN) are skipped. Each line
    has its own marker and dash (overlap.py); one equal to an earlier one is
    drawn hollow over it and its legend says "same as ...".
    """
    if not isinstance(series, Mapping) or not series:
        raise ValueError(f"series: got {series!r:.80}, expected a non-empty dict of "
                         "label -> {'density': [...], 'mean': [...]}")
    scale = 100.0 if percent_y else 1.0
    percents, drawn, preferred = [], [], None
    for index, (label, curve) in enumerate(series.items()):
        if not isinstance(curve, Mapping) or not {"density", "mean"} <= set(curve):
            raise ValueError(f"series[{label!r}]: got {curve!r:.80}, expected a dict with "
                             "'density' and 'mean' (optional 'std', or 'low' and 'high')")
        if ("low" in curve) != ("high" in curve):
            raise ValueError(f"series[{label!r}]: has only one of 'low' and 'high', "
                             "expected both or neither")
        density = _column(curve, label, "density", None)
        lowest = 0.0 if not log_x else np.finfo(np.float64).tiny
        if np.any((density < lowest) | (density > 1)):
            raise ValueError(f"series[{label!r}]['density']: got {density.tolist()}, expected "
                             f"fractions of weights remaining in {'(0' if log_x else '[0'}, 1]")
        n = len(density)
        order = np.argsort(-density, kind="stable")
        x = 100.0 * density[order]
        mean = scale * _column(curve, label, "mean", n)[order]
        keep = np.isfinite(mean)
        style = dict((styles or {}).get(label) or cycle_style(index))
        style.setdefault("markersize", 5)
        # equal means are not one line when the spreads (the seeds' points) differ
        spread = [scale * _column(curve, label, key, n)[order][keep]
                  for key in ("std", "low", "high") if key in curve]
        points = np.stack([mean[keep], *spread])
        same = same_as(x[keep], points, drawn)
        ax.plot(x[keep], mean[keep], label=f"{label} (same as {same})" if same else str(label),
                **(hollow(style) if same else style))
        drawn.append((str(label), x[keep], points))
        color = ax.lines[-1].get_color()
        if "std" in curve:
            std = scale * _column(curve, label, "std", n)[order]
            ok = keep & np.isfinite(std)
            ax.fill_between(x[ok], (mean - std)[ok], (mean + std)[ok], color=color,
                            alpha=0.2, linewidth=0)
        if "low" in curve:
            # Error bars from the minimum to the maximum, as the paper draws them
            low = scale * _column(curve, label, "low", n)[order]
            high = scale * _column(curve, label, "high", n)[order]
            ok = keep & np.isfinite(low) & np.isfinite(high)
            ax.errorbar(x[ok], mean[ok], yerr=[mean[ok] - low[ok], high[ok] - mean[ok]],
                        fmt="none", ecolor=color, elinewidth=1, capsize=3)
        percents.extend(x.tolist())
        preferred = x.tolist() if preferred is None else preferred
    format_density_axis(ax, percents, log_x=log_x, preferred=preferred)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best", fontsize="small")


def build_series(series, *, ylabel="test accuracy (%)", title=None,
                 xlabel="weights remaining (%)", log_x=True, percent_y=True) -> Figure:
    """The Figure ``plot_series`` saves."""
    figure, (ax,) = new_figure()
    draw_series(ax, series, log_x=log_x, percent_y=percent_y)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    return figure


def plot_series(series, path, *, ylabel="test accuracy (%)", title=None,
                xlabel="weights remaining (%)", log_x=True, percent_y=True) -> Path:
    """Plot curves against the percent of weights remaining and save a PNG at ``path``.

    ``series`` maps a legend label to a dict of equal-length lists:

    - ``"density"``: fractions of weights remaining in (0, 1] (shown as percent,
      100 on the left, decreasing to the right);
    - ``"mean"``: the values (fractions when ``percent_y``, shown as percent);
    - optional ``"std"``: a shaded band from mean - std to mean + std;
    - optional ``"low"`` and ``"high"``: error bars from min to max, as
      Frankle & Carbin draw the spread over their trials.

    None or NaN values are skipped. ``log_x=False`` gives a linear percent axis.
    Returns the path written.
    """
    figure = build_series(series, ylabel=ylabel, title=title, xlabel=xlabel, log_x=log_x,
                          percent_y=percent_y)
    return save_figure(figure, path)
