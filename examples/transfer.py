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

Morcos et al.'s own grid, on the real datasets: --data-dir DIR with one
subfolder per dataset (what each holds and where to download it:
docs/datasets.md):

    DIR/fashion-mnist/  DIR/svhn/  DIR/cifar10/  DIR/cifar100/   (required)
    DIR/imagenet/  DIR/places365/   (optional sources: an image folder or one .npz)

Every dataset's ticket is trained on every one of the four targets, with
VGG-19 and ResNet-50 (SGD), plus VGG-19 CIFAR-10 SGD <-> Adam; all images
RGB, 32x32 at --paper (Fashion-MNIST's grey repeated). A missing subfolder or
file is named before anything trains.

    python examples/transfer.py [--smoke | --paper] [--out DIR] [--backend cupy]
    python examples/transfer.py --paper --data-dir DIR --backend cupy
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from minilottery.config import LotteryConfig
from minilottery.data import check_files
from minilottery.lottery import run_lottery
from minilottery.plots import draw_series, plot_transfer, save_figure, transfer_series
from minilottery.presets import CIFAR_TRAIN, get_preset
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
# Morcos et al.'s grid: the subfolders of --data-dir (each read by the dataset of its name)
MORCOS_TARGETS = ("fashion-mnist", "svhn", "cifar10", "cifar100")
MORCOS_LARGE = ("imagenet", "places365")  # sources only; an image folder or one .npz file
MORCOS_OPTIMIZERS = (("vgg19", "cifar10", "sgd", "cifar10", "adam"),
                     ("vgg19", "cifar10", "adam", "cifar10", "sgd"))


def morcos_grid(data_dir) -> tuple[tuple, dict[str, tuple[str, str]]]:
    """Morcos et al.'s transfers on the datasets under ``data_dir``, and where each is read.

    Returns (transfers, data): transfers as TRANSFERS, with the subfolder name as
    the dataset; data maps that name to (the dataset name that reads it, the folder).
    Raises a clear error naming a missing subfolder or file before anything trains.
    """
    root = Path(data_dir).expanduser()
    wanted = ", ".join(f"{name}/" for name in MORCOS_TARGETS)
    if not root.is_dir():
        raise FileNotFoundError(f"--data-dir: {root} is not a directory; expected one holding "
                                f"the subfolders {wanted} (see docs/datasets.md)")
    data = {}
    for label in MORCOS_TARGETS:
        folder = root / label
        if not folder.is_dir():
            raise FileNotFoundError(
                f"--data-dir: {root} lacks the subfolder {label}/ (the {label} files); "
                f"expected {wanted} and optionally imagenet/, places365/ (see docs/datasets.md)")
        check_files(label, folder)
        data[label] = (label, str(folder))
    for label in MORCOS_LARGE:
        folder = root / label
        if folder.is_dir():
            name = "npz" if any(folder.glob("*.npz")) else "folder"
            check_files(name, folder)
            data[label] = (name, str(folder))
    transfers = tuple((model, source, "sgd", target, "sgd") for model in NAMES
                      for target in MORCOS_TARGETS for source in data if source != target)
    return transfers + MORCOS_OPTIMIZERS, data


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


def schedule(model: str, scale: str, settings: dict, train_size: int = 3500) -> dict:
    """Iterations, evaluation, warmup, lr drops and late-reset point, the same on every
    dataset (so the IMP run on a target is exactly the transfer's target configuration)."""
    if scale != "paper":
        return {"iterations": settings["iterations"], "eval_every": settings["eval_every"],
                "warmup": 0, "milestones": (), "rewind_iteration": settings["rewind"]}
    preset = get_preset(model)
    # The preset's schedule at the length it has on the largest set of the grid: mnist5k's
    # 3,500 bundled images, or CIFAR-10's 45,000 (the paper's epochs) on the real datasets
    iterations = preset.scaled(train_size).iterations

    def at(paper_iteration: int) -> int:
        return round(paper_iteration / preset.iterations * iterations)

    # Late reset to about one epoch: Morcos et al.'s default (VGG-19 trains for 160)
    rewind = at(preset.rewind_iteration) if preset.rewind_iteration else iterations // 160
    return {"iterations": iterations, "eval_every": max(1, iterations // 40),
            "warmup": at(preset.warmup), "milestones": tuple(at(m) for m in preset.milestones),
            "rewind_iteration": rewind, "batch_size": preset.batch_size,
            "rounds": preset.rounds}


def source_config(model: str, dataset: str, optimizer: str, scale: str,
                  data_dir: str | None = None) -> LotteryConfig:
    """The IMP run of one dataset: grey for the bundled sets, RGB for the real ones
    (``data_dir`` given: Morcos et al.'s grid)."""
    settings = scale_settings(scale)
    size = settings["size"][model]
    real = data_dir is not None
    timing = schedule(model, scale, settings, CIFAR_TRAIN if real else 3500)
    # A smoke run on CIFAR-100 needs at least one training image per class
    max_train = 200 if real and scale == "smoke" else settings["max_train"]
    return LotteryConfig(
        model=model, dataset=dataset, data_dir=data_dir, resize=(size, size),
        channels=3 if real else 1, max_train=max_train, width=settings["width"], seed=0,
        optimizer=optimizer, **settings["optimizers"][optimizer],
        batch_size=timing.pop("batch_size", settings["batch_size"]),
        rounds=timing.pop("rounds", settings["rounds"]), **timing,
        scope="global", rate=settings["rate"], reset="rewind", controls=(),
    )


def run_dir(out: Path, model: str, dataset: str, optimizer: str) -> Path:
    return out / "runs" / f"{model}-{dataset}-{optimizer}"


def run_all(scale: str, out: Path, backend=None, progress: bool = True,
            transfers=TRANSFERS, data: dict | None = None) -> list[dict]:
    """Every source run and every transfer (each resumable); their results in order.

    ``data`` maps each dataset of ``transfers`` to (dataset name, data_dir), as
    morcos_grid returns it; None: the bundled datasets, read from no files.
    """
    settings = scale_settings(scale)

    def where(label: str) -> tuple[str, str | None]:
        return (label, None) if data is None else data[label]

    needed = {(m, d, o) for m, sd, so, td, to in transfers for d, o in ((sd, so), (td, to))}
    for model, label, optimizer in sorted(needed):
        print(f"IMP: {NAMES[model]} on {label} with {optimizer}", flush=True)
        name, data_dir = where(label)
        run_lottery(source_config(model, name, optimizer, scale, data_dir),
                    run_dir(out, model, label, optimizer), backend=backend,
                    progress=progress)
    results = []
    for model, source, source_opt, target, target_opt in transfers:
        print(f"transfer: {NAMES[model]} {source}/{source_opt} -> {target}/{target_opt}",
              flush=True)
        name = f"{model}-{source}-{source_opt}-to-{target}-{target_opt}"
        target_name, target_dir = where(target)
        max_train = source_config(model, target_name, target_opt, scale, target_dir).max_train
        config = TransferConfig(
            source=str(run_dir(out, model, source, source_opt)), dataset=target_name,
            data_dir=target_dir, max_train=max_train, model=model, width=settings["width"],
            optimizer=target_opt, lr=settings["optimizers"][target_opt]["lr"],
            target_dir=str(run_dir(out, model, target, target_opt)))
        result = run_transfer(config, out / "transfers" / name, backend=backend,
                              progress=progress)
        plot_transfer(result, out / "plots" / f"{name}.png")
        results.append(result)
    return results


def label(config: dict) -> str:
    """A run's dataset as the grid names it: an image folder or .npz by its subfolder."""
    if config["dataset"] in ("folder", "npz") and config.get("data_dir"):
        return Path(config["data_dir"]).name
    return config["dataset"]


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
                f"{label(source)}/{source['optimizer']}",
                f"{label(config)}/{target['optimizer']}",
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
        ax.set_title(f"{NAMES[source['model']]}: {label(source)}/{source['optimizer']}"
                     f" -> {label(config)}/{config['target_config']['optimizer']}",
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
    parser.add_argument("--data-dir", default=None, metavar="DIR",
                        help="Morcos et al.'s grid on the real datasets in DIR's subfolders "
                             f"({', '.join(MORCOS_TARGETS)}; optionally "
                             f"{', '.join(MORCOS_LARGE)}); see docs/datasets.md")
    parser.add_argument("--backend", default=None, help="numpy or cupy")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    scale = "smoke" if args.smoke else "paper" if args.paper else "default"
    transfers, data = TRANSFERS, None
    if args.data_dir is not None:
        try:
            transfers, data = morcos_grid(args.data_dir)
        except (FileNotFoundError, ValueError) as error:
            print(f"examples/transfer.py: error: {error}", file=sys.stderr)
            return 2
    grid = "" if data is None else "morcos-"
    out = Path(args.out or f"runs/example5-{grid}{scale}")
    started = time.perf_counter()
    results = run_all(scale, out, backend=args.backend, progress=not args.no_progress,
                      transfers=transfers, data=data)
    print()
    print(table(results))
    path = figure(results, out / "transfer.png")
    print(f"\nplots: {path} and {out / 'plots'}/*.png; "
          f"{time.perf_counter() - started:.0f} s at scale {scale!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
