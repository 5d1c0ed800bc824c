"""Iterative magnitude pruning: rounds of train -> prune -> reset, and the controls.

Round 0 trains the dense network. Each later round prunes the network the
previous round trained (iterative) or the dense one (one-shot, straight to
the density that many rounds would reach), resets the surviving weights and
trains again. Reset is one of

- ``init``: the weights of iteration 0 (Frankle & Carbin's winning ticket);
- ``rewind``: the weights of iteration k of the dense training (late reset,
  Frankle et al. 2019, docs/papers.md); the round continues that training from k: its
  schedule resumes at k and it trains the remaining T - k iterations, as
  OpenLTH does (docs/lottery.md);
- ``reinit``: fresh random weights under the same mask.

After each pruned round the controls train at the same density, over the
same iterations as the ticket: ``reinit`` (the ticket's mask, fresh random
weights) and ``random_prune`` (a random mask with the same per-layer counts,
from the ticket's reset weights).

Every round is saved as it finishes (results.json and a checkpoint), so the
same call on the same directory resumes after the last finished round, with
the same results as a run that was never interrupted.
"""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np

from .config import LotteryConfig
from .data import Dataset
from .models import build_like
from .progress import RunProgress, round_line
from .prune import (
    compound_rates,
    density,
    layer_density,
    magnitude_prune,
    ones_masks,
    random_masks_like,
)
from .recipe import build_model, prepare, round_seed, run_metadata, train_masked
from .runs import ConfigMismatchError, RunDirectory
from .seeds import Stream, derived_seed
from .train import TrainResult


def round_record(round_index: int, masks, result: TrainResult, **extra) -> dict:
    """The fields DESIGN.md lists for one round, plus timing."""
    return {
        "round": round_index,
        "density": density(masks),
        "layer_density": layer_density(masks),
        "kept_weights": int(sum(np.count_nonzero(m) for m in masks.values())),
        **result.summary(),
        **extra,
        "history": result.history,
    }


class LotteryRun:
    """One IMP run in one directory; ``run()`` trains every round not yet finished."""

    def __init__(self, config: LotteryConfig, out_dir, *, dataset: Dataset | None = None,
                 backend=None, progress: bool = True, on_round=None, log=print):
        self.directory = RunDirectory(out_dir)
        self.config, self.dataset = prepare(config, dataset)
        self.progress = progress
        self.log = log
        self.on_round = on_round or (lambda results: None)
        c = self.config
        self.model = build_model(c, self.dataset, backend=backend)
        self.rates, self.fraction = c.layer_rate_map(self.model)
        fresh = {
            "config": c.to_dict(),
            "meta": run_metadata(c, self.dataset, self.model, layer_rates=self.rates,
                                 weight_shapes={name: list(mask.shape) for name, mask
                                                in ones_masks(self.model).items()}),
            "rounds": [],
            "controls": {name: [] for name in c.controls},
        }
        # The number of rounds may grow on resume (continue a run for more rounds); with
        # --rewind-iteration auto the stored k is the one the search chose
        auto = c.rewind_iteration == "auto"
        ignore = ("rounds", "rewind_iteration") if auto else ("rounds",)
        self.results = self.directory.open(c.to_dict(), fresh, ignore=ignore)
        self.results["config"] = c.to_dict()
        # The figures name layers by their shapes (fc1 784x300); older runs gain them here
        self.results["meta"].setdefault("weight_shapes", fresh["meta"]["weight_shapes"])
        if auto:
            self._choose_rewind(backend, progress)

    def _choose_rewind(self, backend, progress: bool) -> None:
        """--rewind-iteration auto: the earliest stable iteration of the dense net
        (experiments/stability.py), searched once in <out>/stability (resumable), kept in meta.

        The one import of this module that points up a layer, made only when a run asks
        for it: the search is an experiment (two trainings per candidate k) that this run
        delegates to; stability imports nothing of the lottery, so there is no cycle.
        """
        from .experiments.stability import auto_rewind_iteration

        search = self.results["meta"].get("rewind_search")
        if search is None:
            if self.results["rounds"]:
                raise ConfigMismatchError(f"run directory {self.directory.path} was made with a "
                                          "fixed rewind_iteration, not auto")
            self.directory.save_results(self.results)  # before the search writes here
            search = auto_rewind_iteration(self.config, self.directory.path / "stability",
                                           dataset=self.dataset, backend=backend,
                                           progress=progress)[1]
            self.results["meta"]["rewind_search"] = search
        self.config = replace(self.config, rewind_iteration=search["chosen"])
        self.results["config"] = self.config.to_dict()
        self.directory.save_results(self.results)

    # -- the weights a round starts from ---------------------------------------------

    def _start_state(self, kind: str, round_index: int) -> dict[str, np.ndarray]:
        if kind == "reinit":
            seed = derived_seed(self.config.seed, round_index, Stream.REINIT)
            return build_like(self.model, seed).state_dict()
        return self.directory.load_checkpoint(kind)["weights"]

    def start_iteration(self, round_index: int) -> int:
        """Where a round's training starts: k for the pruned rounds of a late-reset run
        (they continue the dense training from the weights of iteration k), else 0."""
        c = self.config
        return c.rewind_iteration if round_index > 0 and c.reset == "rewind" else 0

    def _train(self, masks, start_state, round_index: int, label: str) -> TrainResult:
        c = self.config
        snapshot = [c.rewind_iteration] if round_index == 0 and c.reset == "rewind" else []
        return train_masked(self.model, self.dataset, c, masks, start_state,
                            seed=round_seed(c, round_index),
                            start_iteration=self.start_iteration(round_index),
                            snapshot_at=snapshot, progress=self.progress, description=label)

    def _prune(self, round_index: int, masks):
        """The masks of ``round_index`` from the trained weights now in the model."""
        if self.config.strategy == "iterative":
            return magnitude_prune(self.model, self.fraction, self.config.scope, masks,
                                   self.rates)
        # One-shot: from the dense network straight to the density of n rounds
        rates = compound_rates(self.rates, round_index)
        fraction = 1.0 - (1.0 - self.fraction) ** round_index
        if self.config.scope == "global":
            rates = {name: fraction if rate > 0 else 0.0 for name, rate in rates.items()}
        return magnitude_prune(self.model, fraction, self.config.scope, None, rates)

    # -- the rounds --------------------------------------------------------------------

    def planned_trainings(self) -> list[int]:
        """The iterations of every training of the run, in order: each round's ticket,
        then its controls (the same iterations as the ticket)."""
        c = self.config
        out = []
        for round_index in range(c.rounds + 1):
            count = 1 + (len(c.controls) if round_index else 0)
            out += [c.iterations - self.start_iteration(round_index)] * count
        return out

    def trainings_done(self) -> int:
        """How many of ``planned_trainings`` the stored rounds already hold."""
        done = len(self.results["rounds"])
        return done + len(self.config.controls) * max(0, done - 1)

    def run(self) -> dict:
        c = self.config
        rounds = self.results["rounds"]
        if len(rounds) > c.rounds:
            if self.log is not None:
                self.log(f"nothing left to train: {len(rounds)} rounds "
                         f"(0 to {len(rounds) - 1}) already in {self.directory.path}")
            return self.results
        with RunProgress(self.planned_trainings(), done=self.trainings_done(),
                         bars=self.progress, log=self.log) as progress:
            if rounds and self.log is not None:
                progress.write(f"resuming {self.directory.path} after round "
                               f"{len(rounds) - 1}")
            return self._run_rounds(progress)

    def _run_rounds(self, progress: RunProgress) -> dict:
        c = self.config
        rounds = self.results["rounds"]
        if not rounds:
            # results.json first: it marks the directory as this run's, so a run stopped
            # during round 0 resumes instead of being refused as a foreign directory
            self.directory.save_results(self.results)
            self.directory.save_checkpoint("init", weights=self.model.state_dict())
        masks = ones_masks(self.model)
        if rounds:
            # Resume: the last finished round's trained weights are what the next prunes
            last = self.directory.load_checkpoint(f"round_{len(rounds) - 1:02d}")
            masks = last["masks"]
        for round_index in range(len(rounds), c.rounds + 1):
            started = time.perf_counter()
            if round_index > 0:
                source = "round_00" if c.strategy == "oneshot" else f"round_{round_index - 1:02d}"
                self.model.load_state_dict(self.directory.load_checkpoint(source)["weights"])
                masks = self._prune(round_index, masks)
            # Round 0 is the dense network trained from iteration 0
            reset = c.reset if round_index else "init"
            start_state = self._start_state(reset, round_index)
            result = self._train(masks, start_state, round_index,
                                 f"round {round_index} ({100 * density(masks):.1f}%)")
            if round_index == 0 and c.reset == "rewind":
                self.directory.save_checkpoint(
                    "rewind", weights=result.snapshots[c.rewind_iteration])
            # Start weights live in init.npz / rewind.npz; a reinit round keeps its own
            extra = {"start": start_state} if reset == "reinit" else {}
            self.directory.save_checkpoint(f"round_{round_index:02d}", masks=masks,
                                           weights=self.model.state_dict(), **extra)
            record = round_record(round_index, masks, result, reset=reset)
            progress.finished()
            controls = (self._controls(round_index, masks, start_state, progress)
                        if round_index else {})
            rounds.append(record)
            for name, control in controls.items():
                self.results["controls"][name].append(control)
            self.results["meta"]["seconds_last_round"] = time.perf_counter() - started
            self.directory.save_results(self.results)
            progress.write(round_line(record, controls))
            self.on_round(self.results)
        return self.results

    def _controls(self, round_index: int, masks, start_state,
                  progress: RunProgress) -> dict[str, dict]:
        c = self.config
        out = {}
        for name in c.controls:
            if name == "reinit":
                control_masks, state = masks, self._start_state("reinit", round_index)
            else:
                seed = derived_seed(c.seed, round_index, Stream.RANDOM_MASK)
                control_masks, state = random_masks_like(masks, seed), start_state
            result = self._train(control_masks, state, round_index,
                                 f"  {name} ({100 * density(control_masks):.1f}%)")
            out[name] = round_record(round_index, control_masks, result, control=name)
            progress.finished()
        return out


def run_lottery(config: LotteryConfig, out_dir, *, dataset: Dataset | None = None,
                backend=None, progress: bool = True, on_round=None, log=print) -> dict:
    """Run (or resume) the lottery experiment ``config`` in ``out_dir``; return its results.

    ``dataset``: train on this Dataset instead of loading ``config.dataset``
    (its name is recorded in the results). ``progress``: the overall line and
    each training's bar (progress.py); ``log``: where the line of each finished
    round goes (None: nowhere). It writes no figure: ``minilottery.plots.plot_run_dir``
    draws them.
    """
    return LotteryRun(config, out_dir, dataset=dataset, backend=backend, progress=progress,
                      on_round=on_round, log=log).run()

