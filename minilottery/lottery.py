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

``retrain`` (Renda et al. 2020, arXiv 2003.02389) says what a pruned round
starts from, each over the same T - k iterations: ``weights`` (the reset
above, the schedule from k), ``lr`` (the weights just pruned, the schedule
replayed from k) or ``finetune`` (the weights just pruned, the final learning
rate throughout).

After each pruned round the controls train at the same density, over the
same iterations as the ticket: ``reinit`` (the ticket's mask, fresh random
weights) and ``random_prune`` (a random mask with the same per-layer counts,
from the ticket's reset weights). A finished run may gain a control: the same
call with more ``controls`` trains the new ones at every stored round (from the
round's checkpoint) and gives what a run with them from the start gives.

Every round is saved as it finishes (results.json and a checkpoint), so the
same call on the same directory resumes after the last finished round, with
the same results as a run that was never interrupted. A round whose checkpoint
is no longer intact (runs.py checks each against its recorded sha256) is
trained again, with every round after it.
"""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np

from .config import LotteryConfig, parse_nm
from .cost import annotate_costs, dense_layer_costs
from .data import Dataset
from .models import build_like
from .nm import check_groups, nm_round
from .progress import round_line
from .prune import (
    compound_rates,
    density,
    global_rates,
    layer_density,
    magnitude_prune,
    ones_masks,
    random_masks_like,
)
from .recipe import build_model, prepare, round_seed, run_metadata
from .runner import ResumableRun, RunContext
from .runs import ConfigMismatchError, DamagedFileError
from .seeds import Stream, derived_seed
from .stored_run import round_name
from .structured import channel_prune, leaves, structured_record
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


class LotteryRun(ResumableRun):
    """One IMP run in one directory; ``run()`` trains every round not yet finished.

    A step is a round: the ticket's training, then its controls'. A config whose
    ``rewind_iteration`` is "auto" opens the directory but cannot run until
    ``choose_rewind`` hands it the searched k (sweep/late_reset.py decides it).
    """

    def __init__(self, config: LotteryConfig, out_dir, *, context: RunContext | None = None,
                 on_round=None):
        super().__init__(out_dir, context, on_round)
        self.given = config  # as given: what it leaves to the preset is named so on a mismatch
        self.config, self.dataset = prepare(config, self.context.dataset)
        c = self.config
        self.model = build_model(c, self.dataset, backend=self.context.backend)
        self.rates, self.fraction = c.layer_rate_map(self.model)
        self.masks = ones_masks(self.model)
        self._check_scope()
        # The number of rounds and the controls may grow on resume (continue a run for more
        # rounds, add a control); with --rewind-iteration auto the stored k is the search's
        self.ignore = ("rounds", "controls") + (("rewind_iteration",) if self.auto else ())
        self.open()
        self._add_controls()
        self.results["config"] = c.to_dict()
        # The figures name layers by their shapes (fc1 784x300); older runs gain them here
        self.results["meta"].setdefault("weight_shapes", self._weight_shapes())
        # Each layer's weights and MACs: the cost of every round and control (cost.py)
        self.results["meta"].setdefault(
            "layer_costs", dense_layer_costs(self.model, self.dataset.input_shape))

    @property
    def auto(self) -> bool:
        return self.config.rewind_iteration == "auto"

    def _weight_shapes(self) -> dict:
        return {name: list(mask.shape) for name, mask in ones_masks(self.model).items()}

    def identity(self) -> dict:
        return self.config.to_dict()

    def derived(self) -> dict[str, str]:
        return self.given.derived()

    def _add_controls(self) -> None:
        """Controls given now and not stored start empty; dropping a stored one is refused."""
        stored = self.results["config"].get("controls", [])
        given = self.config.controls
        dropped = [name for name in stored if name not in given]
        if dropped:
            raise ConfigMismatchError(
                f"run directory {self.directory.path} holds a run with controls "
                f"{','.join(stored)}; got --controls {','.join(given) or 'none'}, which "
                f"drops {','.join(dropped)} (a run may add controls on resume, not drop them)")
        for name in given:
            self.results["controls"].setdefault(name, [])

    def _missing_controls(self, round_index: int) -> list[str]:
        """The controls not yet trained at a stored round (round r's is entry r - 1)."""
        if round_index == 0:
            return []
        return [name for name in self.config.controls
                if len(self.results["controls"][name]) < round_index]

    def fresh(self) -> dict:
        c = self.config
        return {"meta": run_metadata(c, self.dataset, self.model, layer_rates=self.rates,
                                     weight_shapes=self._weight_shapes()),
                "rounds": [], "controls": {name: [] for name in c.controls}}

    # -- "auto": the rewind point chosen above the engine ---------------------------------

    @property
    def rewind_search(self) -> dict | None:
        """The stored search of ``--rewind-iteration auto`` (None: not searched yet)."""
        search = self.results["meta"].get("rewind_search")
        if search is None and self.results["rounds"]:
            raise ConfigMismatchError(f"run directory {self.directory.path} was made with a "
                                      "fixed rewind_iteration, not auto")
        return search

    def choose_rewind(self, search: dict) -> None:
        """Use the k of ``search`` (a summary with "chosen", kept in meta) for "auto"."""
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

    def _train(self, masks, start_state, round_index: int, label: str) -> TrainResult:
        c = self.config
        snapshot = [c.rewind_iteration] if round_index == 0 and c.reset == "rewind" else []
        recipe = c.retrain_config() if round_index else c
        return self.fit(self.model, recipe, masks, start_state, seed=round_seed(c, round_index),
                        start_iteration=c.start_iteration(round_index), snapshot_at=snapshot,
                        description=label)

    def _prune(self, round_index: int, masks):
        """The masks of ``round_index`` from the trained weights now in the model."""
        if self.config.scope in ("nm", "channel"):
            return self._prune_structured(round_index, masks)
        if self.config.strategy == "iterative":
            return magnitude_prune(self.model, self.fraction, self.config.scope, masks,
                                   self.rates)
        # One-shot: from the dense network straight to the density of n rounds
        rates = compound_rates(self.rates, round_index)
        fraction = 1.0 - (1.0 - self.fraction) ** round_index
        if self.config.scope == "global":
            rates = global_rates(rates, fraction)
        return magnitude_prune(self.model, fraction, self.config.scope, None, rates)

    def _check_scope(self) -> None:
        """Before anything is trained: the nm and channel scopes can prune this model."""
        if self.config.scope == "nm":
            check_groups(self.model, parse_nm(self.config.nm)[1],
                         {name for name, rate in self.rates.items() if rate > 0})
        elif self.config.scope == "channel":
            leaves(self.model)  # a chain of layers; a residual block is refused

    def _prune_structured(self, round_index: int, masks):
        """N:M groups (nm.py) or whole channels (structured.py); one-shot starts from dense."""
        c = self.config
        iterative = c.strategy == "iterative"
        if c.scope == "nm":
            n, m = parse_nm(c.nm)
            layers = {name for name, rate in self.rates.items() if rate > 0}
            return nm_round(self.model, round_index, n, m, masks if iterative else None,
                            layers)
        rates = self.rates if iterative else compound_rates(self.rates, round_index)
        return channel_prune(self.model, rates, masks if iterative else None,
                             self.dataset.input_shape, c.channel_criterion)

    # -- the rounds --------------------------------------------------------------------

    def steps(self) -> list[int]:
        return list(range(self.config.rounds + 1))

    def is_done(self, round_index: int) -> bool:
        return (round_index < len(self.results["rounds"])
                and not self._missing_controls(round_index))

    def trainings(self, round_index: int) -> list[int]:
        """Each round's ticket, then its controls (the same iterations as the ticket)."""
        c = self.config
        count = 1 + (len(c.controls) if round_index else 0)
        return [c.iterations - c.start_iteration(round_index)] * count

    def nothing_left(self) -> str:
        rounds = len(self.results["rounds"])
        return (f"nothing left to train: {rounds} rounds (0 to {rounds - 1}) already in "
                f"{self.directory.path}")

    def run(self) -> dict:
        if self.auto:
            raise ValueError("rewind_iteration: got 'auto', expected an iteration chosen "
                             "before the run (sweep.late_reset.run_lottery searches it)")
        self.recover()
        return super().run()

    def recover(self) -> None:
        """Forget the finished rounds from the first whose checkpoint is not intact: they
        train again, to the results of a run never damaged. The reset weights (init.npz,
        rewind.npz) cannot be made again without losing every round: DamagedFileError."""
        rounds, directory = self.results["rounds"], self.directory
        resets = ("init", "rewind") if self.config.reset == "rewind" else ("init",)
        for name in resets if rounds else ():
            problem = directory.checkpoint_problem(name)
            if problem is not None:
                raise DamagedFileError(directory.checkpoint_path(name), problem,
                                       directory.start_again())
        damaged = next(((r, problem) for r in range(len(rounds))
                        if (problem := directory.checkpoint_problem(round_name(r)))), None)
        if damaged is None:
            return
        first, problem = damaged
        self.results["rounds"] = rounds[:first]
        for name, records in self.results["controls"].items():
            self.results["controls"][name] = [c for c in records if c["round"] < first]
        for later in range(first, len(rounds)):
            directory.forget_checkpoint(round_name(later))
        intact = (f"rounds 0 to {first - 1} are intact" if first > 1 else
                  "round 0 is intact" if first == 1 else "no round is intact")
        if self.context.log is not None:
            self.context.log(f"{directory.checkpoint_path(round_name(first))}: {problem}; "
                             f"retraining from round {first} ({intact})")

    def begin(self, todo: list[int]) -> None:
        rounds = self.results["rounds"]
        if not rounds:
            self.directory.save_checkpoint("init", weights=self.model.state_dict())
        else:
            if self.context.log is not None:
                added = sorted({name for step in todo for name in self._missing_controls(step)
                                if step < len(rounds)})
                self.progress.write(f"resuming {self.directory.path} after round "
                                    f"{len(rounds) - 1}" + (f"; adding {', '.join(added)} to "
                                                            "its rounds" if added else ""))
            # Resume: the last finished round's masks are what the next round prunes further
            if todo[-1] >= len(rounds):
                self.masks = self.directory.load_checkpoint(round_name(len(rounds) - 1))["masks"]

    def run_step(self, round_index: int) -> str:
        if round_index < len(self.results["rounds"]):
            return self._add_round_controls(round_index)
        c = self.config
        started = time.perf_counter()
        if round_index > 0:
            source = round_name(0 if c.strategy == "oneshot" else round_index - 1)
            self.model.load_state_dict(self.directory.load_checkpoint(source)["weights"])
            self.masks = self._prune(round_index, self.masks)
        masks = self.masks
        # Round 0 is the dense network trained from iteration 0
        reset = c.reset if round_index else "init"
        if round_index and c.retrain != "weights":
            # Learning-rate rewinding and fine-tuning keep the weights just pruned
            start_state = self.model.state_dict()
        else:
            start_state = self._start_state(reset, round_index)
        result = self._train(masks, start_state, round_index,
                             f"round {round_index} ({100 * density(masks):.1f}%)")
        if round_index == 0 and c.reset == "rewind":
            self.directory.save_checkpoint("rewind", weights=result.snapshots[c.rewind_iteration])
        # Start weights live in init.npz / rewind.npz; a reinit round keeps its own
        extra = {"start": start_state} if reset == "reinit" else {}
        self.directory.save_checkpoint(round_name(round_index), masks=masks,
                                       weights=self.model.state_dict(), **extra)
        record = round_record(round_index, masks, result, reset=reset, retrain=c.retrain)
        if c.scope == "channel":  # what compact() makes of this round: channels, parameters
            record.update(structured_record(self.model, masks, self.dataset.input_shape))
        controls = self._controls(round_index, masks, start_state) if round_index else {}
        self.results["rounds"].append(record)
        for name, control in controls.items():
            self.results["controls"][name].append(control)
        self.results["meta"]["seconds_last_round"] = time.perf_counter() - started
        annotate_costs(self.results)
        return round_line(record, controls)

    def _add_round_controls(self, round_index: int) -> str:
        """The controls added since ``round_index`` was trained, from its checkpoint."""
        record = self.results["rounds"][round_index]
        stored = self.directory.load_checkpoint(round_name(round_index))
        reset = record.get("reset", self.config.reset)
        start_state = stored["start"] if reset == "reinit" else self._start_state(reset,
                                                                                 round_index)
        names = self._missing_controls(round_index)
        controls = self._controls(round_index, stored["masks"], start_state, names)
        for name, control in controls.items():
            self.results["controls"][name].append(control)
        annotate_costs(self.results)
        return round_line(record, controls, prefix="added to ")

    def _controls(self, round_index: int, masks, start_state,
                  names: list[str] | None = None) -> dict[str, dict]:
        c = self.config
        out = {}
        for name in c.controls if names is None else names:
            if name == "reinit":
                control_masks, state = masks, self._start_state("reinit", round_index)
            else:
                seed = derived_seed(c.seed, round_index, Stream.RANDOM_MASK)
                control_masks, state = random_masks_like(masks, seed), start_state
            result = self._train(control_masks, state, round_index,
                                 f"  {name} ({100 * density(control_masks):.1f}%)")
            out[name] = round_record(round_index, control_masks, result, control=name)
        return out

    def finish(self) -> dict:
        return annotate_costs(self.results)  # a run stored before costs were recorded


def run_lottery(config: LotteryConfig, out_dir, *, dataset: Dataset | None = None,
                backend=None, progress: bool = True, on_round=None, log=print) -> dict:
    """Run (or resume) the lottery experiment ``config`` in ``out_dir``; return its results.

    ``dataset``: train on this Dataset instead of loading ``config.dataset``
    (its name is recorded in the results). ``progress``: the overall line and
    each training's bar (progress.py); ``log``: where the line of each finished
    round goes (None: nowhere). It writes no figure: ``minilottery.plots.plot_run_dir``
    draws them.
    """
    context = RunContext(dataset, backend, progress, log)
    return LotteryRun(config, out_dir, context=context, on_round=on_round).run()

