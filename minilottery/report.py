"""Plain-text tables of results, for the command line and the examples."""

from __future__ import annotations

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
