"""A lottery run read back from its directory: the one reader every later experiment uses.

Transfer, the instability analysis of a ticket, pruning at initialisation and
supermasks all start from a lottery run that ``LotteryRun`` wrote: its
resolved configuration, the weights it resets to (init.npz, rewind.npz), the
masks and trained weights of each round (round_NN.npz). ``StoredRun`` reads
them, with one clear error for a directory that is not such a run, and names
the round checkpoints (``round_name``) for the writer as well. Every checkpoint
is checked against the size and sha256 results.json recorded before it is used
(runs.py); a file that is not intact is named with what to do.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

import numpy as np

from .config import LotteryConfig
from .runs import DamagedFileError, RunDirectory


def round_name(round_index: int) -> str:
    """The checkpoint of a round: round_00, round_01, ..."""
    return f"round_{round_index:02d}"


class StoredRun:
    """A lottery run directory read: ``config``, ``rounds``, ``weights(name)``, ``masks(r)``.

    ``StoredRun(path)`` checks that ``path`` holds a lottery run's results;
    ``finished()`` also that every round is done and that it has a ticket.
    """

    def __init__(self, path: str | Path, role: str = "source"):
        self.directory = RunDirectory(path)
        self.role = role  # the argument the errors name ("source", "--ticket", ...)
        self.not_run = f"{role}: {self.directory.path} is not a finished lottery run"
        if not self.directory.has_results():
            raise ValueError(f"{self.not_run}: it has no results.json (expected the --out of "
                             "`minilottery lottery`)")
        self.results = self.directory.load_results()
        if "config" not in self.results:
            raise DamagedFileError(self.directory.results_path, "not the results of a lottery "
                                   "run (it has no config)", "expected the --out of "
                                   "`minilottery lottery`")
        stored = self.results["config"]
        if "source" in stored:
            raise ValueError(f"{self.not_run}: it is a transfer run (of {stored['source']})")
        try:
            self.config = LotteryConfig.from_dict(stored)
        except (TypeError, ValueError) as error:
            raise ValueError(f"{self.not_run}: its config is not a lottery config "
                             f"({error})") from None

    @property
    def path(self) -> Path:
        return self.directory.path

    @property
    def rounds(self) -> list[dict]:
        """The finished rounds' records, round 0 first."""
        return self.results.get("rounds", [])

    @property
    def reset(self) -> str:
        """The checkpoint a ticket's weights come from: "rewind" or "init"."""
        return self.config.reset

    @cached_property
    def input_shape(self) -> tuple[int, int, int]:
        shape = self.results.get("meta", {}).get("dataset", {}).get("input_shape")
        if shape is None or len(shape) != 3:
            raise ValueError(f"{self.not_run}: results.json has no meta.dataset.input_shape "
                             "(C, H, W)")
        return tuple(int(d) for d in shape)

    def finished(self, model: str | None = None, width: float | None = None) -> StoredRun:
        """This run, checked to be finished with a ticket (and to be a ``model`` of
        ``width`` when given); clear errors otherwise."""
        config, rounds, path = self.config, self.rounds, self.path
        if config.rounds is None or len(rounds) != config.rounds + 1:
            raise ValueError(f"{self.not_run}: {len(rounds)} of its {config.rounds}+1 rounds "
                             "are finished; run the same `minilottery lottery` command to "
                             "finish it")
        if len(rounds) < 2:
            raise ValueError(f"{self.not_run} with pruned rounds: it has round 0 only, no "
                             "ticket")
        if config.reset not in ("rewind", "init"):
            raise ValueError(f"{self.role}: {path} was run with reset {config.reset!r}, "
                             "expected 'rewind' or 'init' (a reinit run has no winning "
                             "ticket)")
        if model is not None and model != config.model:
            raise ValueError(f"model: got {model!r}, but the source run {path} is a "
                             f"{config.model!r}; expected the source's architecture")
        if width is not None and float(width) != float(config.width):
            raise ValueError(f"width: got {width!r}, but the source run {path} has width "
                             f"{config.width}; expected the source's width")
        self.input_shape  # noqa: B018 (checked here, read later)
        for name in [config.reset] + [round_name(r) for r in range(len(rounds))]:
            self.check(name)
        return self

    def advice(self, name: str) -> str:
        """What to do about checkpoint ``name`` when it is not intact."""
        if name.startswith("round_"):
            return (f"run the same `minilottery lottery` command (--out {self.path}) to "
                    "retrain it: it starts again from the last intact round")
        return self.directory.start_again()

    def check(self, name: str) -> None:
        """DamagedFileError when checkpoint ``name`` is missing, truncated, damaged or foreign."""
        problem = self.directory.checkpoint_problem(name)
        if problem is not None:
            raise DamagedFileError(self.directory.checkpoint_path(name), problem,
                                   self.advice(name))

    def check_round(self, round_index: int) -> int:
        """``round_index`` if that round is finished, else a ValueError listing those that are."""
        done = [r["round"] for r in self.rounds]
        if round_index not in done:
            raise ValueError(f"round: got {round_index}, expected one of the finished rounds "
                             f"{done} of {self.path}")
        return round_index

    def check_pruned_rounds(self, rounds) -> list[int]:
        """The finished pruned rounds (> 0) among ``rounds`` (None: all of them); a
        ValueError naming the value and those available when one is not one of them."""
        pruned = [r["round"] for r in self.rounds if r["round"] > 0]
        for r in rounds or ():
            if r not in pruned:
                raise ValueError(f"rounds: got {r}, expected one of the finished pruned rounds "
                                 f"{pruned} of {self.path}"
                                 + (" (round 0 is the dense network)" if r == 0 else ""))
        return [r for r in pruned if rounds is None or r in rounds]

    def weights(self, name: str = "init") -> dict[str, np.ndarray]:
        """The weights of checkpoint ``name``: "init" (iteration 0), "rewind" (iteration k)."""
        return self.directory.load_checkpoint(name, self.advice(name))["weights"]

    @cached_property
    def reset_weights(self) -> dict[str, np.ndarray]:
        """The weights a ticket of this run starts from (its reset's checkpoint)."""
        return self.weights(self.reset)

    def checkpoint(self, round_index: int) -> dict[str, dict[str, np.ndarray]]:
        """Round ``round_index``'s masks and trained weights."""
        name = round_name(round_index)
        return self.directory.load_checkpoint(name, self.advice(name))

    def masks(self, round_index: int) -> dict[str, np.ndarray]:
        """The masks of round ``round_index`` (all ones for round 0)."""
        return self.checkpoint(round_index)["masks"]
