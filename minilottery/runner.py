"""The resumable runner every experiment shares: identity -> directory -> progress -> train ->
record -> save.

An experiment (the lottery, transfer, the instability analysis, pruning at
initialisation, supermasks) is a list of steps (a round, a density, a pair
of copies at k, a method at a round). ``ResumableRun`` opens the run
directory with the experiment's identity (a directory of another
configuration is refused, runs.py), skips the steps already recorded, draws
the overall line over the rest (progress.py) and saves the results after
each step, so the same call on the same directory resumes after the last
finished step. A subclass writes only what a step trains and what it records:

    identity()       what must match on resume (the "config" of results.json)
    fresh()          the rest of a new directory's results
    derived()        the identity keys not given, with what they are derived from
    steps()          every step of the run, in order
    is_done(step)    whether the results already hold it
    run_step(step)   train it, append its records; return the line it leaves in the log

and, when it needs them, ``trainings(step)`` (the iterations of each of the
step's trainings, for the time estimate), ``begin(todo)`` (work shared by the
steps left), ``stop(step)`` (end early) and ``finish()`` (the last touches).
``fit`` trains a masked network with the run's recipe and ticks the overall line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .data import Dataset
from .progress import RunProgress, training_line
from .recipe import train_masked
from .runs import RunDirectory


@dataclass(frozen=True)
class RunContext:
    """Where a run trains and what it tells: the four settings every runner passes on.

    ``dataset``: train on this Dataset instead of loading the config's; ``backend``:
    the array backend (None: the default); ``progress``: draw the bars; ``log``: where
    the lines of finished steps go (None: nowhere).
    """

    dataset: Dataset | None = None
    backend: object = None
    progress: bool = True
    log: Callable[[str], None] | None = print

    def quiet(self) -> RunContext:
        """The same context with no log (a run nested in another)."""
        return RunContext(self.dataset, self.backend, self.progress, None)


class ResumableRun:
    """One experiment in one run directory; ``run()`` does every step not yet done."""

    desc = "trainings"  # what the overall line counts
    ignore: tuple[str, ...] = ()  # identity keys that may differ on resume

    def __init__(self, out_dir, context: RunContext | None = None, on_step=None):
        self.directory = RunDirectory(out_dir)
        self.context = context or RunContext()
        self.on_step = on_step or (lambda results: None)
        self.results: dict = {}
        self.dataset: Dataset | None = None  # what ``fit`` trains on (set by the subclass)
        self.progress: RunProgress | None = None
        self._ticks = 0

    # -- what an experiment writes ------------------------------------------------------

    def identity(self) -> dict:
        raise NotImplementedError

    def fresh(self) -> dict:
        return {}

    def derived(self) -> dict[str, str]:
        """Identity keys the user did not give, each with what it is derived from (named so
        in the message about a directory of another configuration)."""
        return {}

    def steps(self) -> list:
        raise NotImplementedError

    def is_done(self, step) -> bool:
        raise NotImplementedError

    def run_step(self, step) -> str | None:
        raise NotImplementedError

    def trainings(self, step) -> list[int]:
        return [1]

    def begin(self, todo: list) -> None:
        """Before the first step left (``todo``: the steps left)."""

    def stop(self, step) -> bool:
        """True to end the run after ``step``."""
        return False

    def finish(self) -> dict:
        """The results returned, after the last step (saved again)."""
        self.directory.save_results(self.results)
        return self.results

    def nothing_left(self) -> str:
        return f"nothing left to train: every step is already in {self.directory.path}"

    # -- the loop they share ------------------------------------------------------------

    def open(self) -> dict:
        """The results to continue: the directory's, or a new directory's (written at once,
        so a run stopped during its first step resumes instead of being refused)."""
        identity = self.identity()
        self.results = self.directory.open(identity, {"config": identity, **self.fresh()},
                                           ignore=self.ignore, derived=self.derived())
        if not self.directory.has_results():
            self.directory.save_results(self.results)
        return self.results

    def fit(self, model, config, masks, start_state, *, seed: int, description: str,
            **options):
        """``train_masked`` with this run's bars; one more training on the overall line."""
        result = train_masked(model, self.dataset, config, masks, start_state,
                              seed=seed, progress=self.context.progress,
                              description=description, **options)
        self.tick(line=training_line(description, result))
        return result

    def tick(self, count: int = 1, line: str | None = None) -> None:
        """``count`` trainings of the current step are done (``line``: what the last found)."""
        if self.progress is not None:
            self.progress.finished(count, line)
            self._ticks += count

    def planned_trainings(self) -> list[int]:
        """The iterations of every training of the run, in order (the time estimate's base)."""
        return [n for step in self.steps() for n in self.trainings(step)]

    def trainings_done(self) -> int:
        """How many of ``planned_trainings`` the stored results already hold."""
        return sum(len(self.trainings(step)) for step in self.steps() if self.is_done(step))

    def run(self) -> dict:
        steps = self.steps()
        todo = [step for step in steps if not self.is_done(step)]
        log = self.context.log
        if not todo:
            if log is not None:
                log(self.nothing_left())
            return self.finish()
        with RunProgress(self.planned_trainings(), done=self.trainings_done(),
                         bars=self.context.progress, log=log,
                         desc=self.desc) as self.progress:
            self.begin(todo)
            for step in todo:
                self._ticks = 0
                line = self.run_step(step)
                self.directory.save_results(self.results)
                # the step's trainings not ticked by fit (a step that evaluates only)
                self.progress.finished(max(0, len(self.trainings(step)) - self._ticks))
                if line:
                    self.progress.write(line)
                self.on_step(self.results)
                if self.stop(step):
                    break
        self.progress = None
        return self.finish()
