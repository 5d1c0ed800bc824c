"""Lines that would hide each other: a style per line, and the name of the line one repeats.

Curves of a lottery figure often coincide: every network is the dense one at
100%, the early-stop iteration of short runs is the last iteration in every
variant, two supermask variants keep the same weights. A line drawn over an
equal one vanishes and the reader concludes it is missing. So each line gets
its own marker, size and dash (later lines smaller, on top, so both show), and
a line that repeats an earlier one everywhere says so in the legend.
"""

from __future__ import annotations

import numpy as np

MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
DASHES = ("-", "--", "-.", ":")


def cycle_style(index: int) -> dict:
    """The style of the ``index``-th line of a figure with no style of its own."""
    return {"color": f"C{index % 10}", "marker": MARKERS[index % len(MARKERS)],
            "markersize": max(3.0, 6.5 - 0.8 * index), "linestyle": DASHES[index % len(DASHES)],
            "zorder": 2 + 0.01 * index}


# Two lines are called one only when they are equal at every point within float rounding:
# curves merely close (93.9% and 93.95%, or two sanity variants of equal means but different
# seeds) are two lines, drawn and named each their own
SAME = 1e-9


def same_as(x, y, drawn) -> str | None:
    """The label of the first of ``drawn`` [(label, x, y)] equal to (x, y) at every point,
    within a relative SAME; ``y`` may hold several rows (a mean and its spread), all
    compared."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    for label, other_x, other_y in drawn:
        other_x, other_y = np.asarray(other_x), np.asarray(other_y)
        if (x.shape == other_x.shape and y.shape == other_y.shape and x.size
                and np.allclose(x, other_x, rtol=SAME, atol=0, equal_nan=True)
                and np.allclose(y, other_y, rtol=SAME, atol=1e-12, equal_nan=True)):
            return label
    return None


def hollow(style: dict) -> dict:
    """A line over an equal one: dashed, with hollow markers a little larger, so the
    one below shows through."""
    size = style.get("markersize", 5)
    return {**style, "linestyle": "--", "markerfacecolor": "none", "markersize": size + 2,
            "zorder": style.get("zorder", 2) + 0.5}
