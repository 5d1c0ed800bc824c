"""Instability analysis: does training from iteration k end in one linearly connected valley?

Frankle, Dziugaite, Roy & Carbin, "Linear Mode Connectivity and the Lottery
Ticket Hypothesis" (arXiv 1912.05671; docs/papers.md). Take the weights θ_k of a network at
iteration k of training (dense, or a ticket: a mask applied to them). Train
two copies from θ_k to the end of training, identical except for the order
of the data (a different seed). Then walk the straight line between the two
results,

    θ(α) = (1 - α) θ_A + α θ_B,      α = 0, 1/(n-1), ..., 1   (n = 30),

and measure the test error at each point. The *error barrier* is

    barrier = max_α err(θ(α)) - (err(θ_A) + err(θ_B)) / 2.

A network is *stable* at k when the barrier is below a threshold (2%): the
noise of SGD no longer changes which valley training ends in. The paper finds
that IMP tickets match the dense network exactly when they are stable, and
that networks become stable early in training, which is how we choose the
late-reset point k of a lottery run (``--reset rewind --rewind-iteration auto``).

Choices made here:
- The two copies train for the remaining T - k iterations with the learning
  rate schedule continuing from iteration k and a fresh optimizer state (as
  OpenLTH does when it rewinds, and as a late-reset round of the lottery does).
- A ticket's masks are respected on the line: both ends are zero at pruned
  weights and so is every interpolated point (we multiply by the mask).
- BatchNorm running statistics are interpolated like the weights. (The paper
  works with networks without BatchNorm or leaves this unsaid; re-estimating
  the statistics at each α is the other option, more expensive.)
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import replace

import numpy as np

from ..config import LotteryConfig
from ..prune import density
from ..recipe import build_model, round_seed, train_masked
from ..seeds import Stream, derived_seed
from ..train import evaluate

DEFAULT_POINTS = 30
DEFAULT_THRESHOLD = 0.02
# Candidate k for --rewind-iteration auto, as fractions of training
AUTO_FRACTIONS = (0.0, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2)


# -- the line between two networks ---------------------------------------------------------

def interpolate_states(state_a: Mapping[str, np.ndarray], state_b: Mapping[str, np.ndarray],
                       alpha: float, masks: Mapping[str, np.ndarray] | None = None) -> dict:
    """θ(α) = (1 - α) θ_A + α θ_B for every float entry (weights, biases, BatchNorm statistics).

    α = 0 and α = 1 return exact copies of the ends. Masked weights are
    multiplied by their mask so pruned weights stay exactly zero.
    """
    if set(state_a) != set(state_b):
        raise ValueError(f"state_b: keys differ from state_a's: "
                         f"{sorted(set(state_a) ^ set(state_b))}")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha: got {alpha!r}, expected a number in [0, 1]")
    out = {}
    for name, a in state_a.items():
        a, b = np.asarray(a), np.asarray(state_b[name])
        if a.shape != b.shape:
            raise ValueError(f"state_b[{name!r}]: shape {b.shape}, expected {a.shape}")
        if alpha == 0.0 or not np.issubdtype(a.dtype, np.floating):
            value = a.copy()
        elif alpha == 1.0:
            value = b.copy()
        else:
            value = ((1.0 - alpha) * a + alpha * b).astype(a.dtype)
        if masks is not None and name in masks:
            value = value * np.asarray(masks[name], dtype=value.dtype)
        out[name] = value
    return out


def line_errors(model, state_a, state_b, x, y, alphas: Sequence[float],
                masks=None, batch_size: int = 1000) -> list[float]:
    """Error (1 - accuracy) on (x, y) of the network at each α on the line from A to B.

    ``model`` provides the architecture; its weights are overwritten.
    """
    # Evaluated once per α: move the data to the device once, not at every α
    x, y = model.backend.asarray(x), model.backend.asarray(y)
    errors = []
    for alpha in alphas:
        model.load_state_dict(interpolate_states(state_a, state_b, float(alpha), masks))
        errors.append(1.0 - evaluate(model, x, y, batch_size)[1])
    return errors


def error_barrier(errors: Sequence[float]) -> float:
    """max error on the line minus the mean error of its two ends."""
    if len(errors) < 2:
        raise ValueError(f"errors: got {len(errors)} values, expected at least the two ends")
    return float(max(errors) - (errors[0] + errors[-1]) / 2)


def alpha_grid(points: int) -> list[float]:
    """``points`` evenly spaced α from 0 to 1, both included."""
    if not isinstance(points, (int, np.integer)) or points < 2:
        raise ValueError(f"points: got {points!r}, expected an int >= 2")
    return [float(a) for a in np.linspace(0.0, 1.0, int(points))]


# -- one analysis: two copies from θ_k -----------------------------------------------------

def trajectory_states(config: LotteryConfig, dataset, ks: Sequence[int], *, init_state=None,
                      backend=None, progress: bool = False) -> dict[int, dict]:
    """The dense weights at each iteration in ``ks`` of the lottery's round-0 training.

    The same initial weights (``init_state``, else the model of ``config.seed``)
    and the same data order as round 0 of a lottery run of ``config``, so the
    state at k is exactly what that run would rewind to.
    """
    model = build_model(config, dataset, backend=backend)
    if init_state is None:
        init_state = model.state_dict()
    last = max(ks)
    if last == 0:
        return {0: init_state}
    # Round 0's recipe, stopped at the last k (the schedule does not depend on the length)
    to_last = replace(config, iterations=last, eval_every=last)
    result = train_masked(model, dataset, to_last, None, init_state, seed=round_seed(config, 0),
                          snapshot_at=ks, progress=progress, description=f"dense to k={last}")
    return result.snapshots


def instability(config: LotteryConfig, dataset, start_state, k: int, masks=None, *,
                points: int = DEFAULT_POINTS, backend=None, progress: bool = False) -> dict:
    """Train two copies from ``start_state`` (the weights at iteration k) and walk the line.

    Returns a record: k, density, the α grid, the test error at each α, the
    barrier, and each copy's final test accuracy.
    """
    c = config
    if not 0 <= k < c.iterations:
        raise ValueError(f"k: got {k}, expected an iteration in [0, {c.iterations}) "
                         "(training must have iterations left after k)")
    started = time.perf_counter()
    model = build_model(c, dataset, backend=backend)
    ends, accuracies = [], []
    for copy, stream in enumerate((Stream.STABILITY_COPY_A, Stream.STABILITY_COPY_B)):
        # The schedule continues where θ_k was taken, for the T - k iterations left
        result = train_masked(model, dataset, replace(c, eval_every=c.iterations), masks,
                              start_state, seed=derived_seed(c.seed, k, stream),
                              start_iteration=k, progress=progress,
                              description=f"k={k} copy {'AB'[copy]}")
        ends.append(model.state_dict())
        accuracies.append(result.final_test_accuracy)
    alphas = alpha_grid(points)
    errors = line_errors(model, ends[0], ends[1], dataset.x_test, dataset.y_test, alphas, masks)
    return {
        "k": int(k),
        "density": density(masks) if masks is not None else 1.0,
        "alphas": alphas,
        "test_errors": errors,
        "barrier": error_barrier(errors),
        "final_test_accuracy": accuracies,
        "seconds": time.perf_counter() - started,
    }


def stable_point(records: Sequence[Mapping], threshold: float = DEFAULT_THRESHOLD):
    """The smallest k whose barrier is below ``threshold``, or None."""
    stable = sorted(r["k"] for r in records if r["barrier"] < threshold)
    return stable[0] if stable else None


def stable_by_variant(records, threshold) -> dict:
    """The smallest stable k of each variant (None: none stable)."""
    variants = dict.fromkeys(r["variant"] for r in records)
    return {v: stable_point([r for r in records if r["variant"] == v], threshold)
            for v in variants}
