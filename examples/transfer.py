"""Example 5: winning tickets moved across datasets and optimizers (Morcos et al. 2019).

Morcos et al. (One ticket to win them all, arXiv 1906.02773) find tickets
by IMP with global pruning and late reset on one dataset, then train them on
another -- or with another optimizer -- and compare with the ticket IMP finds
on the target itself, with random tickets (a random mask of the same
per-layer density) and with the dense network. This script does the same
with the bundled datasets (the 5,000-image MNIST sample, scikit-learn's
digits, the synthetic task), VGG-19 and ResNet-50 at reduced width:

    VGG-19    mnist5k / sgd   -> digits / sgd
    VGG-19    synthetic / sgd -> digits / sgd
    VGG-19    digits / sgd    -> digits / adam     (across optimizers)
    VGG-19    digits / adam   -> digits / sgd
    ResNet-50 mnist5k / sgd   -> digits / sgd

Every source is a lottery run in <out>/runs/; the IMP run on a target is the
source run of that dataset and optimizer, so each is trained once and serves
both as a source and as the "ticket found on the target". Each transfer is a
resumable run in <out>/transfers/ (see minilottery.transfer). All images are
grey, resized to the network's input: 16x16 for VGG-19 (four poolings),
8x8 for ResNet-50 (its three stride-2 stages), 32x32 for both at --paper.

Scales:
    (default)  width 1/16, 400 iterations of 32, 3 rounds of 60% global pruning
               of the conv layers (40%, 16%, 6.4% left), late reset to iteration 20;
               SGD lr 0.02 / Adam lr 1e-3 (short training suits smaller steps):
               3 minutes on an idle 2-core CPU (OPENBLAS_NUM_THREADS=1)
    --smoke    width 1/32, 4 iterations, 1 round, 64 training examples: seconds
    --paper    width 1, 32x32, 20 rounds of 20% (ResNet-50: 30), the presets'
               schedules (SGD 0.1 momentum 0.9 weight decay 1e-4, Adam 3e-4), late
               reset to about one epoch: for a GPU (--backend cupy)

    python examples/transfer.py [--smoke | --paper] [--out DIR] [--backend cupy]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from minilottery.config import LotteryConfig
from minilottery.lottery import run_lottery
from minilottery.plots import draw_series, plot_transfer, save_figure, transfer_series
from minilottery.presets import get_preset
from minilottery.tables import format_table, percent
from minilottery.transfer import OPTIMIZER_DEFAULTS, TransferConfig, run_transfer

# (model, source dataset, source optimizer, target dataset, target optimizer)
TRANSFERS = (
    ("vgg19", "mnist5k", "sgd", "digits", "sgd"),
    ("vgg19", "synthetic", "sgd", "digits", "sgd"),
    ("vgg19", "digits", "sgd", "digits", "adam"),
    ("vgg19", "digits", "adam", "digits", "sgd"),
    ("resnet50", "mnist5k", "sgd", "digits", "sgd"),
)
NAMES = {"vgg19": "VGG-19", "resnet50": "ResNet-50"}


def scale_settings(scale: str) -> dict:
    """Per-model and shared settings of one scale."""
    if scale == "paper":
        return {"width": 1.0, "size": {"vgg19": 32, "resnet50": 32}, "batch_size": None,
                "rounds": None, "rate": 0.2, "max_train": None,
                "optimizers": OPTIMIZER_DEFAULTS}
    small = {"sgd": {"lr": 0.02, "momentum": 0.9, "weight_decay": 1e-4},
             "adam": {"lr": 1e-3, "momentum": 0.0, "weight_decay": 0.0}}
    if scale == "smoke":
        return {"width": 1 / 32, "size": {"vgg19": 16, "resnet50": 8}, "batch_size": 16,
                "iterations": 4, "eval_every": 2, "rewind": 1, "rounds": 1, "rate": 0.5,
                "max_train": 64, "optimizers": small}
    return {"width": 1 / 16, "size": {"vgg19": 16, "resnet50": 8}, "batch_size": 32,
            "iterations": 400, "eval_every": 25, "rewind": 20, "rounds": 3, "rate": 0.6,
            "max_train": None, "optimizers": small}


def schedule(model: str, scale: str, settings: dict) -> dict:
    """Iterations, evaluation, warmup, lr drops and late-reset point, the same on every
    dataset (so the IMP run on a target is exactly the transfer's target configuration)."""
    if scale != "paper":
        return {"iterations": settings["iterations"], "eval_every": settings["eval_every"],
                "warmup": 0, "milestones": (), "rewind_iteration": settings["rewind"]}
    preset = get_preset(model)
    # The preset's schedule at the length it has on the largest bundled set (mnist5k's 3,500)
    iterations = preset.scaled(3500).iterations

    def at(paper_iteration: int) -> int:
        return round(paper_iteration / preset.iterations * iterations)

    # Late reset to about one epoch: Morcos et al.'s default (VGG-19 trains for 160)
    rewind = at(preset.rewind_iteration) if preset.rewind_iteration else iterations // 160
    return {"iterations": iterations, "eval_every": max(1, iterations // 40),
            "warmup": at(preset.warmup), "milestones": tuple(at(m) for m in preset.milestones),
            "rewind_iteration": rewind, "batch_size": preset.batch_size,
            "rounds": preset.rounds}


def source_config(model: str, dataset: str, optimizer: str, scale: str) -> LotteryConfig:
    settings = scale_settings(scale)
    size = settings["size"][model]
    timing = schedule(model, scale, settings)
    return LotteryConfig(
        model=model, dataset=dataset, resize=(size, size), channels=1,
        max_train=settings["max_train"], width=settings["width"], seed=0,
        optimizer=optimizer, **settings["optimizers"][optimizer],
        batch_size=timing.pop("batch_size", settings["batch_size"]),
        rounds=timing.pop("rounds", settings["rounds"]), **timing,
        scope="global", rate=settings["rate"], reset="rewind", controls=(),
    )


def run_dir(out: Path, model: str, dataset: str, optimizer: str) -> Path:
    return out / "runs" / f"{model}-{dataset}-{optimizer}"


def run_all(scale: str, out: Path, backend=None, progress: bool = True) -> list[dict]:
    """Every source run and every transfer (each resumable); their results in order."""
    settings = scale_settings(scale)
    needed = {(m, d, o) for m, sd, so, td, to in TRANSFERS for d, o in ((sd, so), (td, to))}
    for model, dataset, optimizer in sorted(needed):
        print(f"IMP: {NAMES[model]} on {dataset} with {optimizer}", flush=True)
        run_lottery(source_config(model, dataset, optimizer, scale),
                    run_dir(out, model, dataset, optimizer), backend=backend,
                    progress=progress)
    results = []
    for model, source, source_opt, target, target_opt in TRANSFERS:
        print(f"transfer: {NAMES[model]} {source}/{source_opt} -> {target}/{target_opt}",
              flush=True)
        name = f"{model}-{source}-{source_opt}-to-{target}-{target_opt}"
        config = TransferConfig(
            source=str(run_dir(out, model, source, source_opt)), dataset=target,
            max_train=settings["max_train"], model=model, width=settings["width"],
            optimizer=target_opt, lr=settings["optimizers"][target_opt]["lr"],
            target_dir=str(run_dir(out, model, target, target_opt)))
        result = run_transfer(config, out / "transfers" / name, backend=backend,
                              progress=progress)
        plot_transfer(result, out / "plots" / f"{name}.png")
        results.append(result)
    return results


def table(results: list[dict], key: str = "early_stop_test_accuracy") -> str:
    """One row per transfer and density: the four accuracies (%) at early stop."""
    rows = []
    for result in results:
        config = result["config"]
        source, target = config["source_config"], config["target_config"]
        controls = {name: {r["round"]: r for r in records}
                    for name, records in result["controls"].items()}
        for record in result["rounds"]:
            index = record["round"]
            rows.append([
                NAMES.get(source["model"], source["model"]),
                f"{source['dataset']}/{source['optimizer']}",
                f"{config['dataset']}/{target['optimizer']}",
                percent(record["density"]),
                percent(record[key]),
                percent(controls["target_ticket"][index][key]),
                percent(controls["random_ticket"][index][key]),
                percent(result["dense"][key]),
            ])
    headers = ["model", "source", "target", "remaining %", "transferred", "target-found",
               "random", "dense"]
    return format_table(headers, rows, align="lllrrrrr")


def figure(results: list[dict], path: Path) -> Path:
    """All transfers side by side: accuracy at early stop against weights remaining."""
    columns = 3
    rows = -(-len(results) // columns)
    fig = Figure(figsize=(4.2 * columns, 3.4 * rows), dpi=90, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, columns, squeeze=False).ravel()
    styles = {"dense network": {"color": "black", "linestyle": "--", "marker": ""}}
    for ax, result in zip(axes, results, strict=False):
        source, config = result["config"]["source_config"], result["config"]
        draw_series(ax, transfer_series(result), styles=styles)
        ax.set_title(f"{NAMES[source['model']]}: {source['dataset']}/{source['optimizer']}"
                     f" -> {config['dataset']}/{config['target_config']['optimizer']}",
                     fontsize="medium")
        ax.set_xlabel("weights remaining (%)")
        ax.set_ylabel("test accuracy at early stop (%)")
        if ax is not axes[0]:
            ax.get_legend().remove()
    for ax in axes[len(results):]:
        ax.set_visible(False)
    return save_figure(fig, path)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--smoke", action="store_true", help="tiny: seconds (for the tests)")
    group.add_argument("--paper", action="store_true", help="the papers' scale (GPU)")
    parser.add_argument("--out", default=None,
                        help="output directory (default runs/example5-<scale>; resumed)")
    parser.add_argument("--backend", default=None, help="numpy or cupy")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    scale = "smoke" if args.smoke else "paper" if args.paper else "default"
    out = Path(args.out or f"runs/example5-{scale}")
    started = time.perf_counter()
    results = run_all(scale, out, backend=args.backend, progress=not args.no_progress)
    print()
    print(table(results))
    path = figure(results, out / "transfer.png")
    print(f"\nplots: {path} and {out / 'plots'}/*.png; "
          f"{time.perf_counter() - started:.0f} s at scale {scale!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
