"""IMP tickets against the methods that find sparse networks otherwise, at their training cost.

For each seed, with one recipe (model, data, optimizer, iterations per training):

- IMP, reset to init (the LTH ticket) and with late reset (rewind to 5% of training):
  rounds of 40% of every hidden layer (the output layer 20%);
- IMP with the nm scope: 3:4, 2:4 then 1:4 of every group of 4 inputs;
- structured IMP (``--scope channel``): 40% of the units / channels a round, each round
  compacted (its record holds the compacted network's parameter count);
- gradual magnitude pruning (Zhu & Gupta), SET and RigL: one training each, to each density.

Each ticket is charged every training it took (the rounds before it included) in FLOPs
(cost.py: 3x the forward's multiply-adds at the masks in force, 2 FLOPs each); the sparse
methods are charged what their hooks counted. Every run is resumable (run it again); the
table (markdown) and the figure go to --out, the figure also to --figure.

    python examples/sparsity_comparison.py --net lenet --seeds 2 --out runs/sparsity-lenet
    python examples/sparsity_comparison.py --net conv --seeds 2 --out runs/sparsity-conv
"""

from __future__ import annotations

import argparse
import math
from dataclasses import replace
from pathlib import Path

import numpy as np

from minilottery.config import LotteryConfig
from minilottery.cost import layer_costs
from minilottery.experiments.sparse_training_run import SparseTrainingOptions, run_sparse_training
from minilottery.lottery import run_lottery
from minilottery.recipe import build_model, prepare
from minilottery.stored_run import StoredRun

NETS = {
    # LeNet-300-100 on the bundled 5,000 MNIST images, 1,000 iterations a training
    "lenet": dict(model="lenet300", dataset="mnist5k", iterations=1000, eval_every=100),
    # Conv-2 at a quarter width on the same images at 14x14, 600 iterations a training
    "conv": dict(model="conv2", dataset="mnist5k", width=0.25, resize=(14, 14),
                 iterations=600, eval_every=100),
}
# --smoke: the same variants in seconds, on the 8x8 digits
SMOKE = {"lenet": dict(model="lenet300", dataset="digits", width=0.2, iterations=30,
                       eval_every=15),
         "conv": dict(model="conv2", dataset="digits", width=0.25, iterations=20,
                      eval_every=10)}
# conv2's first convolution has one input channel: no group of 4 inputs, left dense in N:M
NM_DENSE = {"conv": {"features.0.weight": 0.0}}


def variants(recipe: dict, net: str, seed: int) -> dict[str, tuple[str, LotteryConfig]]:
    """label -> (directory name, lottery config)."""
    base = LotteryConfig(**recipe, seed=seed, controls=())
    return {
        "IMP (reset to init)": ("imp-init", replace(base, rounds=6, rate=0.4, reset="init")),
        "IMP (rewind to 5%)": ("imp-rewind", replace(base, rounds=6, rate=0.4,
                                                     reset="rewind", rewind_iteration=0.05)),
        "IMP N:M (3:4, 2:4, 1:4)": ("imp-nm", replace(
            base, scope="nm", nm="1:4", reset="init", layer_rates=NM_DENSE.get(net, {}))),
        "structured IMP (channels)": ("structured", replace(
            base, scope="channel", rounds=4, rate=0.4, reset="init")),
    }


SPARSE = SparseTrainingOptions(densities=(0.2, 0.05))
# The sparse methods again at 5% with as many iterations as IMP's 7 trainings to its 4.7%
# (LeNet only: Conv-2 would take most of an hour here)
EXTENDED = {"lenet": 7}


def imp_rows(run_dir: Path, label: str) -> list[dict]:
    """(label, density, accuracies, cumulative training FLOPs) per round of a lottery run."""
    stored = StoredRun(run_dir)
    config, dataset = prepare(stored.config)
    model = build_model(config, dataset)
    spent, rows = 0.0, []
    for record in stored.rounds:
        r = record["round"]
        costs = layer_costs(model, dataset.input_shape, stored.masks(r))
        per_example = 6 * sum(c.sparse_macs for c in costs)
        spent += per_example * record["iterations"] * config.batch_size
        rows.append({"method": label, "round": r, "density": record["density"],
                     "early": record["early_stop_test_accuracy"],
                     "final": record["final_test_accuracy"], "flops": spent,
                     "compact": record.get("compact_parameters")})
    return rows


def sparse_rows(results: dict, suffix: str = "") -> list[dict]:
    names = {"gradual": "gradual pruning", "set": "SET", "rigl": "RigL"}
    return [{"method": names[m] + suffix, "round": r["target_density"], "density": r["density"],
             "early": r["early_stop_test_accuracy"], "final": r["final_test_accuracy"],
             "flops": r["training_flops"], "compact": None}
            for m, records in results["methods"].items() for r in records]


def run_seed(recipe: dict, net: str, seed: int, out: Path, progress: bool) -> list[dict]:
    rows = []
    for label, (name, config) in variants(recipe, net, seed).items():
        directory = out / f"seed{seed}" / name
        run_lottery(config, directory, progress=progress, log=None)
        rows += imp_rows(directory, label)
    base = LotteryConfig(**recipe, seed=seed, controls=())
    rows += sparse_rows(run_sparse_training(base, out / f"seed{seed}" / "sparse", SPARSE,
                                            progress=progress, log=None))
    times = EXTENDED.get(net) if recipe is NETS[net] else None
    if times:
        long = replace(base, iterations=times * base.iterations,
                       eval_every=times * base.eval_every)
        results = run_sparse_training(long, out / f"seed{seed}" / f"sparse-x{times}",
                                      replace(SPARSE, densities=(0.05,)), progress=progress,
                                      log=None)
        rows += sparse_rows(results, f" ×{times} iterations")
    return rows


def mean_std(values) -> str:
    values = np.asarray(values, dtype=float) * 100
    return f"{values.mean():.1f} ± {values.std(ddof=1) if len(values) > 1 else 0:.1f}"


def table(rows: list[dict]) -> str:
    """One line per (method, step), mean ± std over seeds."""
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault((row["method"], row["round"]), []).append(row)
    lines = ["| method | step | weights remaining % | early-stop test acc % | final test acc % "
             "| training GFLOPs spent | compacted parameters |", "|---|---|---|---|---|---|---|"]
    for (method, step), group in groups.items():
        compact = group[0]["compact"]
        lines.append(
            f"| {method} | {step} | {100 * np.mean([g['density'] for g in group]):.1f} | "
            f"{mean_std([g['early'] for g in group])} | {mean_std([g['final'] for g in group])}"
            f" | {np.mean([g['flops'] for g in group]) / 1e9:.1f} | "
            f"{'' if compact is None else f'{compact:,}'} |")
    return "\n".join(lines)


def figure(rows: list[dict], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 5.2), sharey=True)
    methods = list(dict.fromkeys(r["method"] for r in rows))
    for index, method in enumerate(methods):
        groups: dict = {}
        for row in rows:
            if row["method"] == method:
                groups.setdefault(row["round"], []).append(row)
        steps = list(groups.values())
        acc = np.array([[100 * g["early"] for g in s] for s in steps], dtype=object)
        mean = np.array([np.mean(a) for a in acc])
        std = np.array([np.std(a, ddof=1) if len(a) > 1 else 0.0 for a in acc])
        for ax, key in zip(axes, ("density", "flops"), strict=True):
            x = np.array([np.mean([g[key] for g in s]) for s in steps])
            x = 100 * x if key == "density" else x
            order = np.argsort(x)
            style = "-o" if method.startswith(("IMP", "structured")) else "--s"
            ax.plot(x[order], mean[order], style, color=f"C{index}", label=method, ms=4)
            ax.fill_between(x[order], (mean - std)[order], (mean + std)[order],
                            color=f"C{index}", alpha=0.15)
    axes[0].set_xscale("log")
    axes[0].invert_xaxis()
    axes[0].set_xlabel("weights remaining (%)")
    axes[1].set_xscale("log")
    axes[1].set_xlabel("training FLOPs spent to get it (every round counted)")
    axes[0].set_ylabel("test accuracy at early stop (%)")
    for ax in axes:
        ax.grid(alpha=0.3, which="both")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=5, fontsize=8)
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--net", choices=tuple(NETS), default="lenet")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--out", default=None)
    parser.add_argument("--figure", default=None, help="also save the figure here")
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--smoke", action="store_true", help="seconds, on the 8x8 digits")
    args = parser.parse_args(argv)
    if args.seeds < 1:
        parser.error(f"--seeds: got {args.seeds}, expected a number of seeds >= 1")
    out = Path(args.out or f"runs/sparsity-{args.net}")
    recipe = (SMOKE if args.smoke else NETS)[args.net]
    rows = []
    for seed in range(args.seeds):
        rows += run_seed(recipe, args.net, seed, out, not args.no_progress)
        print(f"seed {seed} done", flush=True)
    text = table(rows)
    (out / "comparison.md").write_text(text + "\n")
    print(text)
    net = recipe
    title = (f"{net['model']} on {net['dataset']}, {net['iterations']} iterations a training, "
             f"mean ± std over {args.seeds} seeds")
    for path in filter(None, (out / "comparison.png", args.figure and Path(args.figure))):
        figure(rows, path, title)
        print(f"figure: {path}")
    return 0 if all(math.isfinite(r["early"]) for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
