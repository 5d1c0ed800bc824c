"""Plain-text tables of results, for the command line and the examples.

Every function here reads a results dictionary (as stored in a results.json)
and returns text; nothing here trains or writes.
"""

from __future__ import annotations

import math
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


def sparse_training_table(results: dict) -> str:
    """Method, density reached, accuracies and training FLOPs of a sparse-training run."""
    rows = [[method, percent(r["density"], 2), percent(r["early_stop_test_accuracy"], 2),
             percent(r["final_test_accuracy"], 2), r["early_stop_iteration"],
             f"{r['training_flops']:.3g}", len(r["updates"])]
            for method, records in results["methods"].items() for r in records]
    return format_table(["method", "remaining %", "early-stop acc %", "final acc %",
                         "early-stop iter", "training FLOPs", "mask updates"], rows)
