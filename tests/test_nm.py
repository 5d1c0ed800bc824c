"""N:M masks (minilottery.nm): exactly N of every M along the input, the largest."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minilottery.models import get_model
from minilottery.nm import nm_mask, nm_prune
from minilottery.optim import SGD
from minilottery.prune import apply_masks

nm_st = st.sampled_from([(1, 2), (2, 4), (1, 4), (3, 4), (4, 8)])


def groups(mask, m):
    """Each group of M input channels as a row (the layout nm.py documents)."""
    moved = mask if mask.ndim == 2 else mask.transpose(0, 2, 3, 1)
    return moved.reshape(-1, m)


@given(nm_st, st.integers(1, 5), st.integers(1, 3), st.sampled_from([2, 4]),
       st.integers(0, 2**31))
def test_every_group_keeps_exactly_n_of_its_largest(nm, out, groups_in, ndim, seed):
    n, m = nm
    shape = (out, groups_in * m) if ndim == 2 else (out, groups_in * m, 3, 3)
    weight = np.random.default_rng(seed).standard_normal(shape)
    mask = nm_mask(weight, n, m)
    assert mask.shape == weight.shape
    g_mask, g_weight = groups(mask, m), np.abs(groups(weight, m))
    assert (g_mask.sum(axis=1) == n).all()
    kept = np.where(g_mask, g_weight, np.inf).min(axis=1)
    dropped = np.where(g_mask, -np.inf, g_weight).max(axis=1)
    assert (kept >= dropped).all()


def test_a_narrowed_mask_never_revives_a_pruned_weight():
    weight = np.array([[4.0, 3.0, 2.0, 1.0]])
    earlier = np.array([[False, True, True, True]])
    assert nm_mask(weight, 2, 4, earlier).tolist() == [[False, True, True, False]]
    sparse = np.array([[False, False, False, True]])
    assert nm_mask(weight, 2, 4, sparse).tolist() == [[False, False, False, True]]


def test_bad_arguments_name_themselves():
    with pytest.raises(ValueError, match="multiple of M"):
        nm_mask(np.ones((3, 6)), 2, 4, name="1.weight")
    with pytest.raises(ValueError, match="at most m"):
        nm_mask(np.ones((3, 8)), 5, 4)


def test_nm_masks_hold_through_training():
    """2:4 on LeNet: pruned weights stay zero and every group keeps 2 after SGD steps."""
    model = get_model("lenet300", (1, 28, 28), 10, seed=0)
    masks = nm_prune(model, 2, 4)
    apply_masks(model, masks)
    optimizer = SGD(model, lr=0.1, momentum=0.9, weight_decay=1e-3)
    rng = np.random.default_rng(0)
    from minilottery.nn import CrossEntropyLoss

    loss = CrossEntropyLoss(backend=model.backend)
    for _ in range(3):
        x = model.backend.asarray(rng.standard_normal((8, 1, 28, 28)).astype(np.float32))
        y = model.backend.asarray(rng.integers(0, 10, 8))
        loss.forward(model.forward(x), y)
        model.backward(loss.backward())
        optimizer.step()
    for name, weight in model.named_parameters():
        if name in masks:
            w = model.backend.to_numpy(weight)
            mask = np.asarray(masks[name])
            assert (w[~mask] == 0).all()
            assert (groups(w != 0, 4).sum(axis=1) <= 2).all()
            assert (groups(mask, 4).sum(axis=1) == 2).all()
