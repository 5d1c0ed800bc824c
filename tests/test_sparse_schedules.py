"""Layer densities (ERK) and the schedules of gradual pruning and RigL."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minilottery.sparse_schedules import (
    cosine_drop_fraction,
    cubic_sparsity,
    erk_densities,
    uniform_densities,
)

LENET = {"1.weight": (300, 784), "3.weight": (100, 300), "5.weight": (10, 100)}
shape_st = st.one_of(st.tuples(st.integers(1, 64), st.integers(1, 64)),
                     st.tuples(st.integers(1, 32), st.integers(1, 32), st.sampled_from([1, 3]),
                               st.sampled_from([1, 3])))


def kept(densities, shapes):
    return sum(densities[n] * np.prod(s) for n, s in shapes.items())


def test_erk_matches_the_formula_where_no_layer_is_full():
    shapes = {"a": (64, 32, 3, 3), "b": (128, 64, 3, 3), "c": (256, 512)}
    d = erk_densities(shapes, 0.1)
    eps = d["a"] / ((64 + 32 + 3 + 3) / (64 * 32 * 9))
    for name, shape in shapes.items():
        assert d[name] == pytest.approx(eps * sum(shape) / np.prod(shape))
    assert kept(d, shapes) == pytest.approx(0.1 * sum(np.prod(s) for s in shapes.values()))


def test_erk_keeps_a_small_layer_dense_and_rescales_the_rest():
    d = erk_densities(LENET, 0.2)
    assert d["5.weight"] == 1.0  # (10 + 100) / 1000 would scale above 1
    assert d["1.weight"] < d["3.weight"] < 1.0
    assert kept(d, LENET) == pytest.approx(0.2 * 266_200)


@given(st.dictionaries(st.sampled_from("abcdef"), shape_st, min_size=1),
       st.floats(0.05, 1.0))
def test_erk_keeps_the_target_and_every_density_in_range(shapes, density):
    try:
        d = erk_densities(shapes, density)
    except ValueError:
        return  # a target too small for the layers forced dense: refused, never wrong
    assert all(0.0 < v <= 1.0 for v in d.values())
    total = sum(np.prod(s) for s in shapes.values())
    assert kept(d, shapes) == pytest.approx(density * total, rel=1e-9)


def test_uniform_densities_and_bad_targets():
    assert uniform_densities(LENET, 0.3) == {n: 0.3 for n in LENET}
    for bad in (0.0, 1.5):
        with pytest.raises(ValueError, match="density"):
            erk_densities(LENET, bad)
    with pytest.raises(ValueError, match="dense"):
        erk_densities(LENET, 0.2, dense=["9.weight"])


def test_the_cubic_schedule_of_zhu_and_gupta():
    kw = dict(initial=0.0, final=0.9, start=100, every=10, updates=10)
    assert cubic_sparsity(0, **kw) == 0.0 and cubic_sparsity(99, **kw) == 0.0
    assert cubic_sparsity(100, **kw) == 0.0
    assert cubic_sparsity(150, **kw) == pytest.approx(0.9 + (0 - 0.9) * (1 - 5 / 10) ** 3)
    assert cubic_sparsity(155, **kw) == cubic_sparsity(150, **kw)  # held between updates
    assert cubic_sparsity(200, **kw) == pytest.approx(0.9) == cubic_sparsity(10**6, **kw)
    values = [cubic_sparsity(t, **kw) for t in range(0, 300)]
    assert values == sorted(values)  # sparsity only grows


def test_the_cosine_drop_fraction():
    assert cosine_drop_fraction(0, initial=0.3, end=100) == pytest.approx(0.3)
    assert cosine_drop_fraction(50, initial=0.3, end=100) == pytest.approx(0.15)
    assert cosine_drop_fraction(100, initial=0.3, end=100) == 0.0
    assert math.isclose(cosine_drop_fraction(25, initial=0.3, end=100),
                        0.15 * (1 + math.cos(math.pi / 4)))
