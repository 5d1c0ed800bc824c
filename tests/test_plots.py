"""Plots: each writes a valid PNG atomically, draws the data it is given, refuses bad input."""

from __future__ import annotations

import subprocess
import sys
from itertools import pairwise

import matplotlib.image
import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from minilottery import plots

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def make_history(final: float, iterations: int = 100, every: int = 20) -> list[dict]:
    steps = list(range(0, iterations + 1, every))
    return [{"iteration": i, "train_loss": None if i == 0 else 1.0 / (1 + i),
             "val_loss": 1.0 / (1 + i), "val_accuracy": final * i / iterations,
             "test_loss": 1.0 / (1 + i), "test_accuracy": 0.1 + (final - 0.1) * i / iterations}
            for i in steps]


def make_record(round_index: int, accuracy: float, early_stop: int, **extra) -> dict:
    density = 0.8 ** round_index
    return {"round": round_index, "density": density,
            "layer_density": {"fc1.weight": density, "fc2.weight": density ** 1.2,
                              "out.weight": 0.9 ** round_index},
            "final_test_accuracy": accuracy - 0.01, "early_stop_iteration": early_stop,
            "early_stop_test_accuracy": accuracy, "history": make_history(accuracy), **extra}


def make_results(rounds: int = 5, reinit: int | None = None, random_prune: int | None = None):
    """A results dict shaped like results.json: ticket rounds 0..rounds-1, shorter controls."""
    reinit = rounds - 1 if reinit is None else reinit
    random_prune = rounds - 1 if random_prune is None else random_prune
    return {
        "config": {"model": "lenet300", "dataset": "digits", "strategy": "iterative",
                   "scope": "layer", "reset": "init"},
        "meta": {"seed": 0},
        "rounds": [make_record(k, 0.95 + 0.005 * k, 60 - 10 * k) for k in range(rounds)],
        "controls": {
            "reinit": [make_record(k, 0.93 - 0.01 * k, 80 + 5 * k, control="reinit")
                       for k in range(1, reinit + 1)],
            "random_prune": [make_record(k, 0.92 - 0.02 * k, 70, control="random_prune")
                             for k in range(1, random_prune + 1)],
        },
    }


def assert_png(path) -> None:
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100
    # Not a blank canvas: something was drawn
    assert image[..., :3].std() > 0.01


def line(ax, label: str):
    matches = [ln for ln in ax.get_lines() if ln.get_label() == label]
    assert len(matches) == 1, [ln.get_label() for ln in ax.get_lines()]
    return matches[0]


WRITERS = [plots.plot_accuracy_vs_density, plots.plot_early_stop_vs_density,
           plots.plot_training_curves, plots.plot_layer_density]


@pytest.mark.parametrize("write", WRITERS, ids=lambda f: f.__name__)
def test_each_plot_writes_a_valid_png(write, tmp_path):
    path = write(make_results(), tmp_path / "figure.png")
    assert path == tmp_path / "figure.png"
    assert_png(path)


def test_plot_run_writes_the_four_files_and_no_temporary_file(tmp_path):
    paths = plots.plot_run(make_results(), tmp_path / "run")
    assert [p.name for p in paths] == list(plots.PLOT_FILES)
    for path in paths:
        assert_png(path)
    # The atomic writes renamed every temporary file away
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == sorted(plots.PLOT_FILES)


def test_plot_run_redraws_over_old_plots(tmp_path):
    plots.plot_run(make_results(rounds=1), tmp_path)
    before = (tmp_path / "accuracy.png").read_bytes()
    plots.plot_run(make_results(rounds=4), tmp_path)
    assert (tmp_path / "accuracy.png").read_bytes() != before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(plots.PLOT_FILES)


@pytest.mark.parametrize("rounds, reinit, random_prune", [(1, 0, 0), (4, 3, 1), (3, 0, 2)])
def test_plot_run_on_a_partial_run(rounds, reinit, random_prune, tmp_path):
    results = make_results(rounds, reinit, random_prune)
    for path in plots.plot_run(results, tmp_path):
        assert_png(path)
    labels = [ln.get_label() for ln in plots.build_accuracy_vs_density(results).axes[0].lines]
    assert ("random reinit" in labels) == (reinit > 0)
    assert ("random pruning" in labels) == (random_prune > 0)


def test_a_failed_plot_leaves_the_old_file(tmp_path, monkeypatch):
    path = plots.plot_layer_density(make_results(), tmp_path / "layers.png")
    before = path.read_bytes()

    def broken_render(*args, **kwargs):
        raise RuntimeError("render failed")

    monkeypatch.setattr(plots.Figure, "savefig", broken_render)
    with pytest.raises(RuntimeError, match="render failed"):
        plots.plot_layer_density(make_results(rounds=2), path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["layers.png"]


def test_an_interrupted_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = plots.plot_early_stop_vs_density(make_results(), tmp_path / "early.png")
    before = path.read_bytes()

    def interrupted(src, dst):
        raise KeyboardInterrupt  # between writing the temporary file and the rename

    monkeypatch.setattr("minilottery.runs.os.replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        plots.plot_early_stop_vs_density(make_results(rounds=2), path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["early.png"]


def test_accuracy_figure_plots_the_given_data():
    results = make_results(rounds=4, reinit=3, random_prune=2)
    figure = plots.build_accuracy_vs_density(results)
    early, final = figure.axes[:2]
    rounds = results["rounds"]
    for ax, key in [(early, "early_stop_test_accuracy"), (final, "final_test_accuracy")]:
        ticket = line(ax, "winning ticket")
        np.testing.assert_allclose(ticket.get_xdata(), [100 * r["density"] for r in rounds])
        np.testing.assert_allclose(ticket.get_ydata(), [100 * r[key] for r in rounds])
        # Controls start at the dense network of round 0, then their own rounds
        for label, name in [("random reinit", "reinit"), ("random pruning", "random_prune")]:
            records = [rounds[0]] + results["controls"][name]
            control = line(ax, label)
            np.testing.assert_allclose(control.get_xdata(),
                                       [100 * r["density"] for r in records])
            np.testing.assert_allclose(control.get_ydata(), [100 * r[key] for r in records])
        # Log scale, 100 on the left, a tick at every density
        assert ax.get_xscale() == "log"
        left, right = ax.get_xlim()
        assert left > 100 > right > 0
        ticks = sorted(ax.get_xticks(), reverse=True)
        np.testing.assert_allclose(ticks, [100 * r["density"] for r in rounds], rtol=1e-6)


def test_early_stop_figure_plots_iterations():
    results = make_results(rounds=3)
    ax = plots.build_early_stop_vs_density(results).axes[0]
    np.testing.assert_array_equal(line(ax, "winning ticket").get_ydata(), [60, 50, 40])
    np.testing.assert_array_equal(line(ax, "random reinit").get_ydata(), [60, 85, 90])


def test_training_curves_plot_the_history_of_the_chosen_rounds():
    results = make_results(rounds=4)
    ax = plots.build_training_curves(results, rounds=[0, 3]).axes[0]
    assert len(ax.get_lines()) == 2
    curve = line(ax, "round 3: 51.2%")
    history = results["rounds"][3]["history"]
    np.testing.assert_allclose(curve.get_xdata(), [h["iteration"] for h in history])
    np.testing.assert_allclose(curve.get_ydata(), [100 * h["test_accuracy"] for h in history])


def test_training_curves_accept_a_history_of_columns():
    results = make_results(rounds=2)
    history = results["rounds"][1]["history"]
    results["rounds"][1]["history"] = {key: [h[key] for h in history] for key in history[0]}
    ax = plots.build_training_curves(results, rounds=[1]).axes[0]
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(),
                               [100 * h["test_accuracy"] for h in history])


def test_training_curves_default_rounds_span_the_run():
    assert plots.default_rounds(make_results(rounds=1)) == [0]
    assert plots.default_rounds(make_results(rounds=3)) == [0, 1, 2]
    picked = plots.default_rounds(make_results(rounds=12))
    assert picked[0] == 0 and picked[-1] == 11 and len(picked) == 5


def test_training_curves_refuse_unknown_rounds():
    with pytest.raises(ValueError, match=r"rounds: got \[0, 7\].*\[0, 1, 2\]"):
        plots.build_training_curves(make_results(rounds=3), rounds=[0, 7])


def test_layer_density_plots_one_line_per_layer():
    results = make_results(rounds=4)
    ax = plots.build_layer_density(results).axes[0]
    assert ax.get_yscale() == "log"
    for name in ["fc1.weight", "fc2.weight", "out.weight"]:
        curve = line(ax, name)
        np.testing.assert_allclose(curve.get_xdata(), [0, 1, 2, 3])
        np.testing.assert_allclose(curve.get_ydata(),
                                   [100 * r["layer_density"][name] for r in results["rounds"]])
    # fc1 is pruned exactly as the whole network here: the legend says so
    np.testing.assert_allclose(line(ax, "all layers (same as fc1.weight)").get_ydata(),
                               [100 * 0.8 ** k for k in range(4)])


def test_layer_density_names_layers_by_what_they_are():
    results = make_results(rounds=3)
    results["meta"]["weight_shapes"] = {"fc1.weight": [300, 784], "fc2.weight": [100, 300],
                                        "out.weight": [10, 100]}
    assert plots.layer_labels(results) == {"fc1.weight": "fc1 784x300",
                                           "fc2.weight": "fc2 300x100",
                                           "out.weight": "output 100x10"}
    ax = plots.build_layer_density(results).axes[0]
    assert {"fc1 784x300", "fc2 300x100", "output 100x10"} <= {
        ln.get_label() for ln in ax.get_lines()}
    conv = {"meta": {"weight_shapes": {"0.weight": [64, 3, 3, 3], "2.weight": [128, 64, 3, 3],
                                       "5.weight": [256, 8192], "7.weight": [10, 256]}},
            "rounds": [{"round": 0, "density": 1.0, "layer_density": dict.fromkeys(
                ["0.weight", "2.weight", "5.weight", "7.weight"], 1.0)}]}
    assert list(plots.layer_labels(conv).values()) == [
        "conv1 3x64 3x3", "conv2 64x128 3x3", "fc1 8192x256", "output 256x10"]
    # A results.json stored before the shapes were kept still draws, with the names
    assert plots.layer_labels(make_results(rounds=2))["fc1.weight"] == "fc1.weight"


def test_equal_layers_stay_visible_and_are_named():
    """Two layers pruned at one rate have one line: the second is drawn hollow over the
    first and its legend says which it repeats (before, one line hid the other)."""
    results = make_results(rounds=3)
    for record in results["rounds"]:
        record["layer_density"]["fc2.weight"] = record["layer_density"]["fc1.weight"]
    ax = plots.build_layer_density(results).axes[0]
    first, second = line(ax, "fc1.weight"), line(ax, "fc2.weight (same as fc1.weight)")
    assert second.get_markerfacecolor() == "none" and second.get_zorder() > first.get_zorder()
    assert second.get_marker() != first.get_marker()


def test_equal_series_are_named_in_the_legend():
    figure = plots.build_series({"a": {"density": [1, 0.5], "mean": [0.9, 0.8]},
                                 "b": {"density": [1, 0.5], "mean": [0.9, 0.8]},
                                 "c": {"density": [1, 0.5], "mean": [0.9, 0.7]}})
    labels = [ln.get_label() for ln in figure.axes[0].get_lines()]
    assert labels == ["a", "b (same as a)", "c"]


def test_density_ticks_read_as_the_first_curve():
    """Two runs at 34.1% and 34.2%: the tick is the first (baseline) curve's, the number its
    table prints, not the other run's (a tick read 34.2 where the table said 34.1)."""
    ticks = plots.density_ticks([100, 34.14, 100, 34.2], preferred=[100, 34.14])
    assert [plots.percent_label(t) for t in ticks] == ["100", "34.1"]
    figure = plots.build_series({"layer-wise": {"density": [1, 0.3414], "mean": [0.9, 0.9]},
                                 "global": {"density": [1, 0.342], "mean": [0.9, 0.8]}})
    labels = [t.get_text() for t in figure.axes[0].get_xticklabels()]
    assert "34.1" in labels and "34.2" not in labels


def test_training_curves_show_the_whole_curve_from_zero():
    figure = plots.build_training_curves(make_results(rounds=3))
    whole, zoom = figure.axes[:2]
    assert whole.get_ylim() == (0, 100)
    assert zoom.get_ylim()[0] > 10  # the zoom leaves out the first tenth, near chance


def test_early_stop_axis_from_zero_to_the_end_of_training():
    results = make_results(rounds=3)
    results["config"]["iterations"] = 100
    ax = plots.build_early_stop_vs_density(results).axes[0]
    assert ax.get_ylim()[0] == 0 and ax.get_ylim()[1] >= 100
    assert any("end of training (100)" in ln.get_label() for ln in ax.get_lines())


def series_with_bands():
    return {
        "mean and std": {"density": [1.0, 0.5, 0.25], "mean": [0.9, 0.92, 0.88],
                         "std": [0.01, 0.02, 0.03]},
        "min and max": {"density": [0.25, 1.0, 0.5], "mean": [0.8, 0.85, 0.86],
                        "low": [0.7, 0.84, 0.85], "high": [0.82, 0.87, 0.9]},
        "plain": {"density": [1.0, 0.5], "mean": [0.5, None]},
    }


def test_plot_series_with_bands_writes_a_png(tmp_path):
    path = plots.plot_series(series_with_bands(), tmp_path / "series.png", title="bands")
    assert_png(path)
    assert [p.name for p in tmp_path.iterdir()] == ["series.png"]


def test_plot_series_draws_the_mean_band_and_error_bars():
    ax = plots.build_series(series_with_bands()).axes[0]
    band = line(ax, "mean and std")
    np.testing.assert_allclose(band.get_xdata(), [100, 50, 25])
    np.testing.assert_allclose(band.get_ydata(), [90, 92, 88])
    # fill_between: a polygon from mean - std to mean + std
    vertices = ax.collections[0].get_paths()[0].vertices
    np.testing.assert_allclose(vertices[:, 1].min(), 85.0)
    np.testing.assert_allclose(vertices[:, 1].max(), 94.0)
    # Points are joined in order of decreasing density
    spread = line(ax, "min and max")
    np.testing.assert_allclose(spread.get_xdata(), [100, 50, 25])
    np.testing.assert_allclose(spread.get_ydata(), [85, 86, 80])
    bars = [c for c in ax.collections if c is not ax.collections[0]]
    segments = sorted(tuple(np.round(s[:, 1], 6)) for s in bars[0].get_segments())
    assert segments == [(70.0, 82.0), (84.0, 87.0), (85.0, 90.0)]
    # A missing value is skipped, not drawn as zero
    np.testing.assert_allclose(line(ax, "plain").get_ydata(), [50])


def test_plot_series_linear_axis_and_raw_values():
    series = {"iterations": {"density": [1.0, 0.6, 0.2], "mean": [120, 90, 200]}}
    ax = plots.build_series(series, log_x=False, percent_y=False, ylabel="iteration").axes[0]
    assert ax.get_xscale() == "linear"
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), [120, 90, 200])
    left, right = ax.get_xlim()
    assert left > right


@pytest.mark.parametrize("series, message", [
    ({}, "series: got"),
    ({"a": {"density": [1.0]}}, r"series\['a'\]: got"),
    ({"a": {"density": [1.0, 0.5], "mean": [0.9]}}, r"\['mean'\]: got 1 values, expected 2"),
    ({"a": {"density": [1.0], "mean": [0.9], "low": [0.8]}}, "only one of 'low' and 'high'"),
    ({"a": {"density": [1.0, 0.0], "mean": [0.9, 0.1]}}, r"in \(0, 1\]"),
    ({"a": {"density": [1.0], "mean": ["high"]}}, "expected a list of numbers"),
    ({"a": {"density": [1.0], "mean": [0.9], "std": [0.1, 0.2]}}, r"\['std'\]: got 2"),
])
def test_plot_series_refuses_bad_series(series, message, tmp_path):
    with pytest.raises(ValueError, match=message):
        plots.plot_series(series, tmp_path / "bad.png")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("results, message", [
    ({"config": {}, "controls": {}}, "no 'rounds' key"),
    ({"rounds": []}, "expected a non-empty list"),
    ([1, 2], "got list, expected the dict"),
])
def test_bad_results_are_refused(results, message, tmp_path):
    with pytest.raises(ValueError, match=message):
        plots.plot_run(results, tmp_path)
    for write in WRITERS:
        with pytest.raises(ValueError, match=message):
            write(results, tmp_path / "x.png")
    assert not list(tmp_path.iterdir())


def test_percent_labels():
    assert [plots.percent_label(p) for p in [100, 99.99, 51.34, 7.0, 1.9, 0.354]] == \
        ["100", "100", "51.3", "7.0", "1.9", "0.35"]


def test_density_ticks_like_the_paper():
    # 20% pruning a round for 20 rounds: a tick about every third round, as in the paper
    percents = [100 * 0.8 ** k for k in range(21)]
    ticks = plots.density_ticks(percents)
    assert ticks[0] == 100 and ticks[-1] == pytest.approx(100 * 0.8 ** 20)
    assert 5 <= len(ticks) <= 9
    assert plots.density_ticks([100, 80, 64]) == [100, 80, 64]
    # Nine rounds fit: all labelled, but not two within 10% of each other
    assert plots.density_ticks([100 * 0.6 ** k for k in range(9)]) == \
        pytest.approx([100 * 0.6 ** k for k in range(9)])
    assert plots.density_ticks([100, 95, 50, 48, 10]) == [100, 50, 10]


@settings(deadline=None)
@given(st.lists(st.floats(0.01, 100), min_size=1, max_size=40), st.integers(3, 12))
@example([31.0, 32.0, 33.0], 3)
def test_density_ticks_properties(percents, max_ticks):
    ticks = plots.density_ticks(percents, max_ticks)
    values = {round(p, 9): p for p in percents}.values()
    assert set(ticks) <= set(percents)
    assert ticks[0] == max(values) and ticks[-1] == min(values)
    assert ticks == sorted(ticks, reverse=True)
    if len(values) > 2:
        assert len(ticks) <= max_ticks
        ratio = plots.TICK_RATIO
        if len(values) > max_ticks:
            ratio = max(ratio, (max(values) / min(values)) ** (1 / (max_ticks - 1)))
        if ticks == [max(values), min(values)] and max(values) / min(values) < ratio:
            # The ends are always labelled, however close; then no other value fits between
            assert all(max(values) / v < ratio for v in values)
        else:
            assert all(a / b >= ratio * (1 - 1e-9) for a, b in pairwise(ticks))


def test_density_ticks_keep_both_ends_when_they_are_close():
    """[31, 32, 33]: every pair within the factor 1.1, but the largest and the smallest
    are always labelled (the property test used to demand 1.1 between them too)."""
    assert plots.density_ticks([31, 32, 33], max_ticks=3) == [33, 31]


def test_plots_never_import_pyplot():
    code = ("import sys, minilottery.plots as p, tempfile, pathlib\n"
            "p.plot_series({'a': {'density': [1.0, 0.5], 'mean': [0.9, 0.8]}},\n"
            "              pathlib.Path(tempfile.mkdtemp()) / 'a.png')\n"
            "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot imported'\n")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_plots_of_a_real_lottery_run(tmp_path):
    from minilottery.config import LotteryConfig
    from minilottery.lottery import run_lottery

    config = LotteryConfig(model="lenet300", dataset="digits", width=0.25, rounds=2,
                           iterations=10, eval_every=5, controls=("reinit", "random_prune"))
    results = run_lottery(config, tmp_path / "run", progress=False)
    for path in plots.plot_run(results, tmp_path / "run"):
        assert_png(path)
    ax = plots.build_accuracy_vs_density(results).axes[0]
    np.testing.assert_allclose(line(ax, "winning ticket").get_ydata(),
                               [100 * r["early_stop_test_accuracy"] for r in results["rounds"]])


def test_only_lines_equal_at_every_point_are_called_the_same():
    """93.9% and 93.1% accuracy are two lines (they were called "same as" within 1%), and so
    are 93.9% and 93.95% (within the old 0.1%); equal within float rounding is one line."""
    from minilottery.plots.overlap import same_as

    x = np.array([100.0, 80.0, 64.0])
    ticket = ("winning ticket", x, np.array([95.1, 93.9, 94.2]))
    assert same_as(x, [95.1, 93.1, 93.6], [ticket]) is None
    assert same_as(x, [95.1, 93.95, 94.2], [ticket]) is None
    assert same_as(x, [95.1, 93.9, 94.2], [ticket]) == "winning ticket"
    assert same_as(x, [95.1, 93.9 * (1 + 1e-13), 94.2], [ticket]) == "winning ticket"
    layer = ("fc1 784x300", x, np.array([100.0, 80.0, 64.0]))
    assert same_as(x * 1.001, [100.0, 80.02, 64.03], [layer]) is None


def test_equal_means_of_different_seeds_are_not_called_the_same():
    """sanity.png: two variants whose seeds differ but whose means agree are two curves
    (the legend said "random (same as shuffled)")."""
    from minilottery.tables import sanity_summary

    records = [{"round": 1, "variant": variant, "seed": seed, "density": 0.5,
                "early_stop_test_accuracy": acc}
               for variant, accs in (("shuffled", (0.8, 0.9)), ("random", (0.84, 0.86)))
               for seed, acc in enumerate(accs)]
    series = {}
    for row in sanity_summary({"records": records}):
        series[row["variant"]] = {k: [row[k]] for k in ("density", "mean", "std")}
    assert series["shuffled"]["mean"] == pytest.approx(series["random"]["mean"])
    labels = [ln.get_label() for ln in plots.build_series(series).axes[0].get_lines()]
    assert labels == ["shuffled", "random"]


@pytest.mark.parametrize("retrain, reset, words", [
    ("lr", "init", "learning-rate rewinding to iteration 0"),
    ("lr", "rewind", "learning-rate rewinding to iteration 5"),
    ("finetune", "init", "fine-tuning")])
def test_the_retraining_mode_is_named_in_titles_labels_and_sweep_groups(retrain, reset, words):
    from minilottery.plots.base import network_label, run_title
    from minilottery.sweep.aggregate import pruned_network

    config = {"model": "lenet300", "dataset": "digits", "strategy": "magnitude",
              "scope": "layer", "reset": reset, "rewind_iteration": 5, "retrain": retrain}
    results = {"config": config}
    assert run_title(results).endswith(words) and "reset" not in run_title(results)
    assert network_label("ticket", results) == f"IMP ({words})"
    assert pruned_network(config) == f"IMP ({words})"
    del config["retrain"]  # "weights", as stored: the ticket as before
    assert run_title(results).endswith(f"reset {reset}")
    assert pruned_network(config).startswith("ticket")
