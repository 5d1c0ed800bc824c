"""Figures of mask dynamics and early-bird tickets: they read results and never train."""

from __future__ import annotations

from pathlib import Path

from matplotlib.ticker import NullFormatter

from .base import format_density_axis, new_figure, save_figure


def plot_mask_dynamics(results: dict, path) -> Path:
    """mask_dynamics.png: each run's distances against density (to the previous round, to
    the one-shot mask), and each pair's distance beside chance's."""
    figure, axes = new_figure(2, width=5.2)
    ax = axes[0]
    percents = []
    for index, run in enumerate(results["runs"]):
        rs = run["rounds"]
        x = [100 * r["density"] for r in rs]
        percents += x
        previous = [(100 * r["density"], 100 * r["distance_to_previous"]) for r in rs
                    if "distance_to_previous" in r]
        if previous:
            ax.plot(*zip(*previous, strict=True), marker="o", color=f"C{index}",
                    label=f"run {index}: to the previous round")
        one_shot = [(100 * r["density"], 100 * r["distance_to_one_shot"]) for r in rs
                    if "distance_to_one_shot" in r]
        if one_shot:
            ax.plot(*zip(*one_shot, strict=True), marker="s", ls="--", color=f"C{index}",
                    label=f"run {index}: to the one-shot mask")
    format_density_axis(ax, percents)
    ax.set(xlabel="weights remaining (%)", ylabel="mask distance (% of entries)",
           title="one run across rounds")
    ax.legend(fontsize=8)
    ax = axes[1]
    paths = [run["path"] for run in results["runs"]]
    for index, pair in enumerate(results["pairs"]):
        name = f"run {paths.index(pair['a'])} vs run {paths.index(pair['b'])}"
        x = [100 * r["density_a"] for r in pair["rounds"]]
        ax.plot(x, [100 * r["distance"] for r in pair["rounds"]], marker="o",
                color=f"C{index}", label=name)
        ax.plot(x, [100 * r["chance"] for r in pair["rounds"]], ls=":", color=f"C{index}",
                label=f"{name}: random masks, same counts")
    if results["pairs"]:
        format_density_axis(ax, percents)
        ax.legend(fontsize=8)
    ax.set(xlabel="weights remaining (%)", ylabel="mask distance (% of entries)",
           title="two runs at the same round")
    figure.suptitle("Hamming distance between masks (fraction of entries that differ, "
                    "You et al. 2020)", fontsize="medium")
    return save_figure(figure, Path(path))


def plot_early_bird(results: dict, path) -> Path:
    """early_bird.png: each target's largest distance within the window against the
    iteration of the dense training (threshold dashed, detection marked), and the two
    tickets' accuracy against what they cost to obtain."""
    figure, axes = new_figure(2, width=5.2)
    ax = axes[0]
    search = results["search"]
    masks_at = search["iterations"]
    by_round = {r["round"]: r for r in results["rounds"]}
    for index, (key, target) in enumerate(search["targets"].items()):
        d = target["distances"]
        label = f"round {key}"
        if int(key) in by_round:
            label += f" ({100 * by_round[int(key)]['density']:.1f}%)"
        # from the second mask on: a queue of one mask has no distance yet
        ax.plot(masks_at[1:len(d)], [100 * v for v in d[1:]], marker=".", color=f"C{index}",
                label=label)
        if target["found"]:
            ax.axvline(target["iteration"], color=f"C{index}", ls=":", lw=1)
    threshold = results["config"]["threshold"]
    ax.axhline(100 * threshold, color="grey", ls="--", label="threshold")
    ax.set(xlabel="iteration of the dense training", ylim=(0, None),
           ylabel="largest distance in the window (%)", title="the search")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    ax = axes[1]
    imp = {r["round"]: r for r in results["source"]}
    for name, records, marker, offset in (
            ("early-bird ticket", results["rounds"], "o", (4, 4)),
            ("IMP ticket", [imp[r["round"]] for r in results["rounds"]], "s", (4, -10))):
        points = [(r["cost"]["total_flops"], 100 * r["early_stop_test_accuracy"],
                   100 * r["density"]) for r in records if r.get("cost")]
        if not points:
            continue
        ax.plot([p[0] for p in points], [p[1] for p in points], marker=marker, label=name)
        for x, y, d in points:
            ax.annotate(f"{d:.1f}%", (x, y), fontsize=7, textcoords="offset points",
                        xytext=offset)
    ax.set_xscale("log")
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set(xlabel="training FLOPs to obtain it (search + own training)",
           ylabel="test accuracy at early stop (%)", title="accuracy against cost")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, which="both")
    figure.suptitle("Early-bird tickets (You et al. 2020): magnitude masks during one dense "
                    "training, labelled by weights remaining", fontsize="medium")
    return save_figure(figure, Path(path))


def plot_sanity(results: dict, path) -> Path:
    """sanity.png: each variant's early-stop test accuracy against density, mean and a band
    of one standard deviation over the seeds."""
    from ..tables import sanity_summary
    from .base import draw_series

    series: dict[str, dict] = {}
    for row in sanity_summary(results):
        curve = series.setdefault(row["variant"].replace("_", " "),
                                  {"density": [], "mean": [], "std": []})
        for key in ("density", "mean", "std"):
            curve[key].append(row[key])
    figure, (ax,) = new_figure(width=6.5, height=4.5)
    draw_series(ax, series)
    ax.set(xlabel="weights remaining (%)", ylabel="test accuracy at early stop (%)")
    seeds = max(r["seed"] for r in results["records"]) + 1
    ax.set_title(f"sanity checks of {results['config']['method']} masks (Frankle et al. "
                 f"2021), {seeds} seeds", fontsize="medium")
    return save_figure(figure, Path(path))
