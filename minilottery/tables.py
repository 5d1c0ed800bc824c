"""Plain-text tables of results, for the command line and the examples.

Every function here reads a results dictionary (as stored in a results.json)
and returns text; nothing here trains or writes.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence


def format_table(headers: Sequence[str], rows: Sequence[Sequence], align: str | None = None) -> str:
    """A fixed-width table; ``align`` has one 'l' or 'r' per column (default: first left)."""
    cells = [[str(h) for h in headers]] + [["" if v is None else str(v) for v in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    align = align or "l" + "r" * (len(headers) - 1)

    def line(row):
        return "  ".join(c.ljust(w) if a == "l" else c.rjust(w)
                         for c, w, a in zip(row, widths, align, strict=True)).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(cells[0]), rule] + [line(r) for r in cells[1:]])


def percent(fraction: float | None, digits: int = 1) -> str:
    return "" if fraction is None else f"{100 * fraction:.{digits}f}"


def rounds_table(results: dict) -> str:
    """Round, density, ticket accuracies and early-stop iteration, and each control's."""
    controls = {name: {r["round"]: r for r in rounds}
                for name, rounds in results.get("controls", {}).items() if rounds}
    headers = ["round", "remaining %", "early-stop acc %", "final acc %", "early-stop iter"]
    for name in controls:
        headers += [f"{name} early-stop %", f"{name} final %", f"{name} iter"]
    rows = []
    for r in results["rounds"]:
        row = [r["round"], percent(r["density"]), percent(r["early_stop_test_accuracy"], 2),
               percent(r["final_test_accuracy"], 2), r["early_stop_iteration"]]
        for by_round in controls.values():
            control = by_round.get(r["round"])
            row += ([percent(control["early_stop_test_accuracy"], 2),
                     percent(control["final_test_accuracy"], 2),
                     control["early_stop_iteration"]] if control else ["", "", ""])
        rows.append(row)
    return format_table(headers, rows)


def history_table(history: list[dict]) -> str:
    """Iteration, losses and accuracies of one training run."""
    rows = [[h["iteration"], "" if h["train_loss"] is None else f"{h['train_loss']:.4f}",
             f"{h['val_loss']:.4f}", percent(h["val_accuracy"], 2), percent(h["test_accuracy"], 2)]
            for h in history]
    return format_table(["iteration", "train loss", "val loss", "val acc %", "test acc %"], rows)


def stability_table(results: dict) -> str:
    rows = [[r["variant"], r["k"], percent(r["density"]), percent(r["test_errors"][0], 2),
             percent(r["test_errors"][-1], 2), percent(max(r["test_errors"]), 2),
             percent(r["barrier"], 2)]
            for r in sorted(results["records"], key=lambda r: (r["variant"], r["k"]))]
    return format_table(["variant", "k", "density %", "error A %", "error B %",
                         "max error %", "barrier %"], rows)


def prune_at_init_table(results: dict) -> str:
    columns = {"IMP": {r["round"]: r for r in results["source"]["rounds"]}}
    columns.update({name: {r["round"]: r for r in rs}
                    for name, rs in results["source"]["controls"].items() if rs})
    columns.update({name: {r["round"]: r for r in rs} for name, rs in results["methods"].items()})
    rows = []
    for r in results["source"]["rounds"]:
        rows.append([r["round"], percent(r["density"], 2)]
                    + [percent(c[r["round"]]["early_stop_test_accuracy"], 2)
                       if r["round"] in c else "" for c in columns.values()])
    return format_table(["round", "density %"] + [f"{name} acc %" for name in columns], rows)


def supermask_variants(results: dict) -> list[str]:
    """The variants present in supermask ``results``, in the order the run wrote them
    (the round with the most variants has them all)."""
    if not results["rounds"]:
        return []
    return list(max(results["rounds"], key=lambda r: len(r["test_accuracy"]))["test_accuracy"])


def supermask_table(results: dict) -> str:
    variants = supermask_variants(results)
    rows = [[r["round"], percent(r["density"], 2)]
            + [percent(r["test_accuracy"].get(v), 1) for v in variants]
            + [percent(r["trained_early_stop_test_accuracy"], 1)]
            for r in results["rounds"]]
    short = [v.replace("large_final", "LF").replace("signed_constant", "sc") for v in variants]
    return format_table(["round", "density %"] + [f"{v} %" for v in short] + ["trained %"],
                        rows) + "\n" + SUPERMASK_KEY


SUPERMASK_KEY = (
    "test accuracy with no training of each mask on the initial weights. LF: the run's mask "
    "(weights large at the end of training);\nLF_same_sign: those of them whose sign did "
    "not change; random: a random mask of the same per-layer counts;\n_sc: each kept "
    "weight set to sign(w_init) x the layer's init std; trained: the ticket trained, "
    "at early stop.")


TRANSFER_SERIES = (("transferred", "transferred ticket"),
                   ("target_ticket", "ticket found on target"), ("random_ticket", "random ticket"))


def transfer_networks(results) -> dict[str, list[dict]]:
    """network -> its records: the transferred ticket and each control."""
    return {"transferred": results["rounds"], **results["controls"]}


def transfer_table(results, key: str = "early_stop_test_accuracy") -> str:
    """Source, target, density and the four accuracies (``key``, in %) at each density."""

    config = results["config"]
    source = (f"{config['source_config']['dataset']}/"
              f"{config['source_config']['optimizer']}")
    target = f"{config['dataset']}/{config['target_config']['optimizer']}"
    by_round = {name: {r["round"]: r for r in records}
                for name, records in transfer_networks(results).items()}
    dense = results.get("dense") or {}
    rows = []
    for record in results["rounds"]:
        index = record["round"]
        row = [source, target, percent(record["density"])]
        row += [percent(by_round[name].get(index, {}).get(key), 2) for name, _ in TRANSFER_SERIES]
        rows.append(row + [percent(dense.get(key), 2)])
    headers = ["source", "target", "remaining %", "transferred %", "target-found %",
               "random %", "dense %"]
    return format_table(headers, rows, align="llrrrrr")


def _mean_std(row: dict | None, scale: float = 100.0, digits: int = 1) -> str:
    if row is None or math.isnan(row["mean"]):
        return ""
    return f"{scale * row['mean']:.{digits}f} ± {scale * row['std']:.{digits}f}"


def aggregate_table(rows: list[dict]) -> str:
    """One line per group, network and round: accuracies and early-stop iteration."""
    index = {(r["group"], r["network"], r["round"], r["curve"]): r for r in rows}
    keys = list(dict.fromkeys((r["group"], r["network"], r["round"]) for r in rows))
    table = []
    for group, network, round_index in keys:
        early = index.get((group, network, round_index, "early_stop_test_accuracy"))
        final = index.get((group, network, round_index, "final_test_accuracy"))
        iteration = index.get((group, network, round_index, "early_stop_iteration"))
        any_row = early or final or iteration
        table.append([
            group, network, round_index, percent(any_row["density"]), _mean_std(early),
            "" if early is None else f"{percent(early['min'])}-{percent(early['max'])}",
            _mean_std(final), _mean_std(iteration, 1.0, 0), any_row["n"]])
    headers = ["group", "network", "round", "remaining %", "early-stop acc %",
               "min-max %", "final acc %", "early-stop iter", "seeds"]
    return format_table(headers, table, "llrrrrrrr")


def _flops(value: float | None, unit: float) -> str:
    return "" if value is None else f"{value / unit:.3g}"


def cost_table(results: dict) -> str:
    """Per round: compression, inference MFLOPs (dense-equivalent, zeros skipped), and the
    training GFLOPs of the ticket (its search, its own training, the sum) and of each
    control; the early-stop accuracies beside them. Records without a ``cost`` are blank
    (cost.annotate_costs adds it)."""
    controls = {name: {r["round"]: r for r in rounds}
                for name, rounds in results.get("controls", {}).items() if rounds}
    headers = ["round", "remaining %", "compression x", "inference MFLOPs",
               "sparse MFLOPs", "search GFLOPs", "train GFLOPs", "total GFLOPs", "acc %"]
    for name in controls:
        headers += [f"{name} total GFLOPs", f"{name} acc %"]
    rows = []
    for r in results["rounds"]:
        cost = r.get("cost") or {}
        row = [r["round"], percent(r["density"]),
               "" if not cost else f"{cost['compression']:.1f}",
               _flops(cost.get("inference_flops"), 1e6),
               _flops(cost.get("inference_flops_sparse"), 1e6),
               _flops(cost.get("search_flops"), 1e9), _flops(cost.get("training_flops"), 1e9),
               _flops(cost.get("total_flops"), 1e9), percent(r["early_stop_test_accuracy"], 2)]
        for by_round in controls.values():
            control = by_round.get(r["round"])
            row += ([_flops((control.get("cost") or {}).get("total_flops"), 1e9),
                     percent(control["early_stop_test_accuracy"], 2)] if control else ["", ""])
        rows.append(row)
    return format_table(headers, rows) + "\n" + COST_KEY


COST_KEY = (
    "FLOPs = 2 x the multiply-adds of the Linear and Conv2d layers (minilottery/cost.py). "
    "inference: one example, every weight;\nsparse: zeros skipped. search: the trainings "
    "whose weights chose the mask; train: this network's own training\n(3 x the sparse "
    "forward a step, x batch x iterations); total: search + train. acc: test accuracy at "
    "early stop.")


def mask_dynamics_table(results: dict) -> str:
    """Each run's rounds (distance to the previous round's mask and to the one-shot mask),
    then each pair of runs at its common rounds (distance, and chance's)."""
    rows = []
    for index, run in enumerate(results["runs"]):
        for r in run["rounds"]:
            rows.append([f"run {index}", r["round"], percent(r["density"], 2),
                         percent(r.get("distance_to_previous"), 2),
                         percent(r.get("distance_to_one_shot"), 2), "", ""])
    paths = [run["path"] for run in results["runs"]]
    for pair in results["pairs"]:
        name = f"run {paths.index(pair['a'])} vs run {paths.index(pair['b'])}"
        for r in pair["rounds"]:
            rows.append([name, r["round"], percent(r["density_a"], 2), "", "",
                         percent(r["distance"], 2), percent(r["chance"], 2)])
    key = "\n".join(f"run {i}: {run['path']}" for i, run in enumerate(results["runs"]))
    return (format_table(["runs", "round", "density %", "to previous %", "to one-shot %",
                          "between runs %", "chance %"], rows, align="lrrrrrr") + "\n" + key
            + "\ndistance: % of mask entries that differ (You et al. 2020); chance: two random "
              "masks with the same per-layer counts.")


def early_bird_table(results: dict) -> str:
    """Per target round: where its early-bird mask was found, how far it is from IMP's,
    the two tickets' accuracies and what each cost to obtain (cost.py)."""
    imp = {r["round"]: r for r in results["source"]}
    total = results["config"]["training"]["iterations"]
    rows = []
    for r in results["rounds"]:
        source = imp[r["round"]]
        eb_flops, imp_flops = r["cost"]["total_flops"], (source.get("cost") or {}).get(
            "total_flops")
        rows.append([r["round"], percent(r["density"], 2),
                     f"{r['found_at']}/{total}" + ("" if r["found"] else " (not settled)"),
                     percent(r["distance_to_imp"], 1),
                     percent(r["early_stop_test_accuracy"], 2),
                     percent(source["early_stop_test_accuracy"], 2),
                     _flops(eb_flops, 1e9), _flops(imp_flops, 1e9),
                     "" if not imp_flops else f"{imp_flops / eb_flops:.1f}"])
    search = results.get("search") or {}
    return (format_table(["round", "density %", "found at", "distance to IMP %", "early-bird %",
                          "IMP %", "early-bird GFLOPs", "IMP GFLOPs", "IMP / EB cost"], rows)
            + f"\nsearch stopped at iteration {search.get('stopped_at')}; accuracies: test, at "
              "early stop; GFLOPs: search + own training (cost.py)")


def sanity_summary(results: dict, key: str = "early_stop_test_accuracy") -> list[dict]:
    """One row per (round, variant): density, mean and standard deviation of ``key`` over
    the seeds, and their count."""
    groups: dict[tuple[int, str], list[dict]] = {}
    for r in results["records"]:
        groups.setdefault((r["round"], r["variant"]), []).append(r)
    rows = []
    order = list(dict.fromkeys(r["variant"] for r in results["records"]))  # as run
    for (round_index, variant), records in sorted(
            groups.items(), key=lambda item: (item[0][0], order.index(item[0][1]))):
        values = [float(r[key]) for r in records]
        rows.append({"round": round_index, "variant": variant,
                     "density": statistics.fmean(r["density"] for r in records),
                     "mean": statistics.fmean(values),
                     "std": statistics.stdev(values) if len(values) > 1 else 0.0,
                     "n": len(values)})
    return rows


def sanity_table(results: dict) -> str:
    """Per round: each variant's early-stop test accuracy, mean ± std over the seeds."""
    rows = sanity_summary(results)
    variants = list(dict.fromkeys(r["variant"] for r in rows))
    by = {(r["round"], r["variant"]): r for r in rows}
    rounds = sorted({r["round"] for r in rows})
    table = []
    for round_index in rounds:
        found = by.get((round_index, "as_found")) or next(
            r for r in rows if r["round"] == round_index)
        table.append([round_index, percent(found["density"], 2)]
                     + [_mean_std(by.get((round_index, v)), digits=2) for v in variants]
                     + [found["n"]])
    return (format_table(["round", "density %"] + [f"{v} %" for v in variants] + ["seeds"],
                         table)
            + f"\n{results['config']['method']} masks; test accuracy at early stop, mean ± std "
              "over seeds; shuffled: per layer, same counts; random: the same overall "
              "density in every layer")


def sparse_training_table(results: dict) -> str:
    """Method, density reached, accuracies and training FLOPs of a sparse-training run."""
    rows = [[method, percent(r["density"], 2), percent(r["early_stop_test_accuracy"], 2),
             percent(r["final_test_accuracy"], 2), r["early_stop_iteration"],
             f"{r['training_flops']:.3g}", len(r["updates"])]
            for method, records in results["methods"].items() for r in records]
    return format_table(["method", "remaining %", "early-stop acc %", "final acc %",
                         "early-stop iter", "training FLOPs", "mask updates"], rows)
