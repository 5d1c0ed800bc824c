"""The training loop: iterations of forward, loss, backward, step, with evaluation every N.

It records what the lottery-ticket papers measure: training loss, validation
loss and accuracy, test accuracy at every evaluation; the iteration of minimum
validation loss (the early-stopping criterion, found after the fact: training
always runs its full length) and the test accuracy there. It can keep
snapshots of the weights at chosen iterations (late reset rewinds to one).

Losses stay on the device between evaluations (one host round trip per
evaluation, not per step); a NaN or infinite loss stops training with an
error naming the first iteration where it appeared.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from tqdm.auto import tqdm

from . import nn, threads
from .checks import check_int
from .data import BatchIterator, Dataset, iterate_batches


class TrainingHook(Protocol):
    """What ``train`` calls after every optimizer step: the one door into the loop for the
    methods that change masks while training (gradual pruning, SET, RigL). The gradients of
    the step are still in ``model``'s layers (dense: backward fills every entry)."""

    def after_step(self, iteration: int, model: nn.Module, optimizer) -> None: ...


class NonFiniteLossError(FloatingPointError):
    """The training loss became NaN or infinite; ``iteration`` says where."""

    def __init__(self, iteration: int, value: float):
        super().__init__(
            f"training loss became {value} at iteration {iteration}; lower the learning "
            "rate or add warmup (the weights of the last good checkpoint are kept)"
        )
        self.iteration, self.value = iteration, value


@dataclass
class TrainResult:
    """What one training run measured. Accuracies are fractions in [0, 1]."""

    history: list[dict]
    final_test_accuracy: float
    final_val_accuracy: float
    early_stop_iteration: int
    early_stop_test_accuracy: float
    iterations: int
    seconds: float
    snapshots: dict[int, dict[str, np.ndarray]] = field(default_factory=dict, repr=False)

    @classmethod
    def of(cls, history: list[dict], iterations: int, seconds: float,
           snapshots: dict) -> TrainResult:
        """The result of a training whose evaluations are ``history``."""
        best = early_stop(history)
        return cls(history, final_test_accuracy=history[-1]["test_accuracy"],
                   final_val_accuracy=history[-1]["val_accuracy"],
                   early_stop_iteration=best["iteration"],
                   early_stop_test_accuracy=best["test_accuracy"], iterations=iterations,
                   seconds=seconds, snapshots=snapshots)

    def summary(self) -> dict:
        """The scalar results, without the history and snapshots."""
        return {
            "final_test_accuracy": self.final_test_accuracy,
            "final_val_accuracy": self.final_val_accuracy,
            "early_stop_iteration": self.early_stop_iteration,
            "early_stop_test_accuracy": self.early_stop_test_accuracy,
            "iterations": self.iterations,
            "seconds": self.seconds,
        }


def evaluate(model: nn.Module, x, y, batch_size: int = 1000,
             loss_fn: nn.CrossEntropyLoss | None = None) -> tuple[float, float]:
    """(mean loss, accuracy) of ``model`` on (x, y) in evaluation mode; the mode is restored."""
    xp = model.xp
    loss_fn = loss_fn or nn.CrossEntropyLoss(backend=model.backend)
    was_training = model.training
    model.eval()
    total_loss = xp.zeros((), dtype=np.float64)
    correct = xp.zeros((), dtype=np.int64)
    count = 0
    for xb, yb in iterate_batches(x, y, batch_size, backend=model.backend):
        logits = model.forward(xb)
        total_loss += loss_fn.compute(logits, yb) * len(yb)
        correct += (logits.argmax(axis=1) == yb).sum()
        count += len(yb)
    model.train(was_training)
    return float(total_loss) / count, int(correct) / count


def evaluation_iterations(iterations: int, eval_every: int, start: int = 0) -> list[int]:
    """start, then every multiple of eval_every after it, and the last iteration.

    A training that continues at iteration k (late reset) evaluates where the
    full training did, so the two histories line up on one axis.
    """
    points = [start] + [i for i in range(0, iterations + 1, eval_every) if i > start]
    if points[-1] != iterations:
        points.append(iterations)
    return points


def early_stop(history: Sequence[Mapping]) -> Mapping:
    """The evaluation of minimum validation loss (the earliest on a tie): the papers'
    early-stopping point, whose test accuracy is the one they report.

    Chosen on the validation set only; choosing by test loss or test accuracy
    would report the test set's best, which is the bug other implementations
    have and the tests guard against.
    """
    if not history:
        raise ValueError("history: got no evaluation, expected at least one")
    return min(history, key=lambda h: (h["val_loss"], h["iteration"]))


class _Evaluations:
    """A training's history: each evaluation (validation and test loss and accuracy) with
    the mean training loss of the interval before it. The interval's losses stay on the
    device until then: one host round trip per evaluation."""

    def __init__(self, model: nn.Module, dataset: Dataset, eval_every: int, start: int,
                 batch_size: int):
        backend = model.backend
        self.model, self.batch_size = model, batch_size
        self.loss_fn = nn.CrossEntropyLoss(backend=backend)
        self.val = backend.asarray(dataset.x_val), backend.asarray(dataset.y_val)
        self.test = backend.asarray(dataset.x_test), backend.asarray(dataset.y_test)
        self.losses = model.xp.zeros(eval_every, dtype=np.float32)
        self.interval_start = start
        self.history: list[dict] = []

    def loss(self, iteration: int, value) -> None:
        """The training loss of ``iteration`` (a device scalar), kept until the evaluation."""
        self.losses[iteration - self.interval_start - 1] = value

    def record(self, iteration: int) -> None:
        steps = iteration - self.interval_start
        train_loss = None
        if steps:
            host = self.model.backend.to_numpy(self.losses[:steps])
            bad = np.flatnonzero(~np.isfinite(host))
            if bad.size:
                raise NonFiniteLossError(self.interval_start + int(bad[0]) + 1,
                                         float(host[bad[0]]))
            train_loss = float(host.mean())
        val_loss, val_accuracy = evaluate(self.model, *self.val, self.batch_size, self.loss_fn)
        test_loss, test_accuracy = evaluate(self.model, *self.test, self.batch_size,
                                            self.loss_fn)
        self.history.append({"iteration": iteration, "train_loss": train_loss,
                             "val_loss": val_loss, "val_accuracy": val_accuracy,
                             "test_loss": test_loss, "test_accuracy": test_accuracy})
        self.interval_start = iteration


def _checked_schedule(iterations, eval_every, start_iteration, snapshot_at):
    """(iterations, eval_every, start_iteration, sorted snapshot iterations), checked."""
    iterations = check_int("iterations", iterations, 1)
    eval_every = check_int("eval_every", eval_every, 1)
    start_iteration = check_int("start_iteration", start_iteration, 0)
    if start_iteration >= iterations:
        raise ValueError(f"start_iteration: got {start_iteration}, expected an iteration "
                         f"before the last, {iterations}")
    snapshot_at = sorted({int(k) for k in snapshot_at})
    if snapshot_at and not start_iteration <= snapshot_at[0] <= snapshot_at[-1] <= iterations:
        raise ValueError(f"snapshot_at: got {snapshot_at}, expected iterations in "
                         f"[{start_iteration}, {iterations}]")
    return iterations, eval_every, start_iteration, snapshot_at


def train(
    model: nn.Module,
    dataset: Dataset,
    optimizer,
    *,
    iterations: int,
    batch_size: int,
    eval_every: int = 100,
    start_iteration: int = 0,
    seed: int = 0,
    snapshot_at: Iterable[int] = (),
    eval_batch_size: int = 1000,
    progress: bool = True,
    description: str = "train",
    hooks: Sequence[TrainingHook] = (),
) -> TrainResult:
    """Train ``model`` from iteration ``start_iteration`` to ``iterations``, in steps of
    ``batch_size`` examples.

    ``start_iteration`` > 0 continues a training from the weights of that
    iteration (late reset): the history counts from it, and ``optimizer``
    must have been made to start its schedule there. ``seed`` fixes the order
    of the batches and the dropout masks. The weights at each iteration in
    ``snapshot_at`` (``start_iteration`` = before the first step) are kept as
    host state dicts in ``result.snapshots``. ``hooks``: objects whose
    ``after_step(iteration, model, optimizer)`` runs after every optimizer step (the
    masks that change during training, sparse_training.py), in order.
    """
    iterations, eval_every, start_iteration, snapshot_at = _checked_schedule(
        iterations, eval_every, start_iteration, snapshot_at)
    data_seed, dropout_seed = np.random.SeedSequence(seed).generate_state(2)
    batches = iter(BatchIterator(dataset.x_train, dataset.y_train, batch_size,
                                 seed=int(data_seed), backend=model.backend))
    for index, module in enumerate(m for m in model.modules() if isinstance(m, nn.Dropout)):
        module.reseed(int(dropout_seed) + index)
    evaluations = _Evaluations(model, dataset, eval_every, start_iteration, eval_batch_size)
    loss_fn, history = evaluations.loss_fn, evaluations.history
    snapshots = ({start_iteration: model.state_dict()}
                 if snapshot_at and snapshot_at[0] == start_iteration else {})
    pending = [k for k in snapshot_at if k > start_iteration]

    model.train()
    start = time.perf_counter()
    checkpoints = set(evaluation_iterations(iterations, eval_every, start_iteration))
    with threads.limit(), tqdm(total=iterations, desc=description, disable=not progress,
                               leave=False, mininterval=0.5) as bar:
        evaluations.record(start_iteration)
        bar.update(start_iteration)  # a continued training shows where it is in the whole
        for iteration in range(start_iteration + 1, iterations + 1):
            xb, yb = next(batches)
            evaluations.loss(iteration, loss_fn.compute(model.forward(xb), yb))
            model.backward(loss_fn.backward(), need_input_grad=False)
            optimizer.step()
            for hook in hooks:
                hook.after_step(iteration, model, optimizer)
            if pending and iteration == pending[0]:
                snapshots[pending.pop(0)] = model.state_dict()
            if iteration in checkpoints:
                evaluations.record(iteration)
                bar.set_postfix(val_acc=f"{history[-1]['val_accuracy']:.3f}", refresh=False)
            bar.update(1)
    return TrainResult.of(history, iterations - start_iteration,
                          time.perf_counter() - start, snapshots)
