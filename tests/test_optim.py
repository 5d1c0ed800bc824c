"""Optimizers against reference formulas, schedules, and masks kept in force."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minilottery import nn, optim
from minilottery.prune import apply_masks


def two_layer(backend, seed=0):
    return nn.Sequential(nn.Linear(5, 4, rng=seed, backend=backend), nn.ReLU(backend=backend),
                         nn.Linear(4, 3, rng=seed + 1, backend=backend))


def set_grads(model, rng):
    """Give every parameter a random gradient, as a backward pass would."""
    for _name, module, key in model.parameter_slots():
        shape = module.params[key].shape
        module.grads[key] = model.backend.asarray(rng.standard_normal(shape).astype(np.float32))


def host_params(model):
    return {name: model.backend.to_numpy(p).astype(np.float64)
            for name, p in model.named_parameters()}


def host_grads(model):
    return {name: model.backend.to_numpy(g).astype(np.float64)
            for name, g in model.named_grads()}


# -- reference implementations, written from PyTorch's documented update rules --

def sgd_reference(params, grads_seq, lr, momentum, weight_decay, nesterov):
    params = {k: v.copy() for k, v in params.items()}
    velocity = {}
    for grads in grads_seq:
        for k in params:
            g = grads[k] + weight_decay * params[k]
            if momentum:
                velocity[k] = g if k not in velocity else momentum * velocity[k] + g
                g = g + momentum * velocity[k] if nesterov else velocity[k]
            params[k] = params[k] - lr * g
    return params


def adam_reference(params, grads_seq, lr, betas, eps, weight_decay):
    params = {k: v.copy() for k, v in params.items()}
    m = {k: np.zeros_like(v) for k, v in params.items()}
    v = {k: np.zeros_like(p) for k, p in params.items()}
    for t, grads in enumerate(grads_seq, start=1):
        for k in params:
            g = grads[k] + weight_decay * params[k]
            m[k] = betas[0] * m[k] + (1 - betas[0]) * g
            v[k] = betas[1] * v[k] + (1 - betas[1]) * g * g
            m_hat, v_hat = m[k] / (1 - betas[0] ** t), v[k] / (1 - betas[1] ** t)
            params[k] = params[k] - lr * m_hat / (np.sqrt(v_hat) + eps)
    return params


def run_steps(model, opt, steps, seed=0):
    rng = np.random.default_rng(seed)
    grads_seq = []
    for _ in range(steps):
        set_grads(model, rng)
        grads_seq.append(host_grads(model))
        opt.step()
    return grads_seq


@pytest.mark.parametrize("momentum, nesterov, weight_decay",
                         [(0.0, False, 0.0), (0.9, False, 0.0), (0.9, True, 1e-2),
                          (0.5, False, 1e-3)])
def test_sgd_matches_reference(backend, momentum, nesterov, weight_decay):
    model = two_layer(backend)
    start = host_params(model)
    opt = optim.SGD(model, 0.05, momentum=momentum, weight_decay=weight_decay,
                    nesterov=nesterov)
    grads_seq = run_steps(model, opt, 5)
    expected = sgd_reference(start, grads_seq, 0.05, momentum, weight_decay, nesterov)
    for name, value in host_params(model).items():
        np.testing.assert_allclose(value, expected[name], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("weight_decay", [0.0, 1e-2])
def test_adam_matches_reference(backend, weight_decay):
    model = two_layer(backend)
    start = host_params(model)
    opt = optim.Adam(model, 1e-2, betas=(0.9, 0.99), eps=1e-8, weight_decay=weight_decay)
    grads_seq = run_steps(model, opt, 6)
    expected = adam_reference(start, grads_seq, 1e-2, (0.9, 0.99), 1e-8, weight_decay)
    for name, value in host_params(model).items():
        np.testing.assert_allclose(value, expected[name], rtol=1e-4, atol=1e-6)


def test_updates_stay_float32(backend):
    model = two_layer(backend)
    opt = optim.Adam(model, 1e-3, weight_decay=1e-4)
    run_steps(model, opt, 2)
    assert all(p.dtype == np.float32 for p in model.parameters())
    assert all(s.dtype == np.float32 for state in opt.state.values() for s in state.values())


def test_schedules():
    assert optim.Constant(0.1)(12345) == 0.1
    step = optim.StepDecay(0.1, milestones=[100, 50], gamma=0.1)
    assert [step(t) for t in (0, 49, 50, 99, 100, 10**6)] == pytest.approx(
        [0.1, 0.1, 0.01, 0.01, 0.001, 0.001])
    warm = optim.LinearWarmup(step, warmup=10)
    assert warm(0) == pytest.approx(0.01)
    assert warm(4) == pytest.approx(0.05)
    assert warm(9) == pytest.approx(0.1)
    assert warm(60) == pytest.approx(0.01)
    assert optim.LinearWarmup(0.3, warmup=0)(0) == 0.3


def test_optimizer_follows_its_schedule(backend):
    model = two_layer(backend)
    opt = optim.SGD(model, optim.LinearWarmup(1.0, warmup=4))
    seen = []
    rng = np.random.default_rng(0)
    for _ in range(6):
        seen.append(opt.lr)
        set_grads(model, rng)
        opt.step()
    assert seen == pytest.approx([0.25, 0.5, 0.75, 1.0, 1.0, 1.0])


@pytest.mark.parametrize("make, match", [
    (lambda m: optim.SGD(m, 0.0), "lr"),
    (lambda m: optim.SGD(m, -1.0), "lr"),
    (lambda m: optim.SGD(m, math.nan), "lr"),
    (lambda m: optim.SGD(m, 0.1, momentum=-0.1), "momentum"),
    (lambda m: optim.SGD(m, 0.1, nesterov=True), "nesterov"),
    (lambda m: optim.SGD(m, 0.1, weight_decay=-1), "weight_decay"),
    (lambda m: optim.Adam(m, 0.1, betas=(0.9, 1.0)), "betas"),
    (lambda m: optim.Adam(m, 0.1, eps=0), "eps"),
    (lambda m: optim.StepDecay(0.1, milestones=[-1]), "milestones"),
    (lambda m: optim.LinearWarmup(0.1, warmup=-5), "warmup"),
])
def test_bad_arguments_are_named(make, match):
    with pytest.raises(ValueError, match=match):
        make(two_layer(None))


def test_step_without_backward_says_so():
    model = two_layer(None)
    with pytest.raises(RuntimeError, match="backward"):
        optim.SGD(model, 0.1).step()


OPTIMIZERS = {
    "sgd-momentum-wd": lambda m: optim.SGD(m, 0.1, momentum=0.9, weight_decay=1e-2),
    "sgd-nesterov-wd": lambda m: optim.SGD(m, 0.1, momentum=0.9, weight_decay=1e-2,
                                           nesterov=True),
    "adam-wd": lambda m: optim.Adam(m, 1e-2, weight_decay=1e-2),
}


@given(seed=st.integers(0, 2**16), steps=st.integers(1, 12),
       keep=st.floats(0.0, 1.0), name=st.sampled_from(sorted(OPTIMIZERS)))
def test_pruned_weights_stay_exactly_zero(seed, steps, keep, name):
    """After any number of steps with momentum, weight decay or Adam: pruned weights are 0,
    and the optimizer state of a pruned weight is 0 too (nothing to revive it)."""
    rng = np.random.default_rng(seed)
    model = two_layer(None, seed=seed % 100)
    masks = {n: rng.random(p.shape) < keep for n, p in model.named_parameters()
             if n.endswith("weight")}
    apply_masks(model, masks)
    opt = OPTIMIZERS[name](model)
    for _ in range(steps):
        set_grads(model, rng)
        opt.step()
    for n, mask in masks.items():
        weight = model.backend.to_numpy(dict(model.named_parameters())[n])
        assert np.all(weight[~mask] == 0.0)
        for buffer in opt.state.get(n, {}).values():
            assert np.all(model.backend.to_numpy(buffer)[~mask] == 0.0)
        if keep > 0.5:  # the surviving weights do move
            assert np.any(weight[mask] != 0.0)


def test_masks_set_mid_training_clear_the_state(backend):
    model = two_layer(backend)
    opt = optim.SGD(model, 0.1, momentum=0.9)
    run_steps(model, opt, 3)
    mask = np.zeros((4, 5), dtype=bool)
    mask[:, :2] = True
    apply_masks(model, {"0.weight": mask})
    run_steps(model, opt, 3, seed=1)
    weight = backend.to_numpy(dict(model.named_parameters())["0.weight"])
    velocity = backend.to_numpy(opt.state["0.weight"]["velocity"])
    assert np.all(weight[~mask] == 0) and np.all(velocity[~mask] == 0)
    assert np.all(weight[mask] != 0)


@pytest.mark.parametrize("k", [100, 500, 3000])
def test_adam_continuing_a_schedule_at_k_takes_a_first_step_like_any_first_step(k):
    """Adam's bias correction counts its own steps per parameter, not the schedule's
    iteration: a fresh Adam whose schedule starts at k (a late reset) must not scale its
    first update by (1 - β₂ᵏ)^½ / (1 - β₁ᵏ) / (1 - β₂)^½ · (1 - β₁) (3.08x at k = 3,000)."""
    fresh, late = two_layer(None), two_layer(None)
    host = fresh.backend.to_numpy
    before = {name: host(p).copy() for name, p in fresh.named_parameters()}
    first = optim.Adam(fresh, 1e-3)
    continuing = optim.Adam(late, 1e-3)
    continuing.iteration = k  # what a late-reset round does to the schedule
    run_steps(fresh, first, 1)
    run_steps(late, continuing, 1)
    for (name, a), (_, b) in zip(fresh.named_parameters(), late.named_parameters(), strict=True):
        step_a, step_b = host(a) - before[name], host(b) - before[name]
        assert np.abs(step_a).max() > 0
        np.testing.assert_allclose(step_b, step_a, rtol=1e-5, atol=1e-9)
    assert continuing.iteration == k + 1  # the schedule still advances from k
    assert set(continuing.steps.values()) == {1}
