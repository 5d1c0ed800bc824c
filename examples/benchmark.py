"""Benchmark: one training iteration of minilottery against the same network in PyTorch.

An iteration is what a lottery-ticket run repeats tens of thousands of times:
forward, cross-entropy loss, backward, optimizer step, with a 50% magnitude
mask in force (``prune.apply_masks``; in PyTorch the same masks multiply the
gradients before the step and the weights after it). Models and batches:

    lenet300  LeNet-300-100, batch 60, 784 inputs,          Adam
    conv4     Conv-4,        batch 60, 3x32x32,             Adam
    vgg19     VGG-19-BN at width 0.25, batch 32, 3x32x32,   SGD + momentum
    resnet50  ResNet-50 at width 0.25, batch 32, 3x32x32,   SGD + momentum

The PyTorch networks are written below, layer for layer like
``minilottery.models``; before timing, the script checks that both have the
same parameter count, loads minilottery's initial weights into PyTorch and
checks that the two give the same logits. Both run in float32 with the same
number of threads: minilottery's through ``threads.configure`` and
``threads.limit`` (its pool of threads, one BLAS thread each), PyTorch's
through ``torch.set_num_threads``.

Timing alternates: after a warm-up, blocks of iterations of minilottery and of
PyTorch take turns (the order flips every block), so a load that comes and
goes on a shared machine hits both alike. Each block lasts about
``--block-seconds``; we report the median and the interquartile range of the
blocks' iterations per second, and the ratio of the medians.

Peak memory: a fresh subprocess per framework and model imports the framework,
warms it up on a tiny version of the model (thread pools, autograd engine,
kernels compiled on first use), notes its resident size, builds the model,
optimizer, masks and batch, resets the kernel's high-water mark of resident
memory (/proc/self/clear_refs), runs three iterations and reads VmHWM. The
figure is that peak minus the resident size noted before building: what
training the model holds at its busiest (weights, optimizer state, cached
activations, temporaries, BLAS and allocator buffers), not the interpreter or
the libraries' code. (tracemalloc would miss BLAS and PyTorch buffers.)

Compute rate: forward FLOPs = 2 x the multiply-adds of every Conv2d and
Linear (counted from their shapes on a real forward pass, dense: the masks do
not make the products smaller), backward = 2 x forward. Multiplied by the
iterations per second and divided by the rate of a large float32 NumPy
matrix product measured here, that is the fraction of the machine's own
matmul speed an iteration reaches.

Threads: every model is timed at each count of ``--threads`` (default: 1 and
minilottery's default, the cores this process may use, e.g. 1,2 on two
cores), PyTorch set to the same count.

The BLAS kernels: the header names NumPy's BLAS and the kernel family it runs
(threadpoolctl's ``internal_api`` and ``architecture``). OPENBLAS_CORETYPE
pins a family (and OPENBLAS_L2_SIZE a cache size) whatever the CPU; set in an
environment for older OpenBLAS builds, they can halve the float32 matmul rate
of a newer CPU (Haswell kernels on an AVX-512 CPU), so the script warns when
either is set. Speed figures are taken without them:

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python examples/benchmark.py \
        [--models lenet300,conv4] [--threads 1,2] [--repeats 9] [--json out.json]

The convolution path is minilottery's default ("auto"); MINILOTTERY_CONV=reference
times the im2col reference instead.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import subprocess
import sys
import time
from collections import OrderedDict

import numpy as np

from minilottery import nn, optim
from minilottery import threads as ml_threads
from minilottery.backends import available_backends, get_backend, unavailable_reason
from minilottery.models import get_model
from minilottery.nn import conv as conv_module
from minilottery.prune import apply_masks, magnitude_prune

# name -> input shape (C, H, W), batch, width, optimizer
CASES = {
    "lenet300": ((1, 28, 28), 60, 1.0, "adam"),
    "conv4": ((3, 32, 32), 60, 1.0, "adam"),
    "vgg19": ((3, 32, 32), 32, 0.25, "sgd"),
    "resnet50": ((3, 32, 32), 32, 0.25, "sgd"),
}
SMOKE_CASES = {
    "lenet300": ((1, 28, 28), 8, 0.25, "adam"),
    "conv4": ((3, 16, 16), 4, 0.125, "adam"),
    "vgg19": ((3, 16, 16), 4, 0.0625, "sgd"),
    "resnet50": ((3, 16, 16), 4, 0.0625, "sgd"),
}
NUM_CLASSES = 10
PRUNE_FRACTION = 0.5
LR = {"adam": 1e-3, "sgd": 0.01}


def blas_name() -> str:
    """NumPy's BLAS and the CPU kernels it chose, e.g. "openblas 0.3.31 (Haswell kernels)"."""
    from threadpoolctl import threadpool_info

    for pool in threadpool_info():
        if pool["user_api"] == "blas":
            return (f"{pool['internal_api']} {pool.get('version')} "
                    f"({pool.get('architecture')} kernels)")
    return "unknown BLAS"


PINNING_VARIABLES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def pinned_kernels() -> dict:
    """The environment variables that pin OpenBLAS's kernels or cache size, where set."""
    return {name: os.environ[name] for name in PINNING_VARIABLES if name in os.environ}


def import_torch():
    """torch, or None where PyTorch is not installed (it is only the `bench` extra)."""
    try:
        import torch
    except ImportError:
        return None
    return torch


# -- the same networks in PyTorch, written from minilottery.models' definitions --

def torch_model(torch, name: str, input_shape, num_classes: int, width: float):
    """The PyTorch twin of get_model(name, ...): the same layers, shapes and parameter names."""
    tnn = torch.nn

    def scaled(channels):
        return max(1, int(round(channels * width)))

    class GlobalAvgPool(tnn.Module):
        def forward(self, x):
            return x.mean(dim=(2, 3))

    def conv_bn(c, out, stride=1, kernel=3):
        return [tnn.Conv2d(c, out, kernel, stride=stride, padding=kernel // 2, bias=False),
                tnn.BatchNorm2d(out)]

    class Bottleneck(tnn.Module):
        def __init__(self, c, mid, stride):
            super().__init__()
            out = 4 * mid
            self.conv1, self.bn1 = conv_bn(c, mid, kernel=1)
            self.conv2, self.bn2 = conv_bn(mid, mid, stride)
            self.conv3, self.bn3 = conv_bn(mid, out, kernel=1)
            projection = stride != 1 or c != out
            self.shortcut = tnn.Sequential(*conv_bn(c, out, stride, 1)) if projection else None

        def forward(self, x):
            relu = torch.nn.functional.relu
            y = relu(self.bn1(self.conv1(x)))
            y = relu(self.bn2(self.conv2(y)))
            y = self.bn3(self.conv3(y))
            return relu(y + (x if self.shortcut is None else self.shortcut(x)))

    c, h, w = input_shape
    if name == "lenet300":
        return tnn.Sequential(tnn.Flatten(), tnn.Linear(c * h * w, scaled(300)), tnn.ReLU(),
                              tnn.Linear(scaled(300), scaled(100)), tnn.ReLU(),
                              tnn.Linear(scaled(100), num_classes))
    if name == "conv4":
        features = []
        for base in (64, 128):
            for _ in range(2):
                features += [tnn.Conv2d(c, scaled(base), 3, padding=1), tnn.ReLU()]
                c = scaled(base)
            features.append(tnn.MaxPool2d(2))
            h, w = h // 2, w // 2
        hidden = scaled(256)
        classifier = tnn.Sequential(tnn.Flatten(), tnn.Linear(c * h * w, hidden), tnn.ReLU(),
                                    tnn.Linear(hidden, hidden), tnn.ReLU(),
                                    tnn.Linear(hidden, num_classes))
        return tnn.Sequential(OrderedDict(features=tnn.Sequential(*features),
                                          classifier=classifier))
    if name == "vgg19":
        features = []
        for item in (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M",
                     512, 512, 512, 512, "M", 512, 512, 512, 512):
            if item == "M":
                features.append(tnn.MaxPool2d(2))
            else:
                features += conv_bn(c, scaled(item)) + [tnn.ReLU()]
                c = scaled(item)
        return tnn.Sequential(OrderedDict(features=tnn.Sequential(*features),
                                          pool=GlobalAvgPool(),
                                          fc=tnn.Linear(c, num_classes)))
    if name == "resnet50":
        stages = OrderedDict(stem=tnn.Sequential(*conv_bn(c, scaled(64)), tnn.ReLU()))
        c = scaled(64)
        for index, (base, count, stride) in enumerate(
                ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)), start=1):
            blocks = []
            for block in range(count):
                blocks.append(Bottleneck(c, scaled(base), stride if block == 0 else 1))
                c = 4 * scaled(base)
            stages[f"layer{index}"] = tnn.Sequential(*blocks)
        stages["pool"] = GlobalAvgPool()
        stages["fc"] = tnn.Linear(c, num_classes)
        return tnn.Sequential(stages)
    raise ValueError(f"models: got {name!r}, expected one of {', '.join(CASES)}")


# -- one training iteration in each framework --

def build_minilottery(name, case, backend, seed=0):
    """(model, step function, masks as host arrays) for ``name`` on ``backend``."""
    input_shape, batch, width, opt_name = case
    model = get_model(name, input_shape, NUM_CLASSES, width, seed, backend=backend)
    masks = magnitude_prune(model, PRUNE_FRACTION)
    apply_masks(model, masks)
    opt = (optim.Adam(model, LR["adam"]) if opt_name == "adam"
           else optim.SGD(model, LR["sgd"], momentum=0.9))
    loss_fn = nn.CrossEntropyLoss(backend=backend)
    rng = np.random.default_rng(seed)
    x = model.backend.asarray(rng.standard_normal((batch, *input_shape), dtype=np.float32))
    y = model.backend.asarray(rng.integers(0, NUM_CLASSES, batch))

    def step():
        loss_fn.compute(model.forward(x), y)
        model.backward(loss_fn.backward(), need_input_grad=False)
        opt.step()
        model.backend.synchronize()

    return model, step, masks, (x, y)


def build_torch(torch, name, case, device, masks=None, state=None, seed=0):
    """(model, step function) of the PyTorch twin; ``state`` loads minilottery's weights."""
    input_shape, batch, width, opt_name = case
    torch.manual_seed(seed)
    model = torch_model(torch, name, input_shape, NUM_CLASSES, width).to(device)
    if state is not None:
        model.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()}, strict=False)
    params = dict(model.named_parameters())
    if masks is None:  # the memory probe: random masks of the same density
        masks = {k: np.random.default_rng(seed).random(tuple(p.shape)) >= PRUNE_FRACTION
                 for k, p in params.items() if k.endswith("weight") and p.ndim > 1}
    pairs = [(params[k], torch.as_tensor(m, dtype=torch.float32, device=device))
             for k, m in masks.items()]
    with torch.no_grad():
        for p, m in pairs:
            p.mul_(m)
    opt = (torch.optim.Adam(model.parameters(), LR["adam"]) if opt_name == "adam"
           else torch.optim.SGD(model.parameters(), LR["sgd"], momentum=0.9))
    rng = np.random.default_rng(seed)
    x = torch.from_numpy(rng.standard_normal((batch, *input_shape), dtype=np.float32))
    y = torch.from_numpy(rng.integers(0, NUM_CLASSES, batch))
    x, y = x.to(device), y.to(device)
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)

    def step():
        opt.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(model(x), y).backward()
        with torch.no_grad():
            for p, m in pairs:  # the same rule as minilottery: masked gradient, masked weight
                p.grad.mul_(m)
            opt.step()
            for p, m in pairs:
                p.mul_(m)
        sync()

    return model, step, (x, y)


def check_twins(torch, name, ml_model, t_model, batch) -> None:
    """Same parameter count, and the same logits from the same weights and input."""
    n_ml = ml_model.num_parameters()
    n_torch = sum(p.numel() for p in t_model.parameters())
    if n_ml != n_torch:
        raise AssertionError(f"{name}: minilottery has {n_ml:,} parameters, PyTorch {n_torch:,}")
    x, _ = batch
    ours = ml_model.backend.to_numpy(ml_model.forward(x))
    with torch.no_grad():
        theirs = t_model(torch.as_tensor(ml_model.backend.to_numpy(x)).to(
            next(t_model.parameters()).device)).cpu().numpy()
    error = np.abs(ours - theirs).max() / max(1e-6, np.abs(theirs).max())
    if not error < 1e-3:
        raise AssertionError(f"{name}: logits differ from PyTorch's by {error:.2g} (relative)")


def count_macs(model, x) -> int:
    """Multiply-adds of every Linear and Conv2d in one forward pass, from their shapes."""
    total = 0
    layers = [m for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
    for layer in layers:
        def record(inp, forward=layer.forward, weight=layer.params["weight"]):
            nonlocal total
            out = forward(inp)
            # every output value costs one multiply-add per weight of its output unit
            total += int(out.size) * int(weight[0].size)
            return out
        layer.forward = record
    try:
        model.forward(x)
    finally:
        for layer in layers:
            del layer.forward
    return total


# -- measuring --

def time_block(step, iterations: int) -> float:
    """Iterations per second over one block."""
    start = time.perf_counter()
    for _ in range(iterations):
        step()
    return iterations / (time.perf_counter() - start)


def interleaved(steps: dict, repeats: int, block_seconds: float, warmup: int = 2) -> dict:
    """name -> its/s of each block; blocks of the frameworks alternate, order flipping."""
    sizes = {}
    for label, step in steps.items():
        for _ in range(warmup):
            step()
        rate = time_block(step, 1)
        sizes[label] = max(1, int(round(block_seconds * rate)))
    rates = {label: [] for label in steps}
    order = list(steps)
    for block in range(repeats):
        for label in (order if block % 2 == 0 else order[::-1]):
            rates[label].append(time_block(steps[label], sizes[label]))
    return rates


def matmul_gflops(n: int = 2048, repeats: int = 5) -> float:
    """The best of ``repeats`` float32 n x n matrix products, in GFLOP/s (2 n³ each)."""
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((n, n), dtype=np.float32) for _ in range(2))
    out = np.empty((n, n), dtype=np.float32)
    np.matmul(a, b, out=out)
    best = min(_seconds(lambda: np.matmul(a, b, out=out)) for _ in range(repeats))
    return 2 * n**3 / best / 1e9


def _seconds(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _rss_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field}")


def memory_child(framework: str, name: str, backend: str, smoke: bool, threads: int) -> None:
    """In a fresh process: print the peak resident memory (MiB) that training ``name`` adds."""
    case = (SMOKE_CASES if smoke else CASES)[name]
    torch = import_torch() if framework == "torch" else None
    device = "cuda" if backend == "cupy" else "cpu"

    def build(which):
        if torch is not None:
            torch.set_num_threads(threads)
            return build_torch(torch, name, which, device)[1]
        return build_minilottery(name, which, get_backend(backend))[1]

    # Warm up on the tiny version of the model first: thread pools, the autograd
    # engine, kernels compiled on first use belong to the framework, not to the model.
    for _ in range(2):
        build(SMOKE_CASES[name])()
    gc.collect()
    baseline = _rss_kib("VmRSS")
    step = build(case)
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")  # reset VmHWM to the current resident size
    for _ in range(3):
        step()
    print(json.dumps({"peak_mib": (_rss_kib("VmHWM") - baseline) / 1024}))


def peak_memory(framework, name, backend, smoke, threads) -> float | None:
    command = [sys.executable, os.path.abspath(__file__), "--memory-child", framework, name,
               "--backend", backend, "--threads", str(threads)] + (["--smoke"] if smoke else [])
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        print(f"memory probe {framework}/{name} failed: {done.stderr.strip()[-300:]}",
              file=sys.stderr)
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])["peak_mib"]


def summarise(rates) -> dict:
    q1, median, q3 = np.percentile(rates, [25, 50, 75])
    return {"its_per_s": float(median), "q1": float(q1), "q3": float(q3),
            "min": float(min(rates)), "max": float(max(rates)), "blocks": len(rates)}


def run(args) -> dict:
    torch = None if args.no_torch else import_torch()
    report = {"machine": f"{os.cpu_count()}-core {platform.machine()} CPU",
              "numpy": np.__version__, "torch": None if torch is None else torch.__version__,
              "blas": blas_name(), "pinned": pinned_kernels(), "threads": args.threads,
              "conv_algorithm": conv_module.ALGORITHM, "matmul_gflops": {},
              "smoke": args.smoke, "rows": []}
    for count, threads in enumerate(args.threads):
        ml_threads.configure(threads)
        with ml_threads.limit():  # minilottery's pool of ``threads``, one BLAS thread each
            if torch is not None:
                torch.set_num_threads(threads)
            run_threads(args, torch, threads, report, memory=count == 0)
    ml_threads.configure(None)
    return report


def run_threads(args, torch, threads: int, report: dict, memory: bool) -> None:
    """Time every model at ``threads`` threads; append the rows to ``report``."""
    cases = SMOKE_CASES if args.smoke else CASES
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=threads, user_api="blas"):  # NumPy's own BLAS threads
        peak = report["matmul_gflops"][threads] = matmul_gflops(512 if args.smoke else 2048)
    for backend_name in args.backends:
        backend = get_backend(backend_name)
        device = "cuda" if backend_name == "cupy" else "cpu"
        use_torch = torch is not None and (device == "cpu" or torch.cuda.is_available())
        for name in args.models:
            model, ml_step, masks, batch = build_minilottery(name, cases[name], backend)
            flops = 3 * 2 * count_macs(model, batch[0])
            steps = {"minilottery": ml_step}
            if use_torch:
                t_model, t_step, _ = build_torch(torch, name, cases[name], device, masks,
                                                 model.state_dict())
                check_twins(torch, name, model, t_model, batch)
                steps["pytorch"] = t_step
            rates = interleaved(steps, args.repeats, args.block_seconds)
            for framework, block_rates in rates.items():
                on = backend_name if framework == "minilottery" else f"torch-{device}"
                row = {"model": name, "framework": framework, "backend": on,
                       "threads": threads, "batch": cases[name][1], "width": cases[name][2],
                       "parameters": model.num_parameters(), "gflop_per_iter": flops / 1e9,
                       **summarise(block_rates)}
                row["matmul_fraction"] = row["its_per_s"] * flops / 1e9 / peak
                if memory and not args.no_memory:
                    row["peak_mib"] = peak_memory("torch" if framework == "pytorch" else "ml",
                                                  name, backend_name, args.smoke, threads)
                report["rows"].append(row)
            if "pytorch" in rates:
                ratio = report["rows"][-2]["its_per_s"] / report["rows"][-1]["its_per_s"]
                report["rows"][-2]["ratio"] = ratio
            print(format_rows(report["rows"][-len(rates):]), flush=True)


def format_rows(rows, header: bool = False) -> str:
    lines = []
    if header:
        lines.append(f"{'model':<9} {'framework':<11} {'on':<9} {'thr':>3} {'it/s':>8} "
                     f"{'IQR':>17} {'ratio':>6} {'peak MiB':>9} {'GFLOP/it':>9} {'of matmul':>9}")
    for r in rows:
        ratio = f"{r['ratio']:.2f}" if "ratio" in r else ""
        mem = r.get("peak_mib")
        lines.append(
            f"{r['model']:<9} {r['framework']:<11} {r['backend']:<9} {r['threads']:>3} "
            f"{r['its_per_s']:>8.1f} "
            f"{r['q1']:>8.1f}-{r['q3']:<8.1f} {ratio:>6} "
            f"{'' if mem is None else f'{mem:.0f}':>9} {r['gflop_per_iter']:>9.3f} "
            f"{100 * r['matmul_fraction']:>8.1f}%")
    return "\n".join(lines)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(CASES),
                        help=f"comma-separated, from {', '.join(CASES)}")
    parser.add_argument("--repeats", type=int, default=9, help="timed blocks per framework")
    parser.add_argument("--block-seconds", type=float, default=1.0)
    parser.add_argument("--backend", default="all", help="numpy, cupy or all (the available)")
    parser.add_argument("--smoke", action="store_true", help="tiny models, a few blocks")
    parser.add_argument("--json", metavar="PATH", help="also write the table as JSON")
    parser.add_argument("--no-torch", action="store_true", help="minilottery only")
    parser.add_argument("--no-memory", action="store_true", help="skip the memory probes")
    parser.add_argument("--threads", default=None,
                        help="thread counts, comma-separated, for both frameworks (default: 1 "
                             "and minilottery's default, the cores this process may use)")
    parser.add_argument("--memory-child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.models = [m for m in args.models.split(",") if m]
    unknown = [m for m in args.models if m not in CASES]
    if unknown or not args.models:
        parser.error(f"--models: got {unknown or args.models}, expected some of "
                     f"{', '.join(CASES)}")
    if args.threads is None:
        args.threads = sorted({1, ml_threads.default_threads()})
    else:
        given = args.threads
        try:
            args.threads = [int(t) for t in given.split(",") if t]
        except ValueError:
            args.threads = []
        if not args.threads or min(args.threads) < 1:
            parser.error(f"--threads: got {given!r}, expected counts >= 1, "
                         f"comma-separated (e.g. 1,2)")
    if args.repeats < 1:
        parser.error(f"--repeats: got {args.repeats}, expected >= 1")
    if args.backend == "all":
        args.backends = available_backends()
    elif args.backend in ("numpy", "cupy"):
        reason = unavailable_reason(args.backend)
        if reason is not None:
            parser.error(f"--backend {args.backend} is not available here: {reason}")
        args.backends = [args.backend]
    else:
        parser.error(f"--backend: got {args.backend!r}, expected numpy, cupy or all")
    if args.smoke:
        args.repeats, args.block_seconds = min(args.repeats, 3), 0.02
    return args


def main(argv=None) -> dict | None:
    args = parse_args(argv)
    if args.memory_child:
        ml_threads.configure(args.threads[0])
        with ml_threads.limit():
            memory_child(*args.memory_child, args.backends[0], args.smoke, args.threads[0])
        return None
    pinned = pinned_kernels()
    print(f"BLAS: {blas_name()}; convolutions: {conv_module.ALGORITHM}")
    if pinned:
        print(f"warning: {', '.join(f'{k}={v}' for k, v in pinned.items())} pins OpenBLAS's "
              f"kernels: the figures are not what this CPU gets. Run with "
              f"env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python examples/benchmark.py ...",
              file=sys.stderr)
    print(format_rows([], header=True))
    report = run(args)
    rates = ", ".join(f"{g:.0f} GFLOP/s at {t}" for t, g in report["matmul_gflops"].items())
    print(f"\n{report['machine']}, NumPy {report['numpy']} with {report['blas']}"
          f"{' (pinned: ' + ', '.join(pinned) + ')' if pinned else ''}, "
          f"threads {', '.join(map(str, report['threads']))} (minilottery's pool at one BLAS "
          f"thread each; PyTorch set to match), "
          f"float32 matmul {rates} threads; "
          f"ratio = minilottery / PyTorch iterations per second")
    if args.json:
        from minilottery.runs import atomic_write_json

        atomic_write_json(args.json, report)
    return report


if __name__ == "__main__":
    main()
