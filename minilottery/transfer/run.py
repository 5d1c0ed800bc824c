"""A transfer run: at every density of the source, the four networks trained on the target."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from ..data import Dataset
from ..lottery import round_record, run_lottery
from ..models import build_like
from ..progress import RunProgress
from ..prune import density, output_layer, random_masks_like
from ..recipe import build_model, prepare, round_seed, run_metadata, train_masked
from ..runs import RunDirectory
from ..seeds import Stream, derived_seed
from .source import TransferConfig, load_source, target_config
from .tickets import transferred_masks, transferred_state


class TransferRun:
    """One transfer run in one directory; ``run()`` trains every density not yet finished."""

    def __init__(self, config: TransferConfig, out_dir, *, dataset: Dataset | None = None,
                 backend=None, progress: bool = True, on_density=None, log=print):
        config.validate()
        self.log = log
        self.source = load_source(config.source, config.model, config.width)
        config = replace(config, source=str(self.source.directory.path.resolve()))
        self.directory = RunDirectory(out_dir)
        target_dir = config.target_dir or str(self.directory.path / "target")
        self.config = replace(config, target_dir=str(Path(target_dir).resolve()))
        self.target, self.dataset = prepare(target_config(self.source, self.config), dataset)
        if self.dataset.input_shape != self.source.input_shape:
            raise ValueError(f"dataset {self.dataset.name!r}: input shape "
                             f"{self.dataset.input_shape} cannot be matched to the source's "
                             f"{self.source.input_shape}")
        self.given_dataset = dataset
        self.backend, self.progress = backend, progress
        self.on_density = on_density or (lambda results: None)
        c = self.target
        # Built with the run seed: its output layer is the target ticket's initial one
        self.model = build_model(c, self.dataset, backend=backend)
        self.start = transferred_state(self.model, self.source.weights)
        stored = {**self.config.to_dict(), "source_config": self.source.config.to_dict(),
                  "target_config": c.to_dict()}
        source_meta = {"dataset": self.source.results["meta"].get("dataset"),
                       "reset": self.source.reset}
        fresh = {
            "config": stored,
            "meta": run_metadata(c, self.dataset, self.model, source=source_meta,
                                 output_layer=output_layer(self.model)),
            "rounds": [],
            "controls": {"target_ticket": [], "random_ticket": []},
            "dense": None,
        }
        self.results = self.directory.open(stored, fresh)
        if not self.directory.has_results():
            # Written at once, so an interrupted first density leaves a resumable directory
            self.directory.save_results(self.results)

    def _train(self, masks, state, round_index: int, label: str):
        """A ticket on the target, with the target ticket's data order and iterations: from
        the rewind point k to the end when the source reset late, as the target's IMP
        rounds train (lottery.py)."""
        c = self.target
        start = c.rewind_iteration if self.source.reset == "rewind" else 0
        return train_masked(self.model, self.dataset, c, masks, state,
                            seed=round_seed(c, round_index), start_iteration=start,
                            progress=self.progress, description=label)

    def _target_rounds(self, upto: int) -> list[dict]:
        """The target IMP run's rounds 0..upto (trained now if missing; resumable)."""
        run = run_lottery(replace(self.target, rounds=upto), self.config.target_dir,
                          dataset=self.given_dataset, backend=self.backend,
                          progress=self.progress, log=None)
        return run["rounds"][: upto + 1]

    def run(self) -> dict:
        """Every density of the source not yet done, with an overall line over them
        (progress.py) and a line for each as it finishes."""
        densities = len(self.source.rounds) - 1
        done = len({r["round"] for r in self.results["rounds"]})
        if done >= densities and self.results.get("dense") is not None:
            if self.log is not None:
                self.log(f"nothing left to train: {densities} densities already in "
                         f"{self.directory.path}")
            return self.results
        with RunProgress([1] * densities, done=done, bars=self.progress, log=self.log,
                         desc="densities") as progress:
            return self._run(progress)

    def _run(self, progress: RunProgress) -> dict:
        c, results = self.target, self.results
        controls = results["controls"]
        for round_index in range(1, len(self.source.rounds)):
            target_rounds = self._target_rounds(round_index)
            results["dense"] = target_rounds[0]
            controls["target_ticket"] = target_rounds[1:]
            done = {r["round"] for r in results["rounds"]}
            if round_index not in done:
                masks = transferred_masks(self.model, self.source.masks(round_index),
                                          self.config.output_mask,
                                          derived_seed(c.seed, round_index,
                                                       Stream.TRANSFER_OUTPUT_MASK))
                label = f"transferred ({100 * density(masks):.1f}%)"
                result = self._train(masks, self.start, round_index, label)
                results["rounds"].append(round_record(round_index, masks, result,
                                                      ticket="transferred",
                                                      reset=self.source.reset))
                random_masks = random_masks_like(
                    masks, derived_seed(c.seed, round_index, Stream.TRANSFER_RANDOM_MASK))
                state = (self.start if self.config.random_weights == "reset" else
                         build_like(self.model,
                                    derived_seed(c.seed, round_index, Stream.TRANSFER_FRESH))
                         .state_dict())
                result = self._train(random_masks, state, round_index, "  random ticket")
                controls["random_ticket"].append(round_record(round_index, random_masks,
                                                              result, ticket="random"))
                progress.finished()
                progress.write(density_line(results, round_index))
            self.directory.save_results(results)
            self.on_density(results)
        return results


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
    return TransferRun(config, out_dir, dataset=dataset, backend=backend, progress=progress,
                       on_density=on_density, log=log).run()
