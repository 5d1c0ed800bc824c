"""Dynamic sparse training's connection update (minilottery.drop_grow)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minilottery.drop_grow import drop_and_grow


def layer(seed, shape=(12, 9), density=0.3):
    rng = np.random.default_rng(seed)
    weights = rng.standard_normal(shape)
    mask = rng.random(shape) < density
    return {"w": weights * mask}, {"w": mask}, {"w": rng.standard_normal(shape)}


@given(st.integers(0, 10**6), st.floats(0.0, 1.0), st.sampled_from(["random", "gradient"]),
       st.floats(0.05, 0.95))
def test_the_count_of_every_layer_stays_and_only_free_places_grow(seed, fraction, grow,
                                                                  density):
    weights, masks, grads = layer(seed, density=density)
    new, grown = drop_and_grow(weights, masks, fraction, grow, grads, seed=seed)
    assert new["w"].sum() == masks["w"].sum()
    assert (grown["w"] <= new["w"]).all()
    survivors = new["w"] & ~grown["w"]
    assert (survivors <= masks["w"]).all()  # what was not grown was kept before
    # what was dropped (regrown or not) is among the smallest kept magnitudes
    dropped = masks["w"] & ~survivors
    if dropped.any():
        if survivors.any():
            assert np.abs(weights["w"][dropped]).max() <= np.abs(weights["w"][survivors]).min()


def test_rigl_grows_where_the_dense_gradient_is_largest():
    weights = {"w": np.array([5.0, 0.1, 3.0, 0.0, 0.0, 0.0])}
    masks = {"w": np.array([True, True, True, False, False, False])}
    grads = {"w": np.array([0.0, 0.0, 0.0, 0.2, -9.0, 1.0])}
    new, grown = drop_and_grow(weights, masks, 1 / 3, "gradient", grads)
    # drops the 0.1, grows at |g| = 9
    assert new["w"].tolist() == [True, False, True, False, True, False]
    assert grown["w"].tolist() == [False, False, False, False, True, False]


def test_set_grows_at_random_and_is_deterministic_for_a_seed():
    weights, masks, _ = layer(0, shape=(40, 40))
    a, _ = drop_and_grow(weights, masks, 0.3, "random", seed=1)
    b, _ = drop_and_grow(weights, masks, 0.3, "random", seed=1)
    c, _ = drop_and_grow(weights, masks, 0.3, "random", seed=2)
    assert np.array_equal(a["w"], b["w"]) and not np.array_equal(a["w"], c["w"])


def test_bad_arguments_are_refused():
    weights, masks, _ = layer(0)
    with pytest.raises(ValueError, match="fraction"):
        drop_and_grow(weights, masks, 1.5)
    with pytest.raises(ValueError, match="grow"):
        drop_and_grow(weights, masks, 0.3, "magic")
    with pytest.raises(ValueError, match="grads"):
        drop_and_grow(weights, masks, 0.3, "gradient")
