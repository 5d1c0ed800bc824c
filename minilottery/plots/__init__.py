"""Figures (PNG) of stored results: they read results and never train.

base: figures, density axes and curves (the building blocks); run: the
figures of one lottery run; experiments: instability, pruning at
initialisation, supermasks, transfer; sweep: means and spreads over seeds.
"""

from matplotlib.figure import Figure

from .base import (
    DPI,
    LABELS,
    PLOT_FILES,
    SCOPE_WORDS,
    STYLES,
    TICK_RATIO,
    build_series,
    check_results,
    density_ticks,
    draw_series,
    format_density_axis,
    history_columns,
    network_label,
    networks,
    new_figure,
    percent_label,
    plot_series,
    records_series,
    run_title,
    save_figure,
)
from .cost import COST_AXES, build_cost, plot_cost
from .experiments import (
    plot_prune_at_init,
    plot_stability,
    plot_supermask,
    plot_transfer,
    transfer_series,
)
from .overlap import MARKERS, cycle_style, same_as
from .run import (
    build_accuracy_vs_density,
    build_early_stop_vs_density,
    build_layer_density,
    build_training_curves,
    default_rounds,
    layer_labels,
    plot_accuracy_vs_density,
    plot_early_stop_vs_density,
    plot_layer_density,
    plot_run,
    plot_run_dir,
    plot_training_curves,
)
from .sweep import aggregate_sweep, plot_aggregate, series_for

__all__ = [
    "COST_AXES", "DPI", "LABELS", "MARKERS", "PLOT_FILES", "SCOPE_WORDS", "STYLES",
    "TICK_RATIO", "Figure",
    "aggregate_sweep", "build_accuracy_vs_density", "build_cost", "build_early_stop_vs_density",
    "build_layer_density", "build_series", "build_training_curves", "check_results",
    "cycle_style", "same_as",
    "default_rounds", "density_ticks", "draw_series", "format_density_axis",
    "history_columns", "layer_labels", "network_label", "networks", "new_figure", "percent_label",
    "plot_accuracy_vs_density", "plot_aggregate", "plot_early_stop_vs_density",
    "plot_cost", "plot_layer_density", "plot_prune_at_init", "plot_run", "plot_run_dir",
    "plot_series",
    "plot_stability",
    "plot_supermask", "plot_training_curves", "plot_transfer", "records_series", "run_title",
    "save_figure", "series_for", "transfer_series",
]
