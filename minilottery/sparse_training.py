"""Masks that change while one network trains: gradual magnitude pruning, SET and RigL.

Each method is a training hook (train.TrainingHook): ``train`` calls its
``after_step`` after every optimizer step, and every few iterations it
changes the masks; nothing of the loop is copied.

- ``GradualPruning`` (Zhu & Gupta 2017, arXiv 1710.01878): from dense, each
  layer's sparsity follows the cubic schedule from ``start`` to ``end``,
  updated every ``every`` iterations; each update removes the kept weights
  of smallest |w| down to the schedule's count. One training, no rounds.
- ``DynamicSparse`` (SET, Mocanu et al. 2018; RigL, Evci et al. 2020,
  arXiv 1911.11134): from a random mask at the target density (uniform or
  ERK layer densities), every ``every`` iterations until ``end`` the
  drop fraction (cosine, sparse_schedules.py) of each layer's connections
  is dropped by magnitude and as many grown (drop_grow.py): at random
  (SET) or where the dense gradient of this step is largest (RigL). A grown
  connection starts at zero with no optimizer state; every layer keeps its
  count.

``CostMeter`` counts the training FLOPs a run spends at the masks in force
at each step (cost.py's convention), so methods whose density changes are
charged what they really trained.
"""

from __future__ import annotations

import numpy as np

from .cost import TRAINING_MULTIPLIER, layer_costs
from .drop_grow import drop_and_grow
from .nn import Module
from .nn.prunable import prunable_layers
from .prune import apply_masks, density, prunable_shapes
from .seeds import Stream, derived_seed
from .sparse_schedules import (
    cosine_drop_fraction,
    cubic_sparsity,
    erk_densities,
    uniform_densities,
)

DISTRIBUTIONS = ("uniform", "erk")
GROW = {"set": "random", "rigl": "gradient"}


def layer_densities(model: Module, target: float, distribution: str = "uniform") -> dict:
    """Name -> density of every prunable weight, keeping ``target`` overall."""
    if distribution not in DISTRIBUTIONS:
        raise ValueError(f"distribution: got {distribution!r}, expected one of "
                         f"{', '.join(DISTRIBUTIONS)}")
    shapes = prunable_shapes(model)
    if distribution == "erk":
        return erk_densities(shapes, target)
    return uniform_densities(shapes, target)


def random_masks(model: Module, densities: dict, seed: int) -> dict[str, np.ndarray]:
    """Host masks keeping round(density * size) random weights of each layer."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, shape in prunable_shapes(model).items():
        size = int(np.prod(shape))
        kept = max(1, round(densities[name] * size))
        mask = np.zeros(size, dtype=bool)
        mask[rng.choice(size, size=kept, replace=False)] = True
        out[name] = mask.reshape(shape)
    return out


def replace_masks(model: Module, optimizer, masks, grown=None) -> None:
    """Put new masks in force during training: dropped connections zeroed (apply_masks),
    grown ones set to zero, and the optimizer state of both cleared at once."""
    backend = model.backend
    layers = dict(prunable_layers(model))
    for name, where in (grown or {}).items():
        if np.any(where):
            layers[name].params["weight"][backend.asarray(where, dtype=bool)] = 0
    apply_masks(model, masks)
    for name, mask in masks.items():
        stale = ~np.asarray(mask, dtype=bool)
        if grown is not None and name in grown:
            stale |= np.asarray(grown[name], dtype=bool)
        optimizer.clear_state(name, backend.asarray(stale))


class _MaskHook:
    """The bookkeeping the methods share: when to update, the host masks, a log."""

    def __init__(self, every: int, end: int):
        if every < 1:
            raise ValueError(f"every: got {every}, expected an iteration count >= 1")
        self.every, self.end = int(every), int(end)
        self.masks: dict[str, np.ndarray] = {}
        self.log: list[dict] = []

    def start_masks(self, model: Module) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def due(self, iteration: int) -> bool:
        raise NotImplementedError

    def after_step(self, iteration: int, model: Module, optimizer) -> None:
        if self.due(iteration):
            self.update(iteration, model, optimizer)
            self.log.append({"iteration": iteration, "density": density(self.masks)})


class GradualPruning(_MaskHook):
    """Zhu & Gupta's gradual magnitude pruning to ``densities`` (name -> final density)."""

    def __init__(self, densities: dict[str, float], *, start: int, end: int, every: int):
        super().__init__(every, end)
        if not 0 <= start < end:
            raise ValueError(f"start: got {start}, expected an iteration in [0, end = {end})")
        self.densities, self.start = dict(densities), int(start)
        self.updates = max(1, (end - start) // self.every)

    def start_masks(self, model: Module) -> dict[str, np.ndarray]:
        self.masks = {name: np.ones(shape, dtype=bool)
                      for name, shape in prunable_shapes(model).items()}
        return self.masks

    @property
    def settled(self) -> int:
        """The iteration of the last update: the density is the target from here on."""
        return self.start + self.updates * self.every

    def due(self, iteration: int) -> bool:
        return (self.start < iteration <= self.start + self.updates * self.every
                and (iteration - self.start) % self.every == 0)

    def kept_count(self, name: str, size: int, iteration: int) -> int:
        """The weights layer ``name`` keeps after the update at ``iteration``."""
        sparsity = cubic_sparsity(iteration, initial=0.0, final=1.0 - self.densities[name],
                                  start=self.start, every=self.every, updates=self.updates)
        return max(1, round((1.0 - sparsity) * size))

    def update(self, iteration: int, model: Module, optimizer) -> None:
        to_numpy = model.backend.to_numpy
        new = {}
        for name, layer in prunable_layers(model):
            mask = self.masks[name]
            kept = np.flatnonzero(mask.ravel())
            drop = kept.size - self.kept_count(name, mask.size, iteration)
            new[name] = mask.copy()
            if drop > 0:
                magnitude = np.abs(to_numpy(layer.params["weight"])).ravel()
                # the smallest |w| of the kept, ties by position (stable)
                order = np.argsort(magnitude[kept], kind="stable")[:drop]
                new[name].ravel()[kept[order]] = False
        self.masks = new
        replace_masks(model, optimizer, new)


class DynamicSparse(_MaskHook):
    """SET (``method="set"``) or RigL (``"rigl"``) at fixed layer densities."""

    def __init__(self, method: str, densities: dict[str, float], *, every: int, end: int,
                 drop_fraction: float = 0.3, seed: int = 0):
        super().__init__(every, end)
        if method not in GROW:
            raise ValueError(f"method: got {method!r}, expected one of {', '.join(GROW)}")
        if not 0.0 < drop_fraction <= 1.0:
            raise ValueError(f"drop_fraction: got {drop_fraction!r}, expected a fraction "
                             "in (0, 1]")
        self.method, self.densities = method, dict(densities)
        self.drop_fraction, self.seed = float(drop_fraction), int(seed)

    settled = 0  # the density is the target from the start

    def start_masks(self, model: Module) -> dict[str, np.ndarray]:
        self.masks = random_masks(model, self.densities,
                                  derived_seed(self.seed, 0, Stream.SPARSE_MASK))
        return self.masks

    def due(self, iteration: int) -> bool:
        return iteration % self.every == 0 and iteration < self.end

    def update(self, iteration: int, model: Module, optimizer) -> None:
        to_numpy = model.backend.to_numpy
        layers = prunable_layers(model)
        weights = {name: to_numpy(layer.params["weight"]) for name, layer in layers}
        # RigL: the gradient this step's backward left, dense (the mask is applied only in
        # the optimizer's copy of it)
        grads = ({name: to_numpy(layer.grads["weight"]) for name, layer in layers}
                 if self.method == "rigl" else None)
        fraction = cosine_drop_fraction(iteration, initial=self.drop_fraction, end=self.end)
        new, grown = drop_and_grow(weights, self.masks, fraction, GROW[self.method], grads,
                                   seed=derived_seed(self.seed, iteration, Stream.SPARSE_GROW))
        self.masks = new
        replace_masks(model, optimizer, new, grown)
        self.grown = grown


class CostMeter:
    """Training FLOPs spent, step by step, at the masks in force (cost.py's convention:
    3x the forward's multiply-adds, zeros skipped, 2 FLOPs each). ``dense_gradient_at``:
    the iterations whose step also needs the dense weight gradient (RigL's updates), charged
    the weight-gradient product at full size."""

    def __init__(self, model: Module, input_shape, batch_size: int,
                 dense_gradient_at=lambda iteration: False):
        self.costs = {c.name: c for c in layer_costs(model, input_shape)}
        self.batch_size, self.dense_gradient_at = int(batch_size), dense_gradient_at
        self.flops, self._seen, self._step = 0.0, None, 0.0

    def _per_step(self, model: Module) -> float:
        masks = model.masks or {}
        macs = 0.0
        for name, cost in self.costs.items():
            mask = masks.get(name)
            kept = cost.weights if mask is None else int(mask.sum())
            macs += cost.macs * kept / cost.weights
        return 2 * TRAINING_MULTIPLIER * macs * self.batch_size

    def after_step(self, iteration: int, model: Module, optimizer) -> None:
        if model.masks is not self._seen:
            self._seen, self._step = model.masks, self._per_step(model)
        self.flops += self._step
        if self.dense_gradient_at(iteration):
            dense = sum(c.macs for c in self.costs.values())
            self.flops += 2 * dense * self.batch_size
