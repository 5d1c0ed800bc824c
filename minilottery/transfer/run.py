"""A transfer run: at every density of the source, the four networks trained on the target."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from ..data import Dataset
from ..lottery import LotteryRun, round_record
from ..models import build_like
from ..prune import density, output_layer, random_masks_like
from ..recipe import build_model, prepare, round_seed, run_metadata
from ..runner import ResumableRun, RunContext
from ..seeds import Stream, derived_seed
from ..stored_run import StoredRun
from .source import TransferConfig, target_config
from .tickets import transferred_masks, transferred_state


class TransferRun(ResumableRun):
    """One transfer run in one directory; ``run()`` trains every density not yet finished.

    A step is a density of the source (its round r): the target's IMP run up to r
    (resumed in its own directory), then the transferred ticket and its random ticket.
    """

    desc = "tickets"

    def __init__(self, config: TransferConfig, out_dir, *, context: RunContext | None = None,
                 on_density=None):
        super().__init__(out_dir, context, on_density)
        config.validate()
        self.source = StoredRun(config.source).finished(config.model, config.width)
        config = replace(config, source=str(self.source.path.resolve()))
        target_dir = config.target_dir or str(self.directory.path / "target")
        self.config = replace(config, target_dir=str(Path(target_dir).resolve()))
        self.target, self.dataset = prepare(target_config(self.source, self.config),
                                            self.context.dataset)
        if self.dataset.input_shape != self.source.input_shape:
            raise ValueError(f"dataset {self.dataset.name!r}: input shape "
                             f"{self.dataset.input_shape} cannot be matched to the source's "
                             f"{self.source.input_shape}")
        # Built with the run seed: its output layer is the target ticket's initial one
        self.model = build_model(self.target, self.dataset, backend=self.context.backend)
        self.start = transferred_state(self.model, self.source.reset_weights)
        self.open()

    def identity(self) -> dict:
        return {**self.config.to_dict(), "source_config": self.source.config.to_dict(),
                "target_config": self.target.to_dict()}

    def fresh(self) -> dict:
        source_meta = {"dataset": self.source.results["meta"].get("dataset"),
                       "reset": self.source.reset}
        return {"meta": run_metadata(self.target, self.dataset, self.model, source=source_meta,
                                     output_layer=output_layer(self.model)),
                "rounds": [], "controls": {"target_ticket": [], "random_ticket": []},
                "dense": None}

    def steps(self) -> list[int]:
        return list(range(1, len(self.source.rounds)))

    def is_done(self, round_index: int) -> bool:
        results = self.results
        return (results.get("dense") is not None
                and any(r["round"] == round_index for r in results["rounds"])
                and any(r["round"] == round_index for r in results["controls"]["target_ticket"]))

    def trainings(self, round_index: int) -> list[int]:
        """The transferred ticket and its random ticket (the target's run has its own line)."""
        c = self.target
        return [c.iterations - c.start_iteration(round_index)] * 2

    def nothing_left(self) -> str:
        return (f"nothing left to train: {len(self.steps())} densities already in "
                f"{self.directory.path}")

    def _train(self, masks, state, round_index: int, label: str):
        """A ticket on the target, with the target ticket's data order and iterations: from
        the rewind point k to the end when the source reset late, as the target's IMP
        rounds train (lottery.py)."""
        c = self.target
        return self.fit(self.model, c, masks, state, seed=round_seed(c, round_index),
                        start_iteration=c.start_iteration(round_index), description=label)

    def _target_rounds(self, upto: int) -> list[dict]:
        """The target IMP run's rounds 0..upto (trained now if missing; resumable)."""
        run = LotteryRun(replace(self.target, rounds=upto), self.config.target_dir,
                         context=self.context.quiet())
        return run.run()["rounds"][: upto + 1]

    def run_step(self, round_index: int) -> str:
        c, results = self.target, self.results
        target_rounds = self._target_rounds(round_index)
        results["dense"] = target_rounds[0]
        results["controls"]["target_ticket"] = target_rounds[1:]
        if any(r["round"] == round_index for r in results["rounds"]):
            return None
        masks = transferred_masks(self.model, self.source.masks(round_index),
                                  self.config.output_mask,
                                  derived_seed(c.seed, round_index, Stream.TRANSFER_OUTPUT_MASK))
        result = self._train(masks, self.start, round_index,
                             f"transferred ({100 * density(masks):.1f}%)")
        results["rounds"].append(round_record(round_index, masks, result, ticket="transferred",
                                              reset=self.source.reset))
        random_masks = random_masks_like(
            masks, derived_seed(c.seed, round_index, Stream.TRANSFER_RANDOM_MASK))
        state = (self.start if self.config.random_weights == "reset" else
                 build_like(self.model, derived_seed(c.seed, round_index, Stream.TRANSFER_FRESH))
                 .state_dict())
        result = self._train(random_masks, state, round_index, "  random ticket")
        results["controls"]["random_ticket"].append(round_record(round_index, random_masks,
                                                                 result, ticket="random"))
        return density_line(results, round_index)

    def finish(self) -> dict:
        return self.results


def density_line(results: dict, round_index: int) -> str:
    """'density 2 (64.1%): test accuracy at early stop: transferred 97.10%, ...'."""
    def accuracy(records):
        record = next((r for r in records if r["round"] == round_index), None)
        return "n/a" if record is None else f"{100 * record['early_stop_test_accuracy']:.2f}%"

    ticket = next(r for r in results["rounds"] if r["round"] == round_index)
    controls = results["controls"]
    return (f"density {round_index} ({100 * ticket['density']:.1f}%): test accuracy at early "
            f"stop: transferred {accuracy(results['rounds'])}, ticket found on target "
            f"{accuracy(controls['target_ticket'])}, random ticket "
            f"{accuracy(controls['random_ticket'])}")


def run_transfer(config: TransferConfig, out_dir, *, dataset: Dataset | None = None,
                 backend=None, progress: bool = True, on_density=None, log=print) -> dict:
    """Run (or resume) the transfer ``config`` in ``out_dir``; return its results.

    ``dataset``: the target data as a Dataset, instead of loading ``config.dataset``.
    """
    context = RunContext(dataset, backend, progress, log)
    return TransferRun(config, out_dir, context=context, on_density=on_density).run()
