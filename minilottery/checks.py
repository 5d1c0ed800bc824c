"""Argument checks shared across the library.

Each one names the argument, says what was given and what was expected, and
returns the value as a plain Python number, so a boundary can check and
convert in one line: ``fraction = check_fraction("fraction", fraction)``.
"""

from __future__ import annotations

from numbers import Integral, Real


def check_fraction(name: str, value) -> float:
    """A number in [0, 1): a fraction of weights or of examples (1 would remove them all)."""
    if isinstance(value, bool) or not isinstance(value, Real) or not 0.0 <= value < 1.0:
        raise ValueError(f"{name}: got {value!r}, expected a fraction in [0, 1)")
    return float(value)


def check_int(name: str, value, minimum: int) -> int:
    """An integer (Python or NumPy, not a bool) of at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, Integral) or value < minimum:
        raise ValueError(f"{name}: got {value!r}, expected an int >= {minimum}")
    return int(value)


def check_choice(name: str, value, choices) -> None:
    """``value`` is one of ``choices`` (a name the user typed: a model, a reset, ...)."""
    if value not in choices:
        raise ValueError(f"{name}: got {value!r}, expected one of {', '.join(choices)}")
