"""Mask operations (minilottery.mask_ops): distance, shuffling, inversion, early-bird."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from minilottery.mask_ops import EarlyBird, invert_masks, mask_distance, shuffle_within_layers

shapes = st.tuples(st.integers(1, 6), st.integers(1, 7))
masks_st = st.dictionaries(st.sampled_from(["0.weight", "2.weight", "4.weight"]),
                           shapes.flatmap(lambda s: arrays(bool, s)), min_size=1)


@given(masks_st)
def test_distance_is_zero_for_equal_masks_and_one_for_complements(masks):
    assert mask_distance(masks, masks) == 0.0
    assert mask_distance(masks, {n: ~m for n, m in masks.items()}) == 1.0


@given(masks_st, st.integers(0, 2**31))
def test_shuffling_keeps_each_layers_count_and_shape(masks, seed):
    shuffled = shuffle_within_layers(masks, seed)
    assert list(shuffled) == list(masks)
    for name, mask in masks.items():
        assert shuffled[name].shape == mask.shape and shuffled[name].dtype == bool
        assert shuffled[name].sum() == mask.sum()
    assert all(np.array_equal(a, b) for a, b in
               zip(shuffled.values(), shuffle_within_layers(masks, seed).values(), strict=True))


def test_shuffling_moves_the_kept_entries():
    mask = {"w": np.arange(1000).reshape(20, 50) < 300}
    moved = shuffle_within_layers(mask, 0)["w"]
    assert moved.sum() == 300 and 0.3 < mask_distance(mask, {"w": moved}) < 0.5


@given(masks_st, st.integers(0, 2**31))
def test_inversion_keeps_the_count_and_selects_the_lowest_scores(masks, seed):
    rng = np.random.default_rng(seed)
    scores = {n: rng.permutation(m.size).reshape(m.shape).astype(float)
              for n, m in masks.items()}
    inverted = invert_masks(scores, masks)
    for name, mask in masks.items():
        keep = int(mask.sum())
        assert inverted[name].sum() == keep
        # the kept entries are exactly the `keep` lowest scores (distinct scores here)
        order = np.sort(scores[name].ravel())
        assert set(scores[name][inverted[name]]) == set(order[:keep])


def test_inverting_a_magnitude_mask_at_half_density_gives_its_complement():
    scores = {"w": np.arange(10.0).reshape(2, 5)}
    top = {"w": scores["w"] >= 5}
    assert np.array_equal(invert_masks(scores, top)["w"], ~top["w"])


def test_masks_of_different_parameters_are_refused():
    with pytest.raises(ValueError, match="different parameters"):
        mask_distance({"a": np.ones(3, bool)}, {"b": np.ones(3, bool)})
    with pytest.raises(ValueError, match="shape"):
        mask_distance({"a": np.ones(3, bool)}, {"a": np.ones(4, bool)})


def planted(distances_from_start, size=1000):
    """Masks whose first k entries flip: mask i differs from mask 0 in the first k_i."""
    out = []
    for k in distances_from_start:
        mask = np.zeros(size, bool)
        mask[:k] = True
        out.append({"w": mask})
    return out


def test_the_early_bird_stops_once_the_last_window_has_settled():
    # Moving 30% per step, then 2% per step: the window of 3 settles when its first
    # and last are within 10% (4% apart)
    sequence = planted([0, 300, 600, 900, 920, 940, 960, 980])
    bird = EarlyBird(window=3, threshold=0.1)
    found = [bird.update(m) for m in sequence]
    assert found == [False, False, False, False, False, True, True, True]
    assert bird.distances[5] == pytest.approx(0.04)


def test_the_early_bird_waits_for_a_full_window():
    bird = EarlyBird(window=5, threshold=0.1)
    assert not any(bird.update(m) for m in planted([0, 0, 0, 0]))
    assert bird.update(planted([0])[0])


def test_the_early_bird_checks_its_arguments():
    with pytest.raises(ValueError, match="window"):
        EarlyBird(window=1)
    with pytest.raises(ValueError, match="threshold"):
        EarlyBird(threshold=1.5)


def test_keep_largest_keeps_the_top_scores_at_the_other_masks_counts():
    from minilottery.mask_ops import keep_largest

    scores = {"a": np.array([[0.1, 5.0, 3.0], [2.0, 0.0, 4.0]]), "b": np.arange(4.0)}
    like = {"a": np.array([[1, 1, 0], [0, 0, 0]], bool), "b": np.zeros(4, bool)}
    kept = keep_largest(scores, like)
    assert np.array_equal(kept["a"], [[False, True, False], [False, False, True]])
    assert not kept["b"].any()
