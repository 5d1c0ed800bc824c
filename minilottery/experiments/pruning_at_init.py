"""Pruning at initialisation: masks chosen before any training, as baselines against IMP.

IMP needs a full training run per round to find its mask (docs/papers.md). These methods score
every weight of the untrained network once (or a few times) and keep the best:

- SNIP (Lee, Ajanthan & Torr, ICLR 2019, "Single-shot network pruning based
  on connection sensitivity"): on one batch of training data at
  initialisation, the sensitivity of the loss to a gate c_j on weight j,
  |∂L/∂c_j| at c = 1, which is |g_j · w_j| with g = ∂L/∂w. One shot.
- SynFlow (Tanaka, Kunin, Yamins & Ganguli, NeurIPS 2020, "Pruning neural
  networks without any data by iteratively conserving synaptic flow"):
  data-free. Replace every parameter by its absolute value, feed an all-ones
  input and take R = 1ᵀ f(1) (for a linear chain, R = 1ᵀ |W_L| ... |W_1| 1).
  The score of weight j is |∂R/∂θ_j · θ_j|. Pruning is iterative: 100 rounds
  on an exponential schedule, density^(i/100) after round i, rescoring the
  masked network each time, which is what keeps layers from collapsing.
  As in the paper's code, every entry of the state dict (BatchNorm running
  statistics included) becomes |·| and the network runs in evaluation mode,
  so BatchNorm is a fixed positive affine map (the identity at init:
  running mean 0, variance 1); the pass runs in float64, products of many
  layers overflow float32.
- GraSP (Wang, Zhang & Grosse, ICLR 2020, "Picking winning tickets before
  training by preserving gradient flow"): keep the gradient norm large after
  pruning. With g = ∂L/∂w and H the Hessian, removing weight j changes
  gᵀg by about -2 w_j (Hg)_j, so GraSP's score is S = -w ⊙ Hg and it removes
  the highest S. Without autograd we get Hg by a central difference of
  gradients along g: Hg ≈ (∇L(w + εg) - ∇L(w - εg)) / 2ε, in float64, in
  evaluation mode (both passes must see the same network), with the
  paper's temperature 200 on the logits.

Both rank all prunable weights together (global), as their papers do, and hit
the requested density exactly: kept = round(density · total).
Gradients come from our own backward passes.
"""

from __future__ import annotations

import copy

import numpy as np

from ..data import BatchIterator
from ..nn import CrossEntropyLoss, Module, prunable_layers
from ..prune import ones_masks, prune_by_scores

METHODS = ("snip", "synflow", "grasp", "random")
SYNFLOW_ITERATIONS = 100
SNIP_BATCH = 100
GRASP_TEMPERATURE = 200.0


def _check_density(value) -> float:
    if not (isinstance(value, (int, float, np.floating)) and 0.0 < value <= 1.0):
        raise ValueError(f"density: got {value!r}, expected a fraction in (0, 1]")
    return float(value)


def prune_to_count(model: Module, scores, masks, kept: int):
    """Narrow ``masks`` to exactly ``kept`` weights over all layers, lowest score out first."""
    alive = int(sum(np.count_nonzero(m) for m in masks.values()))
    if not 1 <= kept <= alive:
        raise ValueError(f"kept: got {kept}, expected 1 to the {alive} weights still unpruned")
    if kept == alive:
        return {name: np.asarray(m, dtype=bool).copy() for name, m in masks.items()}
    # prune_by_scores removes round(fraction · alive) = alive - kept exactly
    return prune_by_scores(model, scores, (alive - kept) / alive, "global", masks)


def target_count(masks, density_: float) -> int:
    """round(density · total prunable weights), at least 1."""
    total = sum(int(np.size(m)) for m in masks.values())
    return max(1, round(_check_density(density_) * total))


# -- SNIP ----------------------------------------------------------------------------------

def snip_scores(model: Module, x, y) -> dict[str, np.ndarray]:
    """|∂L/∂w ⊙ w| for every prunable weight, on the batch (x, y); the model is unchanged.

    The pass runs in training mode (BatchNorm on batch statistics, as at the
    start of training); the running statistics it moves are restored.
    """
    backend = model.backend
    saved, was_training = model.state_dict(), model.training
    model.train()
    loss = CrossEntropyLoss(backend=backend)
    loss.compute(model.forward(backend.asarray(x)), backend.asarray(y))
    model.backward(loss.backward(), need_input_grad=False)
    # ∂L/∂c at c = 1 for w·c is g·w: the connection sensitivity
    scores = {name: np.abs(backend.to_numpy(layer.grads["weight"] * layer.params["weight"]))
              for name, layer in prunable_layers(model)}
    model.load_state_dict(saved)
    model.train(was_training)
    return scores


def snip_masks(model: Module, density_: float, x, y):
    """SNIP's mask at ``density_``: the top weights by |g · w| on the batch (x, y), one shot."""
    masks = ones_masks(model)
    return prune_to_count(model, snip_scores(model, x, y), masks, target_count(masks, density_))


# -- SynFlow -------------------------------------------------------------------------------

def _synflow_network(model: Module):
    """(a float64 copy of ``model`` in evaluation mode with every parameter and buffer
    replaced by its absolute value, the |θ| of its prunable weights): built once per mask,
    the rounds then rescore it on the device."""
    work = copy.deepcopy(model)
    work.to(dtype=np.float64)  # through the host, once
    work.eval()
    for module in work.modules():
        for store in (module.params, module.buffers):
            for key in store:
                store[key] = work.xp.abs(store[key])
    return work, {name: layer.params["weight"].copy() for name, layer in prunable_layers(work)}


def synflow_scores(model: Module, input_shape, masks=None, *,
                   network=None) -> dict[str, np.ndarray]:
    """|∂R/∂θ ⊙ θ| for every prunable weight, R = Σ f_|θ|(1); the model is unchanged.

    Works on a float64 copy with every parameter and buffer replaced by its
    absolute value (pruned weights zero), in evaluation mode; ``network`` is
    that copy from ``_synflow_network``, to reuse it across rounds.
    """
    work, absolute = network or _synflow_network(model)
    backend, xp = work.backend, work.xp
    masks = masks or {}
    for name, layer in prunable_layers(work):
        weight = layer.params["weight"]
        weight[...] = absolute[name]
        if name in masks:
            weight *= backend.asarray(masks[name], dtype=bool)
    ones = xp.ones((1, *tuple(input_shape)), dtype=np.float64)
    out = work.forward(ones)
    # R = 1ᵀ f(1): dR/d out = 1
    work.backward(xp.ones_like(out), need_input_grad=False)
    return {name: backend.to_numpy(xp.abs(layer.grads["weight"] * layer.params["weight"]))
            for name, layer in prunable_layers(work)}


def synflow_masks(model: Module, density_: float, input_shape,
                  iterations: int = SYNFLOW_ITERATIONS):
    """SynFlow's mask: ``iterations`` rounds of rescoring, density^(i/iterations) after round i."""
    if not isinstance(iterations, (int, np.integer)) or iterations < 1:
        raise ValueError(f"iterations: got {iterations!r}, expected an int >= 1")
    masks = ones_masks(model)
    total = sum(int(np.size(m)) for m in masks.values())
    final = target_count(masks, density_)
    network = _synflow_network(model)
    for i in range(1, iterations + 1):
        # Exponential schedule; the last round lands exactly on the target
        kept = final if i == iterations else max(final, round(total * density_ ** (i / iterations)))
        scores = synflow_scores(model, input_shape, masks, network=network)
        masks = prune_to_count(model, scores, masks, kept)
    return masks


# -- GraSP -------------------------------------------------------------------------------

def _weight_grads(model: Module, x, y, temperature: float) -> dict:
    """∂L/∂w of every prunable weight, L the cross-entropy of logits / temperature."""
    loss = CrossEntropyLoss(backend=model.backend)
    loss.compute(model.forward(x) / temperature, y)
    # d L / d logits = (1 / T) · d L / d (logits / T)
    model.backward(loss.backward() / temperature, need_input_grad=False)
    return {name: layer.grads["weight"].copy() for name, layer in prunable_layers(model)}


def grasp_scores(model: Module, x, y, temperature: float = GRASP_TEMPERATURE) -> dict:
    """w ⊙ Hg for every prunable weight (= -S, GraSP's score negated: low is pruned first).

    Hg by central differences of the gradient along g, on a float64 copy in
    evaluation mode; the model is unchanged.
    """
    work = copy.deepcopy(model)
    work.to(dtype=np.float64)
    work.eval()
    backend, xp = work.backend, work.xp
    x, y = backend.asarray(x, dtype=np.float64), backend.asarray(y)  # host or device
    weights = {name: layer.params["weight"] for name, layer in prunable_layers(work)}
    g = _weight_grads(work, x, y, temperature)
    norm_w = float(xp.sqrt(sum((w * w).sum() for w in weights.values())))
    norm_g = float(xp.sqrt(sum((d * d).sum() for d in g.values())))
    if norm_g == 0.0:
        raise ValueError("grasp: the gradient is zero on this batch, no direction to follow")
    eps = 1e-6 * norm_w / norm_g  # a step of 1e-6 of the weights' norm along g
    saved = {name: w.copy() for name, w in weights.items()}
    for name, w in weights.items():
        w += eps * g[name]
    plus = _weight_grads(work, x, y, temperature)
    for name, w in weights.items():
        w[...] = saved[name] - eps * g[name]
    minus = _weight_grads(work, x, y, temperature)
    # Hg ≈ (∇L(w + εg) - ∇L(w - εg)) / 2ε
    return {name: backend.to_numpy(saved[name] * (plus[name] - minus[name]) / (2 * eps))
            for name in weights}


def grasp_masks(model: Module, density_: float, x, y):
    """GraSP's mask at ``density_``: remove the weights of highest -w ⊙ Hg, one shot."""
    masks = ones_masks(model)
    return prune_to_count(model, grasp_scores(model, x, y), masks, target_count(masks, density_))


def random_masks(model: Module, density_: float, seed: int):
    """Uniformly random global mask at ``density_`` (the naive baseline)."""
    masks = ones_masks(model)
    rng = np.random.default_rng(seed)
    scores = {name: rng.random(np.shape(m)) for name, m in masks.items()}
    return prune_to_count(model, scores, masks, target_count(masks, density_))


def method_masks(method: str, model: Module, density_: float, dataset, *, seed: int = 0,
                 snip_batch: int = SNIP_BATCH, synflow_iterations: int = SYNFLOW_ITERATIONS):
    """The mask of ``method`` (one of METHODS) for ``model`` at its current weights."""
    if method in ("snip", "grasp"):
        batch = min(snip_batch, len(dataset.y_train))
        x, y = next(iter(BatchIterator(dataset.x_train, dataset.y_train, batch, seed=seed,
                                       backend=model.backend)))
        return (snip_masks if method == "snip" else grasp_masks)(model, density_, x, y)
    if method == "synflow":
        return synflow_masks(model, density_, dataset.input_shape, synflow_iterations)
    if method == "random":
        return random_masks(model, density_, seed)
    raise ValueError(f"method: got {method!r}, expected one of {', '.join(METHODS)}")
