"""``--rewind-iteration auto``: the late-reset point chosen by an experiment, above the engine.

The earliest iteration k from which the dense network trains stably (the
instability analysis, experiments/stability.py) is a result of an
experiment, not a setting: the engine cannot compute it without importing the
floor above it. Here, in orchestration, the search runs once in
<out>/stability (resumable), and the lottery run gets the chosen k as a plain
value (``LotteryRun.choose_rewind``), kept in its meta as "rewind_search".
"""

from __future__ import annotations

from ..config import LotteryConfig
from ..experiments.stability_run import auto_rewind_iteration
from ..lottery import LotteryRun
from ..runner import RunContext


def late_reset_run(config: LotteryConfig, out_dir, *, context: RunContext | None = None,
                   on_round=None) -> LotteryRun:
    """The LotteryRun of ``config`` in ``out_dir``, its "auto" rewind point chosen (searched
    now unless the directory already holds the search); any other config as it is."""
    run = LotteryRun(config, out_dir, context=context, on_round=on_round)
    if run.auto:
        search = run.rewind_search
        if search is None:
            quiet = RunContext(run.dataset, run.context.backend, run.context.progress, None)
            search = auto_rewind_iteration(run.config, run.directory.path / "stability",
                                           context=quiet)[1]
        run.choose_rewind(search)
    return run



def run_lottery(config: LotteryConfig, out_dir, *, dataset=None, backend=None,
                progress: bool = True, on_round=None, log=print) -> dict:
    """``minilottery.lottery.run_lottery`` for every ``rewind_iteration``, "auto" included
    (searched here first)."""
    context = RunContext(dataset, backend, progress, log)
    return late_reset_run(config, out_dir, context=context, on_round=on_round).run()
