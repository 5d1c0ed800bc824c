"""What sparsity buys in time: masked, CSR and compacted networks against their density (CPU).

Three ways to run a pruned network, each timed for inference (a forward pass of
1,000 examples) and for a training step (forward, loss, backward and an SGD
update of 60 examples), at a range of densities:

(a) **compacted**: structured pruning's ``compact()``: the hidden units / channels
    removed, a smaller dense network (minilottery's own layers);
(b) **CSR**: each Linear weight as a scipy.sparse CSR matrix at a random mask of
    that density; forward y = x Wᵀ and the input gradient through sparse products,
    the weight gradient only at the kept entries (dW[i, j] = Σₙ dY[n, i] x[n, j]
    over the nonzeros), the update on the nonzeros;
(c) **masked**: minilottery's network with the masks in force (zeros multiplied).

LeNet-300-100 (784-300-100-10) for all three, and Conv-2 (28x28 MNIST shapes)
compacted against masked. One thread for everything (scipy.sparse's products are
single-threaded; minilottery's BLAS is held to one thread by --threads 1). Each
time is the median of --repeats runs after a warm-up. The figures are those of the
machine they ran on, under whatever load it had: compare ratios within one run.

    python examples/sparsity_speed.py --out docs/figures/sparsity_speed.png
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np

from minilottery import nn, threads
from minilottery.models import get_model
from minilottery.optim import SGD
from minilottery.prune import apply_masks
from minilottery.sparse_training import layer_densities, random_masks
from minilottery.structured import compact, prunable_channels

DENSITIES = [1.0, 0.5, 0.2, 0.1, 0.05, 0.02, 0.01]
UNIT_FRACTIONS = [1.0, 0.5, 0.25, 0.125, 0.0625]


def median_time(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def model_times(model, x_inf, x_train, y_train, repeats):
    """(inference s, training-step s) of a minilottery model."""
    loss = nn.CrossEntropyLoss(backend=model.backend)
    optimizer = SGD(model, 0.01)

    def infer():
        model.eval()
        model.forward(x_inf)

    def step():
        model.train()
        loss.compute(model.forward(x_train), y_train)
        model.backward(loss.backward(), need_input_grad=False)
        optimizer.step()

    return median_time(infer, repeats), median_time(step, repeats)


class CSRNet:
    """LeNet's Linear layers as CSR matrices: forward, backward and SGD on the nonzeros."""

    def __init__(self, model, masks):
        import scipy.sparse as sp

        self.layers = []
        for name, layer in ((n, m) for n, m in model.named_modules() if isinstance(m, nn.Linear)):
            weight = np.asarray(layer.params["weight"]) * masks[f"{name}.weight"]
            self.layers.append([sp.csr_matrix(weight), np.asarray(layer.params["bias"])])

    def forward(self, x):
        self.inputs = []
        h = x.reshape(len(x), -1)
        for index, (w, b) in enumerate(self.layers):
            self.inputs.append(h)
            # y = x Wᵀ + b  as (W xᵀ)ᵀ: CSR times dense
            h = (w @ h.T).T + b
            if index < len(self.layers) - 1:
                h = np.maximum(h, 0)
        return h

    def step(self, x, y, lr=0.01):
        logits = self.forward(x)
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        p[np.arange(len(y)), y] -= 1
        grad = p / len(y)
        for index in range(len(self.layers) - 1, -1, -1):
            w, b = self.layers[index]
            h = self.inputs[index]
            rows = np.repeat(np.arange(w.shape[0]), np.diff(w.indptr))
            # dW at the nonzeros only: Σₙ dY[n, i] · x[n, j]
            d_w = np.einsum("ni,ni->i", grad[:, rows], h[:, w.indices])
            d_b = grad.sum(axis=0)
            if index:
                # dX = dY W, as (Wᵀ dYᵀ)ᵀ; through the ReLU of the layer below
                grad = (w.T @ grad.T).T * (h > 0)
            w.data -= lr * d_w
            b -= lr * d_b


def lenet_rows(repeats: int) -> list[dict]:
    rng = np.random.default_rng(0)
    x_inf = rng.standard_normal((1000, 1, 28, 28)).astype(np.float32)
    x_train = rng.standard_normal((60, 1, 28, 28)).astype(np.float32)
    y_train = rng.integers(0, 10, 60)
    rows = []
    dense = get_model("lenet300", (1, 28, 28), 10, seed=0, backend="numpy")
    total = sum(int(np.prod(layer.params["weight"].shape)) for _, layer, _ in
                prunable_channels(dense)) + 100 * 10
    for density in DENSITIES:
        model = get_model("lenet300", (1, 28, 28), 10, seed=0, backend="numpy")
        masks = random_masks(model, layer_densities(model, density), seed=1)
        apply_masks(model, masks)
        inf, train = model_times(model, x_inf, x_train, y_train, repeats)
        rows.append({"net": "lenet300", "kind": "masked", "density": density,
                     "inference_s": inf, "train_step_s": train})
        net = CSRNet(model, masks)
        rows.append({"net": "lenet300", "kind": "CSR", "density": density,
                     "inference_s": median_time(lambda n=net: n.forward(x_inf), repeats),
                     "train_step_s": median_time(lambda n=net: n.step(x_train, y_train),
                                                 repeats)})
    for fraction in UNIT_FRACTIONS:
        model = get_model("lenet300", (1, 28, 28), 10, seed=0, backend="numpy")
        keep = {name: np.arange(max(1, round(fraction * layer.params["weight"].shape[0])))
                for name, layer, _ in prunable_channels(model)}
        small = compact(model, keep, (1, 28, 28))
        weights = sum(int(np.prod(v.shape)) for n, v in small.named_parameters()
                      if n.endswith("weight"))
        inf, train = model_times(small, x_inf, x_train, y_train, repeats)
        rows.append({"net": "lenet300", "kind": "compacted", "density": weights / total,
                     "units_kept": fraction, "inference_s": inf, "train_step_s": train})
    return rows


def conv_rows(repeats: int) -> list[dict]:
    rng = np.random.default_rng(0)
    x_inf = rng.standard_normal((200, 1, 28, 28)).astype(np.float32)
    x_train = rng.standard_normal((60, 1, 28, 28)).astype(np.float32)
    y_train = rng.integers(0, 10, 60)
    rows = []
    model = get_model("conv2", (1, 28, 28), 10, seed=0, backend="numpy")
    total = sum(int(np.prod(v.shape)) for n, v in model.named_parameters()
                if n.endswith("weight"))
    for fraction in UNIT_FRACTIONS[:4]:
        # (Conv-2's dense step is the slowest here: --smoke stops at half the channels)
        model = get_model("conv2", (1, 28, 28), 10, seed=0, backend="numpy")
        keep = {name: np.arange(max(1, round(fraction * layer.params["weight"].shape[0])))
                for name, layer, _ in prunable_channels(model)}
        small = compact(model, keep, (1, 28, 28))
        weights = sum(int(np.prod(v.shape)) for n, v in small.named_parameters()
                      if n.endswith("weight"))
        inf, train = model_times(small, x_inf, x_train, y_train, repeats)
        rows.append({"net": "conv2", "kind": "compacted", "density": weights / total,
                     "units_kept": fraction, "inference_s": inf, "train_step_s": train})
        if fraction == 1.0:
            rows.append({**rows[-1], "kind": "masked", "note": "a masked network multiplies "
                         "its zeros: the dense time at every density"})
    return rows


def figure(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.3))
    panels = (("lenet300", "inference_s", "LeNet-300-100: inference, 1,000 examples"),
              ("lenet300", "train_step_s", "LeNet-300-100: one training step, batch 60"),
              ("conv2", "train_step_s", "Conv-2: one training step, batch 60"))
    for ax, (net, key, title) in zip(axes, panels, strict=True):
        for index, kind in enumerate(("masked", "CSR", "compacted")):
            points = sorted((r["density"], r[key]) for r in rows
                            if r["net"] == net and r["kind"] == kind)
            if not points:
                continue
            x, y = zip(*points, strict=True)
            if kind == "masked" and len(points) == 1:  # the dense time, at every density
                ax.axhline(1000 * y[0], color=f"C{index}", ls="--", label="masked (= dense)")
                continue
            ax.plot(100 * np.array(x), 1000 * np.array(y), "-o", color=f"C{index}", ms=4,
                    label=kind)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.invert_xaxis()
        ax.set_xlabel("weights remaining (%)")
        ax.set_ylabel("ms (median)")
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    fig.suptitle("Time against density, one thread, measured under load (ratios within a "
                 "panel only)", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def table(rows: list[dict]) -> str:
    dense = {(r["net"], key): r[key] for r in rows for key in ("inference_s", "train_step_s")
             if r["kind"] == "masked" and r["density"] == 1.0}
    lines = ["| network | kind | weights remaining % | inference ms | x dense | train step ms "
             "| x dense |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        inf, step = r["inference_s"], r["train_step_s"]
        lines.append(f"| {r['net']} | {r['kind']} | {100 * r['density']:.1f} | "
                     f"{1000 * inf:.2f} | {dense[r['net'], 'inference_s'] / inf:.2f} | "
                     f"{1000 * step:.2f} | {dense[r['net'], 'train_step_s'] / step:.2f} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--out", default="runs/sparsity-speed.png")
    parser.add_argument("--smoke", action="store_true", help="two densities, one repeat")
    args = parser.parse_args(argv)
    if args.smoke:
        args.repeats = 1
        DENSITIES[:] = [1.0, 0.05]
        UNIT_FRACTIONS[:] = [1.0, 0.5]
    if args.repeats < 1:
        parser.error(f"--repeats: got {args.repeats}, expected >= 1")
    threads.configure(1)
    with threads.limit():
        rows = lenet_rows(args.repeats) + conv_rows(args.repeats)
    out = Path(args.out)
    figure(rows, out)
    out.with_suffix(".json").write_text(json.dumps(rows, indent=1))
    print(table(rows))
    print(f"figure: {out}; numbers: {out.with_suffix('.json')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
