"""Aggregate a sweep across seeds: mean, standard deviation, min and max of every curve.

Frankle & Carbin (arXiv 1803.03635) draw each curve as the average of five
trials with error bars from the minimum to the maximum; Morcos et al.
(arXiv 1906.02773) shade mean +- standard deviation. Runs of a sweep that
differ only in ``seed`` form one group (named by the other varied fields,
``reset=init``); for each group, network (the run's own rounds, named by its
reset: the ticket, a late-reset ticket, or IMP with reinit; and each control) and
round, every curve is reduced over the seeds that reached that round:

    mean = sum(v) / n,  std = sqrt(sum((v - mean)^2) / (n - 1))  (0 for one seed),
    min, max

The curves are the test accuracy at early stop (the iteration of minimum
validation loss), at the end of training, and the early-stop iteration.
A control's round 0 is the ticket's: at 100% every network is the dense one.

``aggregate_runs`` gives the rows (one per group, network, curve and round);
``write_csv`` stores them as ``aggregate.csv``; plots/sweep.py draws them
and tables.py tables them.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np

from ..config import retrain_words
from ..runs import RunDirectory, atomic_write_bytes
from .spec import run_name

CSV_FILE = "aggregate.csv"
CURVES = {
    "early_stop_test_accuracy": ("test accuracy at early stop (%)", "sweep_accuracy.png"),
    "final_test_accuracy": ("test accuracy at end of training (%)", "sweep_final_accuracy.png"),
    "early_stop_iteration": ("early-stop iteration (min. validation loss)",
                             "sweep_early_stop.png"),
}
BANDS = ("std", "minmax")


def read_sweep(sweep_dir) -> tuple[dict, dict[str, dict]]:
    """(manifest, run name -> results) for every run of the sweep with a finished round."""
    sweep_dir = Path(sweep_dir)
    path = sweep_dir / "sweep.json"
    if not path.is_file():
        raise FileNotFoundError(f"sweep directory {sweep_dir}: no sweep.json found")
    with open(path) as handle:
        manifest = json.load(handle)
    results = {}
    for run in manifest["runs"]:
        directory = RunDirectory(sweep_dir / run["directory"])
        if directory.has_results():
            stored = directory.load_results()
            if stored.get("rounds"):
                results[run["name"]] = stored
    return manifest, results


def group_of(varied: dict) -> dict:
    """The varied fields that define a group: all but the seed."""
    return {k: v for k, v in varied.items() if k != "seed"}


def pruned_network(config: dict) -> str:
    """What a run's own rounds are, by its reset: "ticket" (reset to iteration 0), "ticket
    (rewind to iteration k)", or "IMP, reinit" (pruned, then fresh random weights: no
    ticket, the control as an IMP run of its own); "IMP (fine-tuning)" or "IMP
    (learning-rate rewinding to iteration k)" when the trained weights are kept."""
    if retrain_words(config):
        return f"IMP ({retrain_words(config)})"
    reset = config.get("reset") or "init"
    if reset == "rewind":
        k = config.get("rewind_iteration")
        return "ticket (rewind)" if k is None else f"ticket (rewind to iteration {k:g})"
    return "IMP, reinit" if reset == "reinit" else "ticket"


def network_rounds(results: dict) -> dict[str, dict[int, dict]]:
    """network (``pruned_network``, then "reinit", ...) -> round -> record; controls share
    round 0."""
    ticket = {r["round"]: r for r in results["rounds"]}
    out = {pruned_network(results.get("config") or {}): ticket}
    for name, records in (results.get("controls") or {}).items():
        control = {r["round"]: r for r in records}
        if 0 in ticket:
            control.setdefault(0, ticket[0])
        out[name] = control
    return out


def reduce(values) -> dict:
    """n, mean, std (sample, 0 for one value), min and max of ``values``."""
    v = np.asarray(values, dtype=np.float64)
    std = float(v.std(ddof=1)) if v.size > 1 else 0.0
    return {"n": int(v.size), "mean": float(v.mean()), "std": std,
            "min": float(v.min()), "max": float(v.max())}


def aggregate_runs(manifest: dict, results: dict[str, dict]) -> list[dict]:
    """Rows {group, <group fields>, network, curve, round, density, n, mean, std, min, max}."""
    groups: dict[str, tuple[dict, list[str]]] = {}
    for run in manifest["runs"]:
        if run["name"] in results:
            fields = group_of(run["varied"])
            label = run_name(fields) if fields else "all runs"
            groups.setdefault(label, (fields, []))[1].append(run["name"])
    rows = []
    for label, (fields, names) in groups.items():
        per_run = [network_rounds(results[name]) for name in names]
        networks = list(dict.fromkeys(n for runs in per_run for n in runs))
        for network in networks:
            rounds = sorted({r for runs in per_run for r in runs.get(network, {})})
            for curve in CURVES:
                for index in rounds:
                    records = [runs[network][index] for runs in per_run
                               if index in runs.get(network, {})]
                    values = [r[curve] for r in records if r.get(curve) is not None]
                    if not values:
                        continue
                    rows.append({"group": label, **fields, "network": network,
                                 "curve": curve, "round": index,
                                 "density": float(np.mean([r["density"] for r in records])),
                                 **reduce(values)})
    return rows


def write_csv(rows: list[dict], path) -> Path:
    """The rows as CSV (group fields as columns), written atomically."""
    columns = list(dict.fromkeys(key for row in rows for key in row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _csv_value(v) for k, v in row.items()})
    return atomic_write_bytes(path, buffer.getvalue().encode())


def _csv_value(value):
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value)
    return value
