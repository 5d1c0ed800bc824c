"""Plumbing shared by the example scripts: flags, scales, resumable runs, tables and figures.

Each example is one experiment of Frankle & Carbin (arXiv 1803.03635) run as
one or more lottery runs (``minilottery.lottery.run_lottery``), each in its own
sub-directory of ``--out``. A lottery run resumes where it stopped, so running
an example again reuses every round already finished and only redraws the
tables and figures.

Three scales: ``--smoke`` (a few seconds, for the tests), the default (a few
minutes on a 2-core CPU) and ``--paper`` (the presets' iterations and rounds:
hours on a CPU, meant for a GPU with ``--backend cupy``). Each scale has its
own default output directory, so their runs never collide.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from minilottery.backends import BACKEND_NAMES
from minilottery.lottery import run_lottery
from minilottery.plots import draw_series, new_figure, percent_label, save_figure
from minilottery.runs import atomic_write_json
from minilottery.tables import format_table, percent

SCALES = ("smoke", "default", "paper")


# -- command line --------------------------------------------------------------------------

def example_parser(name: str, doc: str) -> argparse.ArgumentParser:
    """The flags every example takes; the first paragraph of ``doc`` is the description."""
    parser = argparse.ArgumentParser(
        prog=f"examples/{name}.py", description=doc.strip().split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=None,
                        help=f"output directory, resumed if it exists (default: runs/{name}, "
                             f"with -smoke or -paper appended at those scales)")
    scale = parser.add_mutually_exclusive_group()
    scale.add_argument("--smoke", action="store_true",
                       help="tiny run (seconds) that only checks the script works")
    scale.add_argument("--paper", action="store_true",
                       help="the papers' iterations and rounds (the presets): for a GPU")
    parser.add_argument("--backend", choices=BACKEND_NAMES, default=None,
                        help="array backend (default: $MINILOTTERY_BACKEND or numpy)")
    parser.add_argument("--seed", type=int, default=0, help="initial weights and data order")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    return parser


def scale_of(args: argparse.Namespace) -> str:
    return "smoke" if args.smoke else "paper" if args.paper else "default"


def out_dir(args: argparse.Namespace, name: str) -> Path:
    """``--out``, else runs/<name> (default scale) or runs/<name>-<scale>."""
    if args.out:
        return Path(args.out)
    scale = scale_of(args)
    return Path("runs") / (name if scale == "default" else f"{name}-{scale}")


# -- running ---------------------------------------------------------------------------------

def announce(label: str):
    """An ``on_round`` callback printing one line per finished round (with --no-progress too)."""
    def on_round(results: dict) -> None:
        r = results["rounds"][-1]
        print(f"  [{label}] round {r['round']:2d}: {percent(r['density'])}% remaining, "
              f"test accuracy {percent(r['early_stop_test_accuracy'], 2)}% at early stop "
              f"(iteration {r['early_stop_iteration']})", flush=True)
    return on_round


def run(config, out: Path, label: str, args: argparse.Namespace) -> dict:
    """Run (or resume) one lottery run in ``out / label``; return its results."""
    print(f"{label}: {out / label}", flush=True)
    return run_lottery(config, out / label, backend=args.backend,
                       progress=not args.no_progress, on_round=announce(label))


class Stopwatch:
    """Wall time of the whole example, printed at the end and stored in summary.json."""

    def __init__(self):
        self.start = time.perf_counter()

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.start

    def __str__(self) -> str:
        seconds = self.seconds
        return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def training_seconds(*results: Mapping) -> float:
    """The seconds every training of these runs took, over all calls (a resumed run included)."""
    return sum(record.get("seconds", 0.0) for r in results
               for records in (r["rounds"], *r.get("controls", {}).values())
               for record in records)


def finish(name: str, clock: Stopwatch, out: Path, summary: dict, *results: Mapping) -> Path:
    """Print the timing and write summary.json (atomically) with the tables and the times."""
    trained = training_seconds(*results)
    print(f"{name}: finished in {clock} (this call); the trainings took {trained / 60:.1f} min "
          "in all")
    summary.update(seconds=clock.seconds, training_seconds=trained)
    return atomic_write_json(out / "summary.json", summary)


# -- reading results -------------------------------------------------------------------------

def ordered_masks(run_dir: Path, round_index: int) -> list[np.ndarray]:
    """The masks of one round's checkpoint, in forward (layer) order.

    The order comes from the round's ``layer_density`` in results.json, which
    follows the model; two models that differ only in their Dropout layers have
    different names ("3.weight" / "4.weight") but the same weights in this order.
    """
    from minilottery.runs import RunDirectory

    directory = RunDirectory(run_dir)
    names = list(directory.load_results()["rounds"][round_index]["layer_density"])
    masks = directory.load_checkpoint(f"round_{round_index:02d}")["masks"]
    return [masks[name] for name in names]


def jaccard(a: Sequence[np.ndarray], b: Sequence[np.ndarray]) -> float:
    """|A ∩ B| / |A ∪ B| over the kept weights of two masks (lists in the same layer order)."""
    if len(a) != len(b) or any(x.shape != y.shape for x, y in zip(a, b, strict=True)):
        raise ValueError(f"jaccard: masks of different layers, shapes "
                         f"{[x.shape for x in a]} and {[y.shape for y in b]}")
    both = sum(int(np.count_nonzero(x & y)) for x, y in zip(a, b, strict=True))
    either = sum(int(np.count_nonzero(x | y)) for x, y in zip(a, b, strict=True))
    return both / either if either else 1.0


def chance_jaccard(a: Sequence[np.ndarray], b: Sequence[np.ndarray]) -> float:
    """The expected Jaccard of two random masks with the same per-layer counts as a and b.

    Per layer of n weights with densities p and q the expected overlap is
    p·q·n and the union (p + q - p·q)·n.
    """
    both = either = 0.0
    for x, y in zip(a, b, strict=True):
        p, q, n = x.mean(), y.mean(), x.size
        both += p * q * n
        either += (p + q - p * q) * n
    return both / either if either else 1.0


# -- tables ----------------------------------------------------------------------------------

def comparison_rows(runs: Mapping[str, Sequence[dict]],
                    fields: Sequence[tuple[str, str]]) -> tuple[list[str], list[list]]:
    """Headers and rows comparing several runs round by round.

    ``runs``: label -> round records; ``fields``: (key, header) pairs, e.g.
    ("early_stop_test_accuracy", "acc %"). The density column is the first
    run's; a run whose densities differ gets its own density column.
    """
    labels = list(runs)
    first = runs[labels[0]]
    headers, own_density = ["round", "remaining %"], []
    for label in labels[1:]:
        if any(abs(a["density"] - b["density"]) > 5e-4
               for a, b in zip(first, runs[label], strict=False)):
            own_density.append(label)
            headers.append(f"{label} remaining %")
    headers += [f"{label} {header}" for _, header in fields for label in labels]
    rows = []
    for index in range(max(len(records) for records in runs.values())):
        def cell(label, key, index=index):
            records = runs[label]
            if index >= len(records) or records[index].get(key) is None:
                return ""
            value = records[index][key]
            return percent(value, 2) if "accuracy" in key else value
        reference = next(records[index] for records in runs.values() if index < len(records))
        row = [reference["round"], percent(reference["density"])]
        row += [percent(runs[label][index]["density"]) if index < len(runs[label]) else ""
                for label in own_density]
        row += [cell(label, key) for key, _ in fields for label in labels]
        rows.append(row)
    return headers, rows


def comparison_table(runs: Mapping[str, Sequence[dict]],
                     fields: Sequence[tuple[str, str]]) -> str:
    return format_table(*comparison_rows(runs, fields))


ACCURACY_AND_ITERATION = (("early_stop_test_accuracy", "acc %"),
                          ("early_stop_iteration", "early-stop iter"))


# -- figures ---------------------------------------------------------------------------------

def plot_panels(panels: Sequence[dict], path: Path, title: str | None = None) -> Path:
    """Side-by-side panels of curves against weights remaining, saved as one PNG.

    Each panel: {"series": label -> {"density", "mean"}, "ylabel": str,
    optional "percent_y" (default True)}; the curves are drawn by
    ``minilottery.plots.draw_series``, the same code as ``plot_series``. A panel
    of iterations (percent_y False) starts its axis at 0, so a flat line at the
    end of training reads as that, not as a zoomed-in wiggle.
    """
    figure, axes = new_figure(len(panels), width=5.0, height=3.8)
    for ax, panel in zip(axes, panels, strict=True):
        percent_y = panel.get("percent_y", True)
        draw_series(ax, panel["series"], percent_y=percent_y)
        if not percent_y:
            ax.set_ylim(bottom=0, top=max(ax.get_ylim()[1], 1.0) * 1.05)
        ax.set_xlabel("weights remaining (%)")
        ax.set_ylabel(panel["ylabel"])
    if title:
        figure.suptitle(title)
    return save_figure(figure, path)


def plot_layer_profile(profiles: Mapping[str, Mapping[str, float]], path: Path,
                       title: str | None = None) -> Path:
    """Per-layer percent of weights remaining, layers in forward order on the x axis.

    ``profiles``: label -> (layer name -> density), e.g. the last round of a
    layer-wise and of a global run, to compare where each leaves its weights.
    """
    figure, (ax,) = new_figure(width=6.0)
    names = [name for name in next(iter(profiles.values())) if name != "all layers"]
    x = np.arange(1, len(names) + 1)
    for index, (label, densities) in enumerate(profiles.items()):
        total = densities.get("all layers")
        y = [100 * densities[name] for name in names]
        line = ax.plot(x, y, marker="os^D"[index % 4], color=f"C{index}", label=label)[0]
        if total is not None:
            ax.axhline(100 * total, color=line.get_color(), linestyle=":", linewidth=1)
    ax.set_yscale("log")
    lowest = min(100 * d for p in profiles.values() for d in p.values())
    # Labels at 1, 2, 5 x 10^k; at every integer multiple when less than a decade is shown
    subs = (1.0, 2.0, 5.0) if lowest < 20 else tuple(float(k) for k in range(1, 10))
    ax.yaxis.set_major_locator(LogLocator(base=10, subs=subs))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda p, _: percent_label(p)))
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set_xticks(x, [f"{i}\n{name.removesuffix('.weight')}" for i, name in zip(x, names,
                                                                             strict=True)],
                  fontsize="x-small")
    ax.set_xlabel("layer (forward order); dotted: all layers together")
    ax.set_ylabel("weights remaining in the layer (%)")
    if title:
        ax.set_title(title, fontsize="medium")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="best", fontsize="small")
    return save_figure(figure, path)
