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


# Relative differences under which two points are one on the figure: densities within 1% (a
# layer pruned at the same rate as another rounds its counts its own way), values within 0.1%
# (so 93.9% and 93.1% accuracy, 0.9% apart, are two lines, not one)
SAME_X, SAME_Y = 1e-2, 1e-3


def same_as(x, y, drawn) -> str | None:
    """The label of the first of ``drawn`` [(label, x, y)] equal to (x, y) at every point,
    within SAME_X and SAME_Y."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    for label, other_x, other_y in drawn:
        if (x.shape == other_x.shape and x.size and np.allclose(x, other_x, rtol=SAME_X, atol=0)
                and np.allclose(y, other_y, rtol=SAME_Y, atol=1e-9)):
            return label
    return None


def hollow(style: dict) -> dict:
    """A line over an equal one: dashed, with hollow markers a little larger, so the
    one below shows through."""
    size = style.get("markersize", 5)
    return {**style, "linestyle": "--", "markerfacecolor": "none", "markersize": size + 2,
            "zorder": style.get("zorder", 2) + 0.5}
